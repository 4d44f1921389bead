//! Rooted file operations: create, link and change files *inside* a
//! directory tree whose contents are hostile (an image layer being unpacked).
//!
//! Every path is first cleaned lexically (`..` clamps at the root, a leading
//! `/` means the root), then its parent directory is resolved by the kernel
//! with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so symlinks
//! planted earlier in the same layer (`a -> /etc`, `b -> ../../..`) resolve
//! as if the root were `/` and can never lead outside it. The final
//! component is then acted on with `*at` calls relative to that directory
//! handle, never with a host path string, and existing inodes are replaced
//! (unlinked first), never written through.
//!
//! `lock` is the store's cross-process lock (flock) and `writeback` starts
//! early writeback of a file; both are here because they are the other file
//! work Node cannot do.
//!
//! This is plain Rust with `cargo test`s that need no root; `napi_fs.rs` is
//! the thin binding over it.

pub mod batch;
#[cfg(test)]
mod batch_tests;
mod error;
pub mod lock;
mod meta;
mod path;
mod remove;
mod root;
mod sys;
#[cfg(test)]
mod tests;
pub mod writeback;

pub use error::FsError;
pub use meta::Metadata;
pub use path::clean_components;
pub use root::{NodeKind, Root};
