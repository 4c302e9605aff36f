//! FL002 (the fork crate's `daemon`): the configuration lock is held while the process
//! daemonizes, and the daemon takes it again. Lint-only.
//@ rule: FL002
//@ kind: hazard
use fork::{Fork, daemon};
use std::sync::Mutex;

static CONFIG: Mutex<Option<String>> = Mutex::new(None);

fn main() {
    let config = CONFIG.lock().unwrap();
    if config.is_none() {
        println!("no configuration, using defaults");
    }
    if let Ok(Fork::Child) = daemon(false, false) { //~ FL002
        let current = CONFIG.lock().unwrap().clone();
        serve(current);
    }
}

fn serve(_config: Option<String>) {}
