//! Ownership, mode, xattrs and mtime of an entry, applied in the one order
//! that keeps them all: chown first (it clears setuid/setgid and file
//! capabilities), then chmod, then xattrs (security.capability), then times
//! (every earlier change bumps ctime, and directory mtimes are set last by
//! the caller because creating children changes them).
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use super::error::{FsError, FsResult};
use super::path::clean_components;
use super::root::Root;
use super::sys;

#[derive(Clone, Debug, Default)]
pub struct Metadata {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits including setuid, setgid and sticky (0o7777).
    pub mode: u32,
    pub mtime_sec: i64,
    pub mtime_nsec: u32,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// Errors an unprivileged unpack tolerates: it cannot chown or set trusted.* xattrs.
fn tolerable(privileged: bool, e: &io::Error) -> bool {
    !privileged && matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::ENOTSUP) | Some(libc::EACCES))
}

impl Root {
    /// Apply metadata to the entry at `path` (any kind; `.` means the root).
    /// The entry is pinned by an O_PATH handle so that every change lands on
    /// that inode, and a symlink is never followed.
    pub fn set_metadata(&self, path: &str, m: &Metadata) -> FsResult<()> {
        let wrap = |e: io::Error| FsError::io("set metadata", path, e);
        let handle: OwnedFd = if clean_components(path).is_empty() {
            self.as_fd().try_clone_to_owned().map_err(wrap)?
        } else {
            let e = self.entry("set metadata", path, false)?;
            sys::openat(e.dir.as_fd(), &e.name, libc::O_PATH | libc::O_NOFOLLOW, 0).map_err(wrap)?
        };
        let st = sys::fstat(handle.as_fd()).map_err(wrap)?;
        let symlink = sys::is_symlink(&st);
        let proc_path = sys::proc_fd_path(handle.as_fd());

        if self.privileged {
            sys::fchown_handle(handle.as_fd(), m.uid, m.gid).map_err(wrap)?;
        }
        if !symlink {
            // chmod on the /proc magic link reaches the pinned inode (Linux has
            // no fchmod for O_PATH handles before fchmodat2).
            sys::chmod_path(&proc_path, m.mode & 0o7777).map_err(wrap)?;
        }
        for (name, value) in &m.xattrs {
            let n = sys::cstr(name).map_err(wrap)?;
            // lsetxattr on the magic link itself would hit /proc; for a
            // symlink there is no way to address it but by name in its parent.
            let r = if symlink { self.lsetxattr_by_name(path, &n, value) } else { sys::setxattr(&proc_path, &n, value) };
            match r {
                Err(e) if tolerable(self.privileged, &e) => {}
                r => r.map_err(wrap)?,
            }
        }
        self.set_times(path, m.mtime_sec, m.mtime_nsec)
    }

    /// Set atime and mtime of `path` without following a symlink.
    pub fn set_times(&self, path: &str, sec: i64, nsec: u32) -> FsResult<()> {
        let wrap = |e: io::Error| FsError::io("set times", path, e);
        if clean_components(path).is_empty() {
            let dir = sys::openat2_in_root(self.as_fd(), c".", libc::O_RDONLY | libc::O_DIRECTORY).map_err(wrap)?;
            return sys::futimens(dir.as_fd(), sec, nsec).map_err(wrap);
        }
        let e = self.entry("set times", path, false)?;
        sys::utimensat_nofollow(e.dir.as_fd(), &e.name, sec, nsec).map_err(wrap)
    }

    fn lsetxattr_by_name(&self, path: &str, name: &CString, value: &[u8]) -> io::Result<()> {
        let e = self.entry("setxattr", path, false).map_err(|e| e.source)?;
        let p = format!("/proc/self/fd/{}/{}", e.dir.as_raw_fd(), e.name.to_string_lossy());
        sys::lsetxattr(&sys::cstr(&p)?, name, value)
    }

    /// Finish a file made by `create_file`: metadata on the open fd, then close it.
    pub fn finish_file(&self, fd: OwnedFd, m: &Metadata) -> FsResult<()> {
        let wrap = |e: io::Error| FsError::io("finish file", &format!("fd {}", fd.as_raw_fd()), e);
        if self.privileged {
            sys::fchown(fd.as_fd(), m.uid, m.gid).map_err(wrap)?;
        }
        sys::fchmod(fd.as_fd(), m.mode & 0o7777).map_err(wrap)?;
        for (name, value) in &m.xattrs {
            let n = sys::cstr(name).map_err(wrap)?;
            match sys::fsetxattr(fd.as_fd(), &n, value) {
                Err(e) if tolerable(self.privileged, &e) => {}
                r => r.map_err(wrap)?,
            }
        }
        sys::futimens(fd.as_fd(), m.mtime_sec, m.mtime_nsec).map_err(wrap)
    }
}
