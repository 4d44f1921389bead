//! Orlov's "top of directory hierarchies" hint (FS_TOPDIR_FL, chattr +T).
//!
//! ext4 places a new directory in its parent's block group, and its files
//! in that directory's group. The store's tmp/ and containers/ hold one
//! subdirectory per layer being unpacked and per container, each the top of
//! an unrelated tree: marked, ext4 spreads those subdirectories over groups
//! with few directories and many free inodes, as it does for directories at
//! the root of the file system.
//!
//! Why it matters: on ext4 without a journal, allocating an inode skips
//! every free inode of the group that was deleted in the last 30 s (3 min
//! while its inode-table block is dirty), one buffer-cache lookup each
//! (`recently_deleted` in fs/ext4/ialloc.c). After a store, a layer or a
//! container of tens of thousands of files was removed, every file created
//! in the same group pays for that scan again: measured on this project's
//! VM, 10-20% of all CPU during a cold `apt-get install` step (perf), 4 s of
//! sys time out of 9. Spread, new trees start in fresh groups. On journaled
//! ext4 nothing is skipped and the hint only spreads; other file systems do
//! not know the flag, and then nothing changes.
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// linux/fs.h: FS_TOPDIR_FL.
pub const FS_TOPDIR_FL: libc::c_long = 0x0002_0000;

/// Sets FS_TOPDIR_FL on the directory `path` (not following a final
/// symlink). Ok(true) when the flag is now set, Ok(false) when the file
/// system does not keep it (ENOTTY, EOPNOTSUPP, EINVAL: not ext2/3/4).
pub fn mark(path: &str) -> io::Result<bool> {
    let c = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a NUL-terminated path; the fd is owned below.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let flags = match get_flags(&fd) {
        Ok(f) => f,
        Err(e) if unsupported(&e) => return Ok(false),
        Err(e) => return Err(e),
    };
    if flags & FS_TOPDIR_FL != 0 {
        return Ok(true);
    }
    let mut next = flags | FS_TOPDIR_FL;
    // SAFETY: FS_IOC_SETFLAGS reads a long (the kernel's int-sized flags) from the pointer.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::FS_IOC_SETFLAGS, &mut next) } < 0 {
        let e = io::Error::last_os_error();
        return if unsupported(&e) { Ok(false) } else { Err(e) };
    }
    // Some file systems accept the call and drop flags they do not keep.
    Ok(get_flags(&fd)? & FS_TOPDIR_FL != 0)
}

fn get_flags(fd: &OwnedFd) -> io::Result<libc::c_long> {
    let mut flags: libc::c_long = 0;
    // SAFETY: FS_IOC_GETFLAGS writes the flags through the pointer.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // The kernel writes an int: only the low 32 bits are meaningful.
    Ok(flags & 0xffff_ffff)
}

fn unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTTY) | Some(libc::EOPNOTSUPP) | Some(libc::EINVAL))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    /// ext2/3/4 keep the flag (one magic number for all three).
    fn is_ext4(path: &str) -> bool {
        let c = CString::new(path).unwrap();
        let mut s: libc::statfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statfs(c.as_ptr(), &mut s) }, 0);
        s.f_type as i64 == 0xEF53
    }

    #[test]
    fn marks_a_directory_where_the_file_system_keeps_the_flag() {
        let dir = std::env::temp_dir().join(format!("tsbuild-topdir-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let p = dir.to_str().unwrap();
        let ext4 = is_ext4(p);
        let first = mark(p);
        let second = mark(p);
        let flags = File::open(&dir).map(|f| get_flags(&OwnedFd::from(f)));
        std::fs::remove_dir(&dir).unwrap(); // before asserting: a failure leaves nothing behind
        let first = first.unwrap();
        assert_eq!(first, ext4, "the flag is kept exactly where the file system is ext4");
        // Idempotent: a second call sees the flag already set.
        assert_eq!(second.unwrap(), first);
        if first {
            assert_ne!(flags.unwrap().unwrap() & FS_TOPDIR_FL, 0);
        }
    }

    #[test]
    fn refuses_a_missing_path_and_a_symlink() {
        assert_eq!(mark("/nonexistent/tsbuild-topdir").unwrap_err().raw_os_error(), Some(libc::ENOENT));
        let link = std::env::temp_dir().join(format!("tsbuild-topdir-link-{}", std::process::id()));
        std::os::unix::fs::symlink("/", &link).unwrap();
        let refused = mark(link.to_str().unwrap());
        std::fs::remove_file(&link).unwrap(); // before asserting: a failure leaves nothing behind
        // O_NOFOLLOW with O_DIRECTORY: a symlink in the store's place is not followed (ENOTDIR).
        assert_eq!(refused.unwrap_err().raw_os_error(), Some(libc::ENOTDIR));
    }
}
