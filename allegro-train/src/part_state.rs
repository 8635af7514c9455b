//! How the optimizers and schedulers of this crate encode their state for a checkpoint
//! (postcard), kept apart from the checkpoint format so that a part's file does not
//! import the checkpoint that stores it.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// A part's state as postcard bytes (what the optimizers and schedulers of this crate
/// store in a [`StateRecord`](crate::checkpoint::StateRecord)).
pub fn encode_state<T: Serialize>(what: &str, state: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(state).map_err(|e| Error::State(format!("cannot encode {what}: {e}")))
}

/// The inverse of [`encode_state`]; `what` names the part in errors.
pub fn decode_state<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| Error::State(format!("cannot decode {what}: {e}")))
}
