//! Replaying the header edits an authorizer made, when its decision is reused from cache.

use super::{append, remove, set};
use crate::plugin::handles::{HeaderEdit, RequestHandle};

/// Applies `edits` to the request in order (they succeeded when first made).
pub fn replay(handle: &mut RequestHandle, edits: &[HeaderEdit]) {
    let headers = &mut handle.parts.headers;
    for edit in edits {
        match edit {
            HeaderEdit::Set(name, value) => {
                let _ = set(headers, name, value);
            }
            HeaderEdit::Append(name, value) => {
                let _ = append(headers, name, value);
            }
            HeaderEdit::Remove(name) => remove(headers, name),
        }
    }
}
