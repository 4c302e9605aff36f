//! `cargo fork-lint`: lints the package or workspace in the current directory. Cargo
//! runs it as `cargo-fork-lint fork-lint ARGS…`; running it directly works too.

fn main() -> std::process::ExitCode {
    cargo_fork_lint::main(cargo_fork_lint::Binary::Cargo)
}

/// See the workspace manifest for why.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
