//! napi entry points for the store: rooted layer unpacking and file locks.
//! Only argument conversion lives here; the logic is in `rootedfs`.
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, Task};
use napi_derive::napi;

use crate::error::{self, Code, NativeError};
use crate::rootedfs::batch::{self, BatchState};
use crate::rootedfs::{lock, writeback, FsError, Metadata, NodeKind, Root};

type Result<T> = napi::Result<T, String>;

fn to_napi(e: FsError) -> napi::Error<String> {
    error::to_napi(e.into())
}

/// One extended attribute (PAX `SCHILY.xattr.NAME`).
#[napi(object)]
pub struct Xattr {
    pub name: String,
    pub value: Buffer,
}

/// Ownership, permission bits (incl. setuid/setgid/sticky), mtime and xattrs of an entry.
#[napi(object)]
pub struct EntryMeta {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub mtime_sec: i64,
    pub mtime_nsec: u32,
    pub xattrs: Option<Vec<Xattr>>,
}

fn meta(m: EntryMeta) -> Metadata {
    Metadata {
        uid: m.uid,
        gid: m.gid,
        mode: m.mode,
        mtime_sec: m.mtime_sec,
        mtime_nsec: m.mtime_nsec,
        xattrs: m.xattrs.unwrap_or_default().into_iter().map(|x| (x.name, x.value.to_vec())).collect(),
    }
}

/// A directory that hostile tar entries are unpacked into. Every path
/// argument is relative to it (`..` and absolute names stay inside, and
/// symlinks resolve with RESOLVE_IN_ROOT), so nothing outside can be touched.
#[napi]
pub struct RootedDir {
    root: Arc<Root>,
    /// The file a batch left open; a Mutex because batches run on the thread pool.
    batch: Arc<Mutex<BatchState>>,
}

#[napi]
impl RootedDir {
    /// Open `path` as the root. `privileged`: chown entries and require
    /// trusted.* xattrs to succeed (pass true when running as root).
    #[napi(constructor)]
    pub fn new(path: String, privileged: bool) -> Result<RootedDir> {
        Ok(RootedDir { root: Arc::new(Root::open(&path, privileged).map_err(to_napi)?), batch: Arc::default() })
    }

    /// Apply a batch of encoded entry operations (see the crate's
    /// rootedfs::batch for the format) on a worker thread, in order. The
    /// caller sends the next batch only after this one resolved. Rejects
    /// with the first failing operation's code and path.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn apply_batch(&self, ops: Buffer) -> AsyncTask<BatchTask> {
        AsyncTask::new(BatchTask { root: self.root.clone(), state: self.batch.clone(), ops })
    }

    /// Close a file a batch left open (after a failed or aborted unpack).
    #[napi]
    pub fn discard_batch(&self) {
        self.batch.lock().unwrap_or_else(|p| p.into_inner()).discard();
    }

    /// Make a directory, keeping an existing one.
    #[napi]
    pub fn mkdir(&self, path: String) -> Result<()> {
        self.root.mkdir(&path).map_err(to_napi)
    }

    /// Replace `path` with a new empty file; returns a write-only fd to fill
    /// and then pass to finishFile (or close on failure).
    #[napi]
    pub fn create_file(&self, path: String) -> Result<i32> {
        Ok(self.root.create_file(&path).map_err(to_napi)?.into_raw_fd())
    }

    /// Apply metadata to a file made by createFile and close its fd.
    #[napi]
    pub fn finish_file(&self, fd: i32, meta_: EntryMeta) -> Result<()> {
        // SAFETY: the fd came from createFile and JS hands over ownership here.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        self.root.finish_file(owned, &meta(meta_)).map_err(to_napi)
    }

    /// Replace `path` with a symlink to `target` (stored verbatim).
    #[napi]
    pub fn symlink(&self, path: String, target: String) -> Result<()> {
        self.root.symlink(&path, &target).map_err(to_napi)
    }

    /// Replace `path` with a hard link to the entry `target` inside the root.
    #[napi]
    pub fn hardlink(&self, path: String, target: String) -> Result<()> {
        self.root.hardlink(&path, &target).map_err(to_napi)
    }

    /// Replace `path` with a fifo ("fifo"), or a "char"/"block" device.
    #[napi]
    pub fn mknod(&self, path: String, kind: String, major: u32, minor: u32) -> Result<()> {
        let k = match kind.as_str() {
            "fifo" => NodeKind::Fifo,
            "char" => NodeKind::Char,
            "block" => NodeKind::Block,
            _ => return Err(error::to_napi(NativeError::input(format!("unknown node kind {kind}")))),
        };
        self.root.mknod(&path, k, major, minor).map_err(to_napi)
    }

    /// Replace `path` with an overlayfs whiteout (a 0/0 character device).
    #[napi]
    pub fn whiteout(&self, path: String) -> Result<()> {
        self.root.whiteout(&path).map_err(to_napi)
    }

    /// Set owner, mode, xattrs and mtime of `path` without following symlinks.
    #[napi]
    pub fn set_metadata(&self, path: String, meta_: EntryMeta) -> Result<()> {
        self.root.set_metadata(&path, &meta(meta_)).map_err(to_napi)
    }
}

pub struct BatchTask {
    root: Arc<Root>,
    state: Arc<Mutex<BatchState>>,
    ops: Buffer,
}

impl Task for BatchTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        batch::apply(&self.root, &mut state, &self.ops).map_err(|e| error::to_napi_async(e.into()))
    }

    fn resolve(&mut self, _env: Env, _: ()) -> napi::Result<()> {
        Ok(())
    }
}

pub struct SyncTask {
    path: String,
}

impl Task for SyncTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        Root::open(&self.path, false)
            .and_then(|root| root.sync())
            .map_err(|e| error::to_napi_async(e.into()))
    }

    fn resolve(&mut self, _env: Env, _: ()) -> napi::Result<()> {
        Ok(())
    }
}

/// syncfs of the file system holding the directory `path`, on a worker
/// thread: flushing a just-unpacked layer takes long enough (the disk) that
/// the event loop should keep downloading and unpacking meanwhile.
#[napi(ts_return_type = "Promise<void>")]
pub fn sync_filesystem(path: String) -> AsyncTask<SyncTask> {
    AsyncTask::new(SyncTask { path })
}

/// Start writing `fd`'s dirty pages to disk now, without waiting (see
/// rootedfs::writeback): the later fsync/syncfs then has less left to do.
#[napi]
pub fn start_writeback(fd: i32) -> Result<()> {
    // SAFETY: JS passes an fd it holds open for the duration of the call.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    writeback::start(fd).map_err(|e| error::to_napi(NativeError::io(Code::Io, "sync_file_range", &e)))
}

/// Mark the directory `path` as the top of unrelated trees (FS_TOPDIR_FL;
/// see topdir.rs): true when the file system keeps the flag.
#[napi]
pub fn mark_top_dir(path: String) -> Result<bool> {
    crate::topdir::mark(&path).map_err(|e| error::to_napi(NativeError::io(Code::Io, "FS_IOC_SETFLAGS", &e)))
}

/// Take a lock without blocking: returns the lock's fd, or -1 when another
/// holder (in any process, or another fd in this one) conflicts.
#[napi]
pub fn try_lock_file(path: String, exclusive: bool) -> Result<i32> {
    Ok(lock::lock(&path, exclusive, false).map_err(to_napi)?.map_or(-1, |fd| fd.into_raw_fd()))
}

pub struct LockTask {
    path: String,
    exclusive: bool,
}

impl Task for LockTask {
    type Output = i32;
    type JsValue = i32;

    fn compute(&mut self) -> napi::Result<i32> {
        match lock::lock(&self.path, self.exclusive, true) {
            Ok(Some(fd)) => Ok(fd.into_raw_fd()),
            Ok(None) => unreachable!("a waiting lock always returns a holder"),
            Err(e) => Err(error::to_napi_async(e.into())),
        }
    }

    fn resolve(&mut self, _env: Env, fd: i32) -> napi::Result<i32> {
        Ok(fd)
    }
}

/// Wait (on a worker thread, not the event loop) for a shared or exclusive
/// flock on `path`, created if missing; resolves to the lock's fd.
#[napi(ts_return_type = "Promise<number>")]
pub fn lock_file(path: String, exclusive: bool) -> AsyncTask<LockTask> {
    AsyncTask::new(LockTask { path, exclusive })
}

/// Release a lock taken by lockFile/tryLockFile (closes its fd).
#[napi]
pub fn unlock_file(fd: i32) {
    // SAFETY: JS hands back the fd it got from lockFile and forgets it.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
}
