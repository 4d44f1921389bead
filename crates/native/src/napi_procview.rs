//! napi entry points for the container-aware /proc (procview): the thin binding.

use crate::error::{to_napi, Code, NativeError};
use crate::procview;
use napi_derive::napi;
use std::path::Path;

/// Mounts a live /proc view for the cgroup `cgroupName` on `mountpoint`
/// and serves it from a thread of this process until the last mount of it
/// (the container's) is gone.
#[napi]
pub fn procview_start(mountpoint: String, cgroup_root: String, cgroup_name: String) -> napi::Result<(), String> {
    procview::start(&mountpoint, Path::new(&cgroup_root), &cgroup_name).map_err(|e| to_napi(NativeError::from_io(Code::Mount, &e)))
}

/// Lazily unmounts the host's copy of a view; not a mount is fine.
#[napi]
pub fn procview_detach(mountpoint: String) {
    procview::detach(&mountpoint)
}

/// One file of the view rendered now (for containers no tsbuild process
/// outlives: a detached container gets snapshots of the static ones).
#[napi]
pub fn procview_render(name: String, cgroup_root: String, cgroup_name: String) -> String {
    procview::View::new(Path::new(&cgroup_root), &cgroup_name).render_file(&name)
}
