//! FL004 in a library function (its callers may have threads): the child converts an
//! error into `Box<dyn Error>` with `?` and builds a `CString`. Lint-only.
//@ rule: FL004
//@ kind: hazard
use std::error::Error;
use std::ffi::CString;

pub fn run_detached(program: &str) -> Result<(), Box<dyn Error>> {
    let pid = unsafe { libc::fork() }; //~ FL007
    if pid == 0 { //~ FL005
        let prog = CString::new(program)?; //~ FL004 FL004
        // (the `?` above also returns into the caller, in the child: FL005 on the branch)
        unsafe {
            libc::execv(prog.as_ptr(), [prog.as_ptr(), std::ptr::null()].as_ptr());
            libc::_exit(127)
        }
    }
    if pid < 0 {
        return Err("fork failed".into());
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    Ok(())
}
