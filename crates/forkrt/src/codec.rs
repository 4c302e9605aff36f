//! Argument codecs, chosen per task at its concrete argument type.
//!
//! Stable Rust cannot ask "is this generic `A` Serialize?" inside a generic
//! function. `#[forkrt::task]` sees the concrete type, so it uses autoref-based
//! specialization: the call `(&&Codec::<A>::new()).encode_args(..)` resolves
//! to [`SerdeCodec`] (implemented for `&Codec<A>` when `A: Serialize +
//! DeserializeOwned`) and otherwise falls back, one auto-deref later, to
//! [`NoCodec`] (implemented for every `Codec<A>`), which fails at run time with
//! `Error::NotSerializable`. So a `File` argument compiles under every start
//! method and only `start()` under spawn/forkserver reports the problem —
//! exactly as Python's pickling error does.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::os::fd::{OwnedFd, RawFd};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Zero-sized codec selector for argument type `A`.
#[doc(hidden)]
pub struct Codec<A>(PhantomData<fn() -> A>);

impl<A> Codec<A> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Codec(PhantomData)
    }
}

/// The serde path (postcard), picked when `A: Serialize + DeserializeOwned`.
#[doc(hidden)]
pub trait SerdeCodec<A> {
    fn encode_args(&self, task: &str, value: &A) -> Result<Vec<u8>>;
    fn decode_args(&self, task: &str, bytes: &[u8]) -> Result<A>;
}

impl<A: Serialize + DeserializeOwned> SerdeCodec<A> for &Codec<A> {
    fn encode_args(&self, task: &str, value: &A) -> Result<Vec<u8>> {
        encode_limited(task, value, crate::state::max_arg_bytes())
    }

    fn decode_args(&self, task: &str, bytes: &[u8]) -> Result<A> {
        match postcard::take_from_bytes::<A>(bytes) {
            Ok((v, [])) => Ok(v),
            Ok((_, rest)) => Err(Error::Decode {
                task: task.to_string(),
                message: format!(
                    "cannot deserialize `{}`: {} unexpected trailing bytes",
                    std::any::type_name::<A>(),
                    rest.len()
                ),
            }),
            Err(e) => Err(Error::Decode {
                task: task.to_string(),
                message: format!("cannot deserialize `{}`: {e}", std::any::type_name::<A>()),
            }),
        }
    }
}

/// Encodes `value` with postcard after checking its encoded size against
/// `limit` (a counting pass that allocates nothing), so that an argument over
/// the limit costs no memory and the buffer is allocated once, exactly.
pub(crate) fn encode_limited<T: Serialize + ?Sized>(
    task: &str,
    value: &T,
    limit: usize,
) -> Result<Vec<u8>> {
    let failed = |e: postcard::Error| Error::Decode {
        task: task.to_string(),
        message: format!("cannot serialize `{}`: {e}", std::any::type_name::<T>()),
    };
    // The counting pass must not record descriptors twice.
    let mark = fds_collected();
    let size = postcard::serialize_with_flavor::<T, postcard::ser_flavors::Size, usize>(
        value,
        postcard::ser_flavors::Size::default(),
    );
    truncate_fds(mark);
    let size = size.map_err(failed)?;
    if size > limit {
        return Err(Error::ArgumentTooLarge {
            task: task.to_string(),
            size,
            limit,
        });
    }
    postcard::serialize_with_flavor(value, ExactVec(Vec::with_capacity(size))).map_err(failed)
}

/// A postcard output into a buffer allocated once at the known size (copies
/// slices with `extend_from_slice`, so a large byte string is one memcpy).
struct ExactVec(Vec<u8>);

impl postcard::ser_flavors::Flavor for ExactVec {
    type Output = Vec<u8>;

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// The encoded size of `value` (a counting pass that allocates nothing and
/// records no descriptor).
pub(crate) fn encoded_size<T: Serialize + ?Sized>(value: &T) -> postcard::Result<usize> {
    let mark = fds_collected();
    let size = postcard::serialize_with_flavor::<T, postcard::ser_flavors::Size, usize>(
        value,
        postcard::ser_flavors::Size::default(),
    );
    truncate_fds(mark);
    size
}

thread_local! {
    /// Descriptors met while encoding (queues, connections), in order; `None`
    /// when no encoding that can pass descriptors is under way.
    static OUT_FDS: RefCell<Option<Vec<RawFd>>> = const { RefCell::new(None) };
    /// Descriptors received with the message being decoded.
    static IN_FDS: RefCell<Option<Vec<Option<OwnedFd>>>> = const { RefCell::new(None) };
}

/// Runs `f` (an encoding) collecting the descriptors that values inside it
/// register with [`pass_fd`]; returns them in order.
pub(crate) fn encoding_with_fds<T>(f: impl FnOnce() -> T) -> (T, Vec<RawFd>) {
    let outer = OUT_FDS.with(|c| c.replace(Some(Vec::new())));
    let out = f();
    let fds = OUT_FDS.with(|c| c.replace(outer)).unwrap_or_default();
    (out, fds)
}

fn fds_collected() -> usize {
    OUT_FDS.with(|c| c.borrow().as_ref().map_or(0, Vec::len))
}

fn truncate_fds(n: usize) {
    OUT_FDS.with(|c| {
        if let Some(v) = c.borrow_mut().as_mut() {
            v.truncate(n);
        }
    });
}

/// Registers `fd` to travel with the message being encoded; returns its
/// index, or `None` when the encoding cannot carry descriptors.
pub(crate) fn pass_fd(fd: RawFd) -> Option<u32> {
    OUT_FDS.with(|c| {
        let mut c = c.borrow_mut();
        let v = c.as_mut()?;
        v.push(fd);
        Some((v.len() - 1) as u32)
    })
}

/// Runs `f` (a decoding) with the descriptors that arrived with the message;
/// those not taken by [`take_fd`] are closed afterwards.
pub(crate) fn decoding_with_fds<T>(fds: Vec<OwnedFd>, f: impl FnOnce() -> T) -> T {
    let outer = IN_FDS.with(|c| c.replace(Some(fds.into_iter().map(Some).collect())));
    let out = f();
    IN_FDS.with(|c| c.replace(outer));
    out
}

/// Takes the descriptor at `index` of the message being decoded.
pub(crate) fn take_fd(index: u32) -> Option<OwnedFd> {
    IN_FDS.with(|c| c.borrow_mut().as_mut()?.get_mut(index as usize)?.take())
}

/// The fallback for types that cannot serialize.
#[doc(hidden)]
pub trait NoCodec<A> {
    fn encode_args(&self, task: &str, value: &A) -> Result<Vec<u8>>;
    fn decode_args(&self, task: &str, bytes: &[u8]) -> Result<A>;
}

impl<A> NoCodec<A> for Codec<A> {
    fn encode_args(&self, _task: &str, _value: &A) -> Result<Vec<u8>> {
        Err(Error::NotSerializable {
            type_name: std::any::type_name::<A>(),
        })
    }

    fn decode_args(&self, _task: &str, _bytes: &[u8]) -> Result<A> {
        Err(Error::NotSerializable {
            type_name: std::any::type_name::<A>(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;

    #[test]
    fn serializable_types_take_the_serde_path() {
        let bytes = (&&Codec::<(u32, String)>::new())
            .encode_args("t", &(7, "seven".to_string()))
            .unwrap();
        let back: (u32, String) = (&&Codec::<(u32, String)>::new())
            .decode_args("t", &bytes)
            .unwrap();
        assert_eq!(back, (7, "seven".to_string()));
    }

    #[test]
    fn other_types_fail_at_run_time_naming_the_type() {
        let err = (&&Codec::<std::fs::File>::new()).decode_args("t", &[]);
        match err {
            Err(Error::NotSerializable { type_name }) => assert_eq!(type_name, "std::fs::File"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn truncated_input_is_a_decode_error() {
        let bytes = (&&Codec::<String>::new())
            .encode_args("t", &"hello".to_string())
            .unwrap();
        let r = (&&Codec::<String>::new()).decode_args("t", &bytes[..3]);
        assert!(matches!(r, Err(Error::Decode { .. })), "{r:?}");
    }
}
