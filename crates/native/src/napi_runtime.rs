//! napi entry points for starting and controlling container processes.
use napi_derive::napi;

/// Returns 1; proves the binding loads.
#[napi]
pub fn ping() -> u32 {
    1
}
