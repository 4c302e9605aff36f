//! The task registry: every `#[forkrt::task]` function adds one
//! [`TaskEntry`] to a linker-collected slice.
//!
//! The parent finds a target's entry by the `TypeId` of the function item
//! (every fn item has its own unique zero-sized type, even when rustc merges
//! two identical function bodies into one address); it sends the entry's
//! stable *name* to the child, and the child — the same binary — finds the
//! entry by that name. No addresses cross the process boundary, so ASLR and
//! identical-code folding cannot confuse the lookup.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::OnceLock;

use linkme::distributed_slice;

use crate::error::Result;

/// Decodes a task's argument and returns the call, ready to run.
#[doc(hidden)]
pub type DecodeFn = fn(&[u8]) -> Result<Box<dyn FnOnce()>>;

/// One registered task. Built by `#[forkrt::task]`; not meant to be written
/// by hand.
#[doc(hidden)]
pub struct TaskEntry {
    /// `module_path!()::fn_name`.
    pub name: &'static str,
    /// `file!():line!():column!()` of the function, to tell apart two
    /// same-named functions declared in different blocks of one module.
    pub site: &'static str,
    /// `TypeId` of the function item's own type.
    pub fn_type_id: fn() -> TypeId,
    /// `TypeId` of the argument type.
    pub arg_type_id: fn() -> TypeId,
    /// `type_name` of the argument type.
    pub arg_type_name: fn() -> &'static str,
    /// Serializes the argument (passed as `&dyn Any` of the argument type),
    /// or fails with `Error::NotSerializable` if the type cannot serialize.
    pub encode: fn(&dyn Any) -> Result<Vec<u8>>,
    /// Deserializes the argument and returns the call, ready to run (a
    /// `Process` discards the result).
    pub decode: DecodeFn,
    /// Serializes a chunk of arguments (a `Vec` of the argument type, passed
    /// as `&dyn Any`): a pool sends many tiny tasks as one encoding.
    pub encode_many: fn(&dyn Any) -> Result<Vec<u8>>,
    /// Deserializes a chunk, runs the task on each argument catching panics,
    /// and encodes the `Vec<Result<R, String>>` (a panic's message).
    pub call_many: fn(&[u8]) -> Result<Vec<u8>>,
    /// Deserializes what `call_many` encoded (boxed as
    /// `Vec<Result<R, String>>`).
    pub decode_many: fn(&[u8]) -> Result<Box<dyn Any>>,
    /// `TypeId` of the return type.
    pub ret_type_id: fn() -> TypeId,
}

/// Runs `f`, turning a panic into its message.
#[doc(hidden)]
pub fn catch_panic<R>(f: impl FnOnce() -> R) -> std::result::Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic with a non-string payload".to_string()
        };
        // Dropping a panic payload can itself panic; never risk it here.
        std::mem::forget(payload);
        message
    })
}

/// Every `#[forkrt::task]` of the program, collected by the linker.
#[doc(hidden)]
#[distributed_slice]
pub static TASKS: [TaskEntry];

struct Index {
    by_type: HashMap<TypeId, &'static TaskEntry>,
    by_name: HashMap<(&'static str, &'static str), &'static TaskEntry>,
    fingerprint: u64,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut by_type = HashMap::new();
        let mut by_name = HashMap::new();
        let mut fp = Fnv::new();
        fp.add(&(TASKS.len() as u64).to_le_bytes());
        for e in TASKS.iter() {
            by_type.insert((e.fn_type_id)(), e);
            by_name.insert((e.name, e.site), e);
            fp.add(e.name.as_bytes());
            fp.add(b"\0");
            fp.add(e.site.as_bytes());
            fp.add(b"\0");
            fp.add((e.arg_type_name)().as_bytes());
            fp.add(b"\0");
        }
        Index {
            by_type,
            by_name,
            fingerprint: fp.0,
        }
    })
}

/// The entry of the task whose function item type is `fn_type`.
pub(crate) fn by_fn_type(fn_type: TypeId) -> Option<&'static TaskEntry> {
    index().by_type.get(&fn_type).copied()
}

/// The entry registered under `name` at `site`.
pub(crate) fn by_name(name: &str, site: &str) -> Option<&'static TaskEntry> {
    index().by_name.get(&(name, site)).copied()
}

/// A digest of the whole registry (names, sites, argument types). Parent and
/// child compare it, so a child that is not the same build (a binary
/// replaced on disk, where /proc/self/exe is not available) is detected
/// instead of silently decoding bytes as the wrong type.
pub(crate) fn fingerprint() -> u64 {
    index().fingerprint
}

/// FNV-1a: deterministic across processes (unlike `RandomState`).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The entry of a registered fn item, by its type.
pub(crate) fn entry_of<F: 'static>() -> Option<&'static TaskEntry> {
    by_fn_type(TypeId::of::<F>())
}

/// Returns the `TypeId` of a value's type; the macro applies it to the
/// function item (`&work`) to get the fn item's own type.
#[doc(hidden)]
pub fn type_id_of_val<T: 'static>(_: &T) -> TypeId {
    TypeId::of::<T>()
}
