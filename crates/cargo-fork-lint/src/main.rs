//! `fork-lint PATH…`: lints files and directories (what pre-commit calls).

fn main() -> std::process::ExitCode {
    cargo_fork_lint::main(cargo_fork_lint::Binary::Files)
}
