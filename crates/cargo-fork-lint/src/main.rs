//! `fork-lint PATH…`: lints files and directories (what pre-commit calls).

fn main() -> std::process::ExitCode {
    cargo_fork_lint::main(cargo_fork_lint::Binary::Files)
}

/// See the workspace manifest for why.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
