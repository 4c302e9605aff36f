//! No panic reaches the user raw. The engine catches panics inside rules and reports
//! them as input errors naming the file; the default hook would still dump each one on
//! stderr first, so a quiet hook replaces it and keeps the last panic's location for
//! the one report the top level prints if a panic escapes everything.

use std::any::Any;
use std::panic;
use std::sync::Mutex;

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Installs the quiet hook. With `RUST_BACKTRACE` set (someone debugging fork-lint),
/// the default hook runs too.
pub fn install() {
    let verbose = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(location);
        }
        if verbose {
            default(info);
        }
    }));
}

/// The message of a caught panic, with where it happened when the hook saw it.
pub fn describe(payload: &(dyn Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    let location = LAST_PANIC.lock().ok().and_then(|mut l| l.take());
    match location {
        Some(at) if !at.is_empty() => format!("{message} (at {at})"),
        _ => message,
    }
}
