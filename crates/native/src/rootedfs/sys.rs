//! Thin, safe wrappers over the `*at` syscalls rooted operations use. Each
//! returns `io::Result` with the raw errno; callers add the path context.
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

// linux/openat2.h; libc does not export these for glibc targets yet.
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn check_fd(ret: libc::c_long) -> io::Result<OwnedFd> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: the kernel just returned this fd to us and nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
    }
}

pub fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Open `path` below `root` as if `root` were `/`: `..`, absolute symlinks
/// and `../..` symlinks all stay inside; /proc magic links are refused.
pub fn openat2_in_root(root: BorrowedFd, path: &CStr, flags: i32) -> io::Result<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: `how` lives across the call and its size is passed.
        let ret = unsafe {
            libc::syscall(libc::SYS_openat2, root.as_raw_fd(), path.as_ptr(), &how as *const OpenHow, std::mem::size_of::<OpenHow>())
        };
        // EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry.
        match check_fd(ret) {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            r => return r,
        }
    }
}

/// openat relative to a directory handle for a single component (no traversal).
pub fn openat(dir: BorrowedFd, name: &CStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall on valid C strings.
    let ret = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) };
    check_fd(ret as libc::c_long)
}

/// Open a host path (the layer root itself, chosen by the store, not the layer).
pub fn open_path(path: &CStr, flags: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall on a valid C string.
    let ret = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
    check_fd(ret as libc::c_long)
}

pub fn mkdirat(dir: BorrowedFd, name: &CStr, mode: u32) -> io::Result<()> {
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t) })
}

pub fn mknodat(dir: BorrowedFd, name: &CStr, mode: u32, dev: u64) -> io::Result<()> {
    check(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t, dev as libc::dev_t) })
}

pub fn symlinkat(target: &CStr, dir: BorrowedFd, name: &CStr) -> io::Result<()> {
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
}

/// Hard link without following a symlink at `old` (flags 0), both ends by handle.
pub fn linkat(old_dir: BorrowedFd, old: &CStr, new_dir: BorrowedFd, new: &CStr) -> io::Result<()> {
    check(unsafe { libc::linkat(old_dir.as_raw_fd(), old.as_ptr(), new_dir.as_raw_fd(), new.as_ptr(), 0) })
}

pub fn unlinkat(dir: BorrowedFd, name: &CStr, flags: i32) -> io::Result<()> {
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) })
}

pub fn fstatat_nofollow(dir: BorrowedFd, name: &CStr) -> io::Result<libc::stat> {
    // SAFETY: zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

pub fn fstat(fd: BorrowedFd) -> io::Result<libc::stat> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// chown the inode an O_PATH handle pins (AT_EMPTY_PATH), never a symlink's target.
pub fn fchown_handle(fd: BorrowedFd, uid: u32, gid: u32) -> io::Result<()> {
    check(unsafe { libc::fchownat(fd.as_raw_fd(), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) })
}

pub fn fchown(fd: BorrowedFd, uid: u32, gid: u32) -> io::Result<()> {
    check(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) })
}

pub fn fchmod(fd: BorrowedFd, mode: u32) -> io::Result<()> {
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) })
}

/// The /proc path of an fd: how to chmod/setxattr an O_PATH handle (the
/// kernel jumps straight to that inode; no name is looked up).
pub fn proc_fd_path(fd: BorrowedFd) -> CString {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL in a number")
}

pub fn chmod_path(path: &CStr, mode: u32) -> io::Result<()> {
    check(unsafe { libc::chmod(path.as_ptr(), mode as libc::mode_t) })
}

pub fn fsetxattr(fd: BorrowedFd, name: &CStr, value: &[u8]) -> io::Result<()> {
    check(unsafe { libc::fsetxattr(fd.as_raw_fd(), name.as_ptr(), value.as_ptr() as *const libc::c_void, value.len(), 0) })
}

/// setxattr following the path (through a /proc/self/fd magic link to the pinned inode).
pub fn setxattr(path: &CStr, name: &CStr, value: &[u8]) -> io::Result<()> {
    check(unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), value.as_ptr() as *const libc::c_void, value.len(), 0) })
}

/// setxattr on a /proc/self/fd path without following a symlink at the end.
pub fn lsetxattr(path: &CStr, name: &CStr, value: &[u8]) -> io::Result<()> {
    check(unsafe { libc::lsetxattr(path.as_ptr(), name.as_ptr(), value.as_ptr() as *const libc::c_void, value.len(), 0) })
}

fn timespec(sec: i64, nsec: u32) -> libc::timespec {
    libc::timespec { tv_sec: sec as libc::time_t, tv_nsec: nsec as libc::c_long }
}

/// Set atime and mtime of `name` in `dir` without following a symlink.
pub fn utimensat_nofollow(dir: BorrowedFd, name: &CStr, sec: i64, nsec: u32) -> io::Result<()> {
    let t = [timespec(sec, nsec), timespec(sec, nsec)];
    check(unsafe { libc::utimensat(dir.as_raw_fd(), name.as_ptr(), t.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })
}

pub fn futimens(fd: BorrowedFd, sec: i64, nsec: u32) -> io::Result<()> {
    let t = [timespec(sec, nsec), timespec(sec, nsec)];
    check(unsafe { libc::futimens(fd.as_raw_fd(), t.as_ptr()) })
}

pub fn syncfs(fd: BorrowedFd) -> io::Result<()> {
    check(unsafe { libc::syncfs(fd.as_raw_fd()) })
}

pub fn flock(fd: BorrowedFd, op: i32) -> io::Result<()> {
    loop {
        match check(unsafe { libc::flock(fd.as_raw_fd(), op) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

pub fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

pub fn is_symlink(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFLNK
}
