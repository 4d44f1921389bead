//! napi entry point for scanning a layer directory (see `layerscan`).
use crate::error::{to_napi, Code, NativeError};
use crate::layerscan;
use crate::napi_fs::Xattr;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

type Result<T> = napi::Result<T, String>;

/// One entry of a scanned layer directory.
#[napi(object)]
pub struct ScanEntry {
    /// Relative, `/`-separated.
    pub path: String,
    /// dir, file, symlink, char, block, fifo or socket.
    pub kind: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: f64,
    pub mtime_sec: f64,
    pub mtime_nsec: u32,
    pub rdev_major: u32,
    pub rdev_minor: u32,
    pub nlink: u32,
    /// Inode number, for detecting hard links (as a string: it may exceed 2^53).
    pub ino: String,
    pub link_target: Option<String>,
    pub xattrs: Option<Vec<Xattr>>,
}

/// Every entry under `dir`, depth-first with sorted names, with xattrs.
#[napi]
pub fn scan_layer(dir: String) -> Result<Vec<ScanEntry>> {
    let entries = layerscan::scan(std::path::Path::new(&dir)).map_err(|e| to_napi(NativeError::io(Code::Io, format_args!("scan {}", dir), &e)))?;
    Ok(entries
        .into_iter()
        .map(|e| ScanEntry {
            path: e.path,
            kind: e.kind.name().to_string(),
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            size: e.size as f64,
            mtime_sec: e.mtime_sec as f64,
            mtime_nsec: e.mtime_nsec,
            rdev_major: e.rdev_major,
            rdev_minor: e.rdev_minor,
            nlink: e.nlink as u32,
            ino: e.ino.to_string(),
            link_target: e.link_target,
            xattrs: if e.xattrs.is_empty() { None } else { Some(e.xattrs.into_iter().map(|(name, value)| Xattr { name, value: value.into() }).collect()) },
        })
        .collect())
}

/// One extended attribute of `path` (a final symlink is not followed), or
/// null when it has none by that name.
#[napi]
pub fn read_xattr(path: String, name: String) -> Result<Option<Buffer>> {
    layerscan::xattr(std::path::Path::new(&path), &name)
        .map(|v| v.map(Buffer::from))
        .map_err(|e| to_napi(NativeError::io(Code::Io, format_args!("read xattr {} of {}", name, path), &e)))
}
