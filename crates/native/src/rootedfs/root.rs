//! `Root`: a handle on the directory a layer unpacks into, and the entry
//! operations a tar needs (mkdir, create, symlink, hard link, mknod,
//! whiteout). Each resolves the entry's parent inside the root with openat2
//! and then acts on the final name relative to that handle.
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::error::{FsError, FsResult};
use super::path::{clean_components, join};
use super::remove::remove_all_at;
use super::sys;

/// Special files a tar can hold besides files, dirs and links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Fifo,
    Char,
    Block,
}

pub struct Root {
    fd: OwnedFd,
    /// Whether to chown and insist on privileged xattrs (false when not root:
    /// unit tests and rootless use keep the caller's ownership).
    pub(super) privileged: bool,
}

/// An entry's resolved parent directory handle and final name.
pub(super) struct Entry {
    pub dir: OwnedFd,
    pub name: CString,
}

impl Root {
    /// Open the directory `path` (chosen by the store, not by the layer) as the root.
    pub fn open(path: &str, privileged: bool) -> FsResult<Root> {
        let c = sys::cstr(path).map_err(|e| FsError::io("open root", path, e))?;
        let fd = sys::open_path(&c, libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW).map_err(|e| FsError::io("open root", path, e))?;
        Ok(Root { fd, privileged })
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// A directory inside the root by components, creating missing ones
    /// (mode 0755) when `create`. Symlinks along the way resolve in the root.
    pub(super) fn open_dir(&self, comps: &[&str], create: bool) -> io::Result<OwnedFd> {
        let path = sys::cstr(&join(comps))?;
        match sys::openat2_in_root(self.as_fd(), &path, libc::O_PATH | libc::O_DIRECTORY) {
            Err(e) if create && !comps.is_empty() && e.raw_os_error() == Some(libc::ENOENT) => {
                let (last, parents) = comps.split_last().expect("non-empty");
                let parent = self.open_dir(parents, true)?;
                match sys::mkdirat(parent.as_fd(), &sys::cstr(last)?, 0o755) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                    Err(e) => return Err(e),
                }
                // Resolve again from the root: `last` may be a symlink that an
                // earlier entry planted, and it must still resolve inside.
                sys::openat2_in_root(self.as_fd(), &path, libc::O_PATH | libc::O_DIRECTORY)
            }
            r => r,
        }
    }

    /// The parent handle and final name of `path`, creating missing parents.
    /// A path that cleans to the root itself has no name: refused for ops
    /// that create an entry.
    pub(super) fn entry(&self, op: &'static str, path: &str, create_parents: bool) -> FsResult<Entry> {
        let comps = clean_components(path);
        let Some((last, parents)) = comps.split_last() else {
            return Err(FsError::unsafe_path(op, path, "names the root directory itself"));
        };
        let dir = self.open_dir(parents, create_parents).map_err(|e| FsError::io(op, path, e))?;
        let name = sys::cstr(last).map_err(|e| FsError::io(op, path, e))?;
        Ok(Entry { dir, name })
    }

    /// Remove whatever `name` is (a directory only when `keep_dir` is false),
    /// so that the new entry gets a fresh inode. Returns true if a directory was kept.
    fn clear(&self, e: &Entry, keep_dir: bool) -> io::Result<bool> {
        self.clear_at(e.dir.as_fd(), &e.name, keep_dir)
    }

    fn clear_at(&self, dir: BorrowedFd, name: &CStr, keep_dir: bool) -> io::Result<bool> {
        let st = match sys::fstatat_nofollow(dir, name) {
            Ok(st) => st,
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => return Ok(false),
            Err(err) => return Err(err),
        };
        if sys::is_dir(&st) {
            if keep_dir {
                return Ok(true);
            }
            remove_all_at(dir, name)?;
        } else {
            sys::unlinkat(dir, name, 0)?;
        }
        Ok(false)
    }

    /// Make a directory (keeping an existing one: tar lists parents first,
    /// and a later entry for the same directory only changes metadata).
    pub fn mkdir(&self, path: &str) -> FsResult<()> {
        if clean_components(path).is_empty() {
            return Ok(()); // `./`: the root exists; metadata comes separately.
        }
        let e = self.entry("mkdir", path, true)?;
        if !self.clear(&e, true).map_err(|err| FsError::io("mkdir", path, err))? {
            sys::mkdirat(e.dir.as_fd(), &e.name, 0o755).map_err(|err| FsError::io("mkdir", path, err))?;
        }
        Ok(())
    }

    /// Create a new, empty regular file (replacing any entry at `path`) and
    /// return it open for writing. Finish it with `meta::finish_file`.
    pub fn create_file(&self, path: &str) -> FsResult<OwnedFd> {
        let e = self.entry("create", path, true)?;
        Ok(self.create_in(e.dir.as_fd(), &e.name, path)?.0)
    }

    /// Create `name` in the directory handle `dir` (resolved in this root),
    /// replacing what is there. O_EXCL first: in a fresh layer nothing is,
    /// so the usual case is one syscall; on EEXIST the old entry (a symlink
    /// included: O_CREAT|O_EXCL never follows one) is removed and the create
    /// retried. Returns the fd and whether something was replaced.
    pub(super) fn create_in(&self, dir: BorrowedFd, name: &CStr, path: &str) -> FsResult<(OwnedFd, bool)> {
        let open = || sys::openat(dir, name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW, 0o600);
        match open() {
            Ok(fd) => Ok((fd, false)),
            Err(err) if err.raw_os_error() == Some(libc::EEXIST) => {
                self.clear_at(dir, name, false).map_err(|err| FsError::io("create", path, err))?;
                Ok((open().map_err(|err| FsError::io("create", path, err))?, true))
            }
            Err(err) => Err(FsError::io("create", path, err)),
        }
    }

    /// A symlink whose target is stored verbatim (absolute targets are normal
    /// in images); it is only ever resolved later with RESOLVE_IN_ROOT.
    pub fn symlink(&self, path: &str, target: &str) -> FsResult<()> {
        let e = self.entry("symlink", path, true)?;
        let t = sys::cstr(target).map_err(|err| FsError::io("symlink", path, err))?;
        self.clear(&e, false).map_err(|err| FsError::io("symlink", path, err))?;
        sys::symlinkat(&t, e.dir.as_fd(), &e.name).map_err(|err| FsError::io("symlink", path, err))
    }

    /// A hard link to `target`, an entry already in this root: both names
    /// resolve inside it, so a link can never reach a host file.
    pub fn hardlink(&self, path: &str, target: &str) -> FsResult<()> {
        if clean_components(path) == clean_components(target) {
            return Ok(()); // a link to itself: nothing to do, and clearing would delete it
        }
        let t = self.entry("link", target, false)?;
        let e = self.entry("link", path, true)?;
        self.clear(&e, false).map_err(|err| FsError::io("link", path, err))?;
        sys::linkat(t.dir.as_fd(), &t.name, e.dir.as_fd(), &e.name).map_err(|err| FsError::io("link", path, err))
    }

    /// A fifo or device node (permissions are set later with the metadata).
    pub fn mknod(&self, path: &str, kind: NodeKind, major: u32, minor: u32) -> FsResult<()> {
        let e = self.entry("mknod", path, true)?;
        let ty = match kind {
            NodeKind::Fifo => libc::S_IFIFO,
            NodeKind::Char => libc::S_IFCHR,
            NodeKind::Block => libc::S_IFBLK,
        };
        self.clear(&e, false).map_err(|err| FsError::io("mknod", path, err))?;
        let dev = libc::makedev(major, minor);
        sys::mknodat(e.dir.as_fd(), &e.name, ty | 0o600, dev).map_err(|err| FsError::io("mknod", path, err))
    }

    /// An overlayfs whiteout (a 0/0 character device) hiding `path` in lower layers.
    pub fn whiteout(&self, path: &str) -> FsResult<()> {
        self.mknod(path, NodeKind::Char, 0, 0)
    }

    /// Flush everything written under the root to disk (before it is renamed into place).
    pub fn sync(&self) -> FsResult<()> {
        // syncfs needs a real fd; the root handle is O_PATH.
        let wrap = |e| FsError::io("syncfs", ".", e);
        let dir = sys::openat2_in_root(self.as_fd(), c".", libc::O_RDONLY | libc::O_DIRECTORY).map_err(wrap)?;
        sys::syncfs(dir.as_fd()).map_err(wrap)
    }
}
