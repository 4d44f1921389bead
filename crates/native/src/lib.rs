//! tsbuild's native core: the Linux kernel work that Node cannot do.
//!
//! The `napi_*` modules are the thin binding (entry points and type
//! conversion only). Everything else is plain Rust behind the `syscall`
//! seam, so that `cargo test` checks the namespace, mount and cgroup
//! sequences without root by recording the calls.

pub mod caps;
pub mod cgroup;
pub mod child;
pub mod dirstat;
pub mod error;
pub mod launch;
pub mod layerscan;
pub mod nsjoin;
pub mod overlay;
pub mod procview;
pub mod pty;
pub mod rawio;
pub mod rootedfs;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod syscall;
pub mod topdir;
pub mod usage;
pub mod userns;

mod napi_dirstat;
mod napi_fs;
mod napi_layer;
mod napi_procview;
mod napi_runtime;
mod napi_userns;
