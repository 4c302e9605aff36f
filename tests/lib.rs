//! Shared harness code of the workspace-level tests.
