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

use std::marker::PhantomData;

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
        postcard::to_allocvec(value).map_err(|e| Error::Decode {
            task: task.to_string(),
            message: format!("cannot serialize `{}`: {e}", std::any::type_name::<A>()),
        })
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
