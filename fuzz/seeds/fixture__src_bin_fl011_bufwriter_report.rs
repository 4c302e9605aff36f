//! FL011: a `BufWriter` holds the report header at the fork; the child writes a row
//! and flushes, then the parent does the same: the header appears twice.
//@ rule: FL011
//@ kind: hazard
//@ run fork: duplicated-output
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};
use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let mut out = BufWriter::new(std::io::stdout());
    writeln!(out, "[once] name,status")?;
    match unsafe { fork() }? { //~ FL011
        ForkResult::Child => {
            writeln!(out, "child,ok").ok();
            out.flush().ok();
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            waitpid(child, None)?;
        }
    }
    writeln!(out, "parent,ok")?;
    out.flush()
}
