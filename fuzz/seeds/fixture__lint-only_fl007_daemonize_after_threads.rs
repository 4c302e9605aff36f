//! FL007 (daemonize): `Daemonize::start` forks after a metrics thread started; the
//! daemon keeps only the thread that called `start`. Lint-only.
//@ rule: FL007
//@ kind: hazard
use daemonize::Daemonize;

fn main() {
    let _metrics = std::thread::spawn(|| loop {
        std::thread::park();
    });
    let daemon = Daemonize::new().pid_file("/tmp/app.pid").working_directory("/tmp");
    match daemon.start() { //~ FL007
        Ok(_) => run_service(),
        Err(e) => eprintln!("cannot daemonize: {e}"),
    }
}

fn run_service() {}
