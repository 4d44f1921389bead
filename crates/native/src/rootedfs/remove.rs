//! Recursive removal by handle: used when a layer replaces a directory with
//! another kind of entry. Every step is `*at` with O_NOFOLLOW, so a symlink
//! inside the tree is unlinked, never followed.
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, IntoRawFd};

use super::sys;

pub fn remove_all_at(dir: BorrowedFd, name: &CStr) -> io::Result<()> {
    let sub = sys::openat(dir, name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)?;
    for child in list_dir(sub.as_fd())? {
        let st = sys::fstatat_nofollow(sub.as_fd(), &child)?;
        if sys::is_dir(&st) {
            remove_all_at(sub.as_fd(), &child)?;
        } else {
            sys::unlinkat(sub.as_fd(), &child, 0)?;
        }
    }
    sys::unlinkat(dir, name, libc::AT_REMOVEDIR)
}

/// Names in a directory (without `.` and `..`), read through a dup of `dir`.
fn list_dir(dir: BorrowedFd) -> io::Result<Vec<CString>> {
    let dup = dir.try_clone_to_owned()?;
    // SAFETY: fdopendir takes ownership of the dup'd fd; closedir releases it.
    let dp = unsafe { libc::fdopendir(dup.into_raw_fd()) };
    if dp.is_null() {
        return Err(io::Error::last_os_error());
    }
    // Start from the beginning even if the fd was read before.
    unsafe { libc::rewinddir(dp) };
    let mut names = Vec::new();
    loop {
        // SAFETY: dp is a valid DIR*; the entry is copied before the next call.
        let ent = unsafe { libc::readdir(dp) };
        if ent.is_null() {
            break;
        }
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
        let b = name.to_bytes();
        if b != b"." && b != b".." {
            names.push(name.to_owned());
        }
    }
    unsafe { libc::closedir(dp) };
    Ok(names)
}
