//! Cross-process locks for the store: `flock(2)` on a lock file. A flock
//! belongs to the open file description, so it is released when the fd is
//! closed or the process dies (even by SIGKILL): a crashed tsbuild can never
//! leave a store locked. Opened O_CLOEXEC so container processes the runtime
//! execs never inherit (and so never pin) a store lock.
use std::os::fd::{AsFd, OwnedFd};

use super::error::{FsError, FsResult};
use super::sys;

/// Take a shared or exclusive lock on `path` (created if missing). With
/// `wait` false, returns None instead of blocking when another holder
/// conflicts. Two locks in the *same* process on separate opens conflict
/// too, which is what lets callers use it across worker threads.
pub fn lock(path: &str, exclusive: bool, wait: bool) -> FsResult<Option<OwnedFd>> {
    let c = sys::cstr(path).map_err(|e| FsError::io("lock", path, e))?;
    // SAFETY: plain open on a valid C string.
    let raw = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC | libc::O_NOFOLLOW, 0o644) };
    if raw < 0 {
        return Err(lock_err(path, std::io::Error::last_os_error()));
    }
    // SAFETY: `raw` was just returned by open and is owned here.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
    let mut op = if exclusive { libc::LOCK_EX } else { libc::LOCK_SH };
    if !wait {
        op |= libc::LOCK_NB;
    }
    match sys::flock(fd.as_fd(), op) {
        Ok(()) => Ok(Some(fd)),
        Err(e) if !wait && e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
        Err(e) => Err(lock_err(path, e)),
    }
}

fn lock_err(path: &str, e: std::io::Error) -> FsError {
    let mut err = FsError::io("lock", path, e);
    err.code = crate::error::Code::Lock;
    err
}
