//! Batched entry operations: a layer unpack sends its file system work as
//! one byte buffer of many operations instead of two or three napi calls
//! per tar entry, and the buffer is applied on a worker thread while the
//! main thread inflates, hashes and parses the next part of the tar.
//!
//! Measured on a bookworm image (tens of thousands of small files): the
//! per-entry napi calls and their argument objects were most of the unpack's
//! main-thread time (see the README's performance notes), not the syscalls.
//!
//! Every operation is one of `Root`'s rooted calls, so the security rules
//! are those of `root.rs` (openat2 RESOLVE_IN_ROOT per entry, inodes
//! replaced rather than written through). A file may span batches: FILE_OPEN
//! leaves it open in `BatchState`, FILE_DATA appends, FILE_CLOSE applies its
//! metadata and closes it. The state also paces early writeback of large
//! files (see `writeback`).
//!
//! Wire format (little endian), one record after another:
//!   op:u8, then per op
//!   MKDIR path | FILE_OPEN path | FILE_DATA len:u32 bytes | FILE_CLOSE meta
//!   SYMLINK path target meta | HARDLINK path target | MKNOD path kind:u8 major:u32 minor:u32 meta
//!   WHITEOUT path | SET_META path meta | FILE_COPY path source:str meta
//!   str  = len:u32 utf8 bytes
//!   meta = uid:u32 gid:u32 mode:u32 mtime_sec:i64 mtime_nsec:u32 count:u32 (name:str value:len:u32 bytes)*
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};

use super::error::{FsError, FsResult};
use crate::error::Code;
use super::meta::Metadata;
use super::path::clean_components;
use super::sys;
use super::root::{NodeKind, Root};
use super::writeback;

pub const MKDIR: u8 = 1;
pub const FILE_OPEN: u8 = 2;
pub const FILE_DATA: u8 = 3;
pub const FILE_CLOSE: u8 = 4;
pub const SYMLINK: u8 = 5;
pub const HARDLINK: u8 = 6;
pub const MKNOD: u8 = 7;
pub const WHITEOUT: u8 = 8;
pub const SET_META: u8 = 9;
pub const FILE_COPY: u8 = 10;

/// Dirty bytes of one file after which its writeback is started.
const WRITEBACK_BYTES: u64 = 8 << 20;
/// A smaller tail is left to the final syncfs, which batches small files better.
const WRITEBACK_MIN_TAIL: u64 = 1 << 20;

/// The file a batch left open (its path for messages) and its unflushed bytes.
struct OpenFile {
    fd: std::fs::File,
    path: String,
    unflushed: u64,
}

/// What outlives one batch: the file being written, if any, and the
/// directory handle of the last file's parent.
#[derive(Default)]
pub struct BatchState {
    open: Option<OpenFile>,
    /// (parent path as cleaned components joined by `/`, its handle). Tars
    /// list a directory's files together, so consecutive files mostly share
    /// a parent; reusing its handle saves the openat2 walk per file. Only a
    /// run of plain file creations may reuse it: any other operation (a
    /// symlink, link, node, whiteout, mkdir or metadata change) and any
    /// create that replaced an entry drop it, because those can change what
    /// a path resolves to. A handle came from openat2 RESOLVE_IN_ROOT and no
    /// operation moves a directory, so even a stale one stays inside the root.
    parent: Option<(String, OwnedFd)>,
}

impl BatchState {
    /// Close the open file, if any (an aborted unpack).
    pub fn discard(&mut self) {
        self.open = None;
        self.parent = None;
    }
}

/// FILE_OPEN: create `path`, reusing the cached parent handle when it is the same directory.
fn open_file(root: &Root, state: &mut BatchState, path: &str) -> FsResult<OwnedFd> {
    let comps = clean_components(path);
    let Some((last, parents)) = comps.split_last() else {
        return Err(FsError::unsafe_path("create", path, "names the root directory itself"));
    };
    let key = parents.join("/");
    if state.parent.as_ref().map(|(k, _)| k != &key).unwrap_or(true) {
        state.parent = None;
        let e = root.entry("create", path, true)?;
        state.parent = Some((key, e.dir));
    }
    let name = sys::cstr(last).map_err(|e| FsError::io("create", path, e))?;
    let dir = &state.parent.as_ref().expect("just set").1;
    let (fd, replaced) = root.create_in(dir.as_fd(), &name, path)?;
    if replaced {
        state.parent = None;
    }
    Ok(fd)
}

/// FILE_COPY: `path` in the root, created as FILE_OPEN does, filled from
/// the host file `source`. The source is the caller's (a build context or a
/// store layer, resolved by it): opened with O_NOFOLLOW so that a file
/// swapped for a link meanwhile is refused, not followed. std's io::copy
/// between two files is copy_file_range, with sendfile and read/write as
/// fallbacks where the kernel refuses it.
fn copy_file(root: &Root, state: &mut BatchState, path: &str, source: &str, m: &Metadata) -> FsResult<()> {
    let c = sys::cstr(source).map_err(|e| FsError::io("open source", source, e))?;
    let src = sys::open_path(&c, libc::O_RDONLY | libc::O_NOFOLLOW).map_err(|e| FsError::io("open source", source, e))?;
    let mut src = std::fs::File::from(src);
    let mut dst = std::fs::File::from(open_file(root, state, path)?);
    let n = io::copy(&mut src, &mut dst).map_err(|e| FsError::io("copy", path, e))?;
    if n >= WRITEBACK_MIN_TAIL {
        let _ = writeback::start(dst.as_fd()); // best effort, as for unpacked files
    }
    root.finish_file(dst.into(), m).map_err(|e| FsError { path: path.to_string(), ..e })
}

fn bad(why: &str) -> FsError {
    FsError { code: Code::Input, op: "batch", path: String::new(), source: io::Error::new(io::ErrorKind::InvalidData, why.to_string()) }
}

/// A cursor over the batch bytes; every read checks the length.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> FsResult<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| bad("truncated record"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> FsResult<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> FsResult<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn i64(&mut self) -> FsResult<i64> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn bytes(&mut self) -> FsResult<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn str(&mut self) -> FsResult<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| bad("name is not UTF-8"))
    }
    fn meta(&mut self) -> FsResult<Metadata> {
        let (uid, gid, mode) = (self.u32()?, self.u32()?, self.u32()?);
        let (mtime_sec, mtime_nsec) = (self.i64()?, self.u32()?);
        let count = self.u32()?;
        let mut xattrs = Vec::new();
        for _ in 0..count {
            let name = self.str()?.to_string();
            xattrs.push((name, self.bytes()?.to_vec()));
        }
        Ok(Metadata { uid, gid, mode, mtime_sec, mtime_nsec, xattrs })
    }
}

/// Apply every operation of `buf` in order; stops at the first failure.
/// A batch failure: the entry it happened at (the tar's name, which the
/// caller no longer knows once a whole batch is in flight), then what the
/// rooted operation says. Derefs to the FsError for its code, op and path.
#[derive(Debug)]
pub struct BatchError {
    pub entry: Option<String>,
    pub error: FsError,
}

impl std::ops::Deref for BatchError {
    type Target = FsError;
    fn deref(&self) -> &FsError {
        &self.error
    }
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.entry {
            Some(entry) => write!(f, "{entry}: {}", self.error),
            None => write!(f, "{}", self.error),
        }
    }
}

impl From<FsError> for BatchError {
    fn from(error: FsError) -> BatchError {
        BatchError { entry: None, error }
    }
}

impl From<BatchError> for crate::error::NativeError {
    fn from(e: BatchError) -> crate::error::NativeError {
        crate::error::NativeError { code: e.error.code, errno: e.error.errno(), message: e.to_string() }
    }
}

/// Applies one batch in order; stops at the first failure, naming its entry.
pub fn apply(root: &Root, state: &mut BatchState, buf: &[u8]) -> Result<(), BatchError> {
    let mut r = Reader { buf, pos: 0 };
    while r.pos < buf.len() {
        let op = r.u8()?;
        if !matches!(op, FILE_OPEN | FILE_DATA | FILE_CLOSE | FILE_COPY) {
            state.parent = None;
        }
        let at = |entry: &str| { let entry = entry.to_string(); move |error: FsError| BatchError { entry: Some(entry), error } };
        match op {
            MKDIR => {
                let path = r.str()?;
                root.mkdir(path).map_err(at(path))?
            }
            FILE_OPEN => {
                if state.open.is_some() {
                    return Err(bad("a file is already open").into());
                }
                let path = r.str()?;
                let fd = open_file(root, state, path).map_err(at(path))?;
                state.open = Some(OpenFile { fd: fd.into(), path: path.to_string(), unflushed: 0 });
            }
            FILE_DATA => {
                let data = r.bytes()?;
                let f = state.open.as_mut().ok_or_else(|| bad("data without an open file"))?;
                f.fd.write_all(data).map_err(|e| at(&f.path)(FsError::io("write", &f.path, e)))?;
                f.unflushed += data.len() as u64;
                if f.unflushed >= WRITEBACK_BYTES {
                    f.unflushed = 0;
                    let _ = writeback::start(f.fd.as_fd()); // best effort: the final syncfs does the rest
                }
            }
            FILE_CLOSE => {
                let m = r.meta()?;
                let f = state.open.take().ok_or_else(|| bad("close without an open file"))?;
                if f.unflushed >= WRITEBACK_MIN_TAIL {
                    let _ = writeback::start(f.fd.as_fd());
                }
                let path = f.path.clone();
                root.finish_file(f.fd.into(), &m).map_err(|e| at(&path)(FsError { path: path.clone(), ..e }))?;
            }
            SYMLINK => {
                let (path, target) = (r.str()?, r.str()?);
                let m = r.meta()?;
                root.symlink(path, target).map_err(at(path))?;
                root.set_metadata(path, &m).map_err(at(path))?;
            }
            HARDLINK => {
                let (path, target) = (r.str()?, r.str()?);
                root.hardlink(path, target).map_err(at(path))?;
            }
            MKNOD => {
                let path = r.str()?;
                let kind = match r.u8()? {
                    0 => NodeKind::Fifo,
                    1 => NodeKind::Char,
                    2 => NodeKind::Block,
                    _ => return Err(bad("unknown node kind").into()),
                };
                let (major, minor) = (r.u32()?, r.u32()?);
                let m = r.meta()?;
                root.mknod(path, kind, major, minor).map_err(at(path))?;
                root.set_metadata(path, &m).map_err(at(path))?;
            }
            WHITEOUT => {
                let path = r.str()?;
                root.whiteout(path).map_err(at(path))?
            }
            SET_META => {
                let path = r.str()?;
                let m = r.meta()?;
                root.set_metadata(path, &m).map_err(at(path))?;
            }
            FILE_COPY => {
                if state.open.is_some() {
                    return Err(bad("a file is already open").into());
                }
                let (path, source) = (r.str()?, r.str()?);
                let m = r.meta()?;
                copy_file(root, state, path, source, &m).map_err(at(path))?;
            }
            op => return Err(bad(&format!("unknown operation {op}")).into()),
        }
    }
    Ok(())
}
