//! `fork-lint-hook PATH…`: the binary pre-commit builds for the `fork-lint` hook
//! (`.pre-commit-hooks.yaml`); the same program as `fork-lint PATH…`.

fn main() -> std::process::ExitCode {
    cargo_fork_lint::main(cargo_fork_lint::Binary::Files)
}
