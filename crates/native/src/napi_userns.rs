//! napi entry points for rootless mode (`userns`): the thin binding.

use crate::error::{to_napi, Code, NativeError};
use crate::userns;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A re-executed CLI waiting in its new user namespace for its id maps.
#[napi(object)]
pub struct UsernsChild {
    pub pid: i32,
    /// Write end of the sync pipe: pass it to `usernsRelease`.
    pub sync_fd: i32,
}

/// Clones a child in a new user and mount namespace that, once released,
/// becomes uid/gid 0 there and execs `argv` (argv[0] is the path) with `env`.
/// Write its maps (newuidmap/newgidmap on `pid`) before releasing it; wait
/// for it with `waitPid`. With `joinPid`, the child joins that process's
/// user namespace (and makes its own mount namespace) instead: release it
/// without writing maps.
#[napi]
pub fn userns_spawn(argv: Vec<String>, env: Vec<String>, join_pid: Option<i32>) -> Result<UsernsChild, String> {
    let p = userns::spawn(&argv, &env, join_pid).map_err(|e| to_napi(NativeError::new(Code::Spawn, e)))?;
    Ok(UsernsChild { pid: p.pid, sync_fd: p.sync_fd })
}

/// Lets the child exec (`go`), or makes it exit with status 125.
#[napi]
pub fn userns_release(sync_fd: i32, go: bool) -> Result<(), String> {
    userns::release(sync_fd, go).map_err(|e| to_napi(NativeError::new(Code::Spawn, e)))
}

/// True when this process runs in a user namespace other than the initial one.
#[napi]
pub fn in_user_namespace() -> bool {
    userns::in_user_namespace()
}
