//! The syscall seam. Every kernel call the container child makes goes
//! through `Syscall`, so that the namespace, mount and credential sequences
//! can be unit-tested without root by recording the calls (`fake::Recorder`)
//! and the real implementation (`linux::Linux`) stays a list of one-liners.
//!
//! Contract for implementors used in the cloned child: no allocation and no
//! locks, because the child of a multi-threaded process may only make raw
//! syscalls until it execs. All strings arrive pre-built as `&CStr`.

use std::ffi::CStr;

pub mod linux;
#[cfg(test)]
pub mod fake;

/// A raw errno value. Kept as a plain integer so it can cross the sync pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub fn last() -> Errno {
        Errno(unsafe { *libc::__errno_location() })
    }
}

pub type SysResult<T = ()> = Result<T, Errno>;

/// The kernel calls the child needs between clone and exec.
pub trait Syscall {
    fn mount(&self, source: Option<&CStr>, target: &CStr, fstype: Option<&CStr>, flags: u64, data: Option<&CStr>) -> SysResult;
    fn umount2(&self, target: &CStr, flags: i32) -> SysResult;
    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult;
    fn chroot(&self, path: &CStr) -> SysResult;
    fn chdir(&self, path: &CStr) -> SysResult;
    fn mkdir(&self, path: &CStr, mode: u32) -> SysResult;
    fn mknod(&self, path: &CStr, mode: u32, dev: u64) -> SysResult;
    fn symlink(&self, target: &CStr, link: &CStr) -> SysResult;
    /// Create an empty regular file if missing (a bind-mount target).
    fn touch(&self, path: &CStr, mode: u32) -> SysResult;
    fn chown(&self, path: &CStr, uid: u32, gid: u32) -> SysResult;
    fn chmod(&self, path: &CStr, mode: u32) -> SysResult;
    fn sethostname(&self, name: &[u8]) -> SysResult;
    fn unshare(&self, flags: i32) -> SysResult;
    fn setns(&self, fd: i32, nstype: i32) -> SysResult;
    fn setgroups(&self, gids: &[u32]) -> SysResult;
    fn setresgid(&self, gid: u32) -> SysResult;
    fn setresuid(&self, uid: u32) -> SysResult;
    fn capbset_drop(&self, cap: u32) -> SysResult;
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult;
    fn clear_ambient_caps(&self) -> SysResult;
    fn set_no_new_privs(&self) -> SysResult;
    fn set_pdeathsig(&self, sig: i32) -> SysResult;
    fn umask(&self, mask: u32);
    /// Bring the loopback interface of the current network namespace up.
    fn loopback_up(&self) -> SysResult;
    /// fsopen(2) with FSOPEN_CLOEXEC: a filesystem context fd (ENOSYS before Linux 5.2).
    fn fsopen(&self, fstype: &CStr) -> SysResult<i32>;
    /// fsconfig(2) FSCONFIG_SET_STRING `key`=`value`.
    fn fsconfig_string(&self, fd: i32, key: &CStr, value: &CStr) -> SysResult;
    /// fsconfig(2) FSCONFIG_SET_FLAG `key` (an option without a value, e.g. overlay's `userxattr`).
    fn fsconfig_flag(&self, fd: i32, key: &CStr) -> SysResult;
    /// fsconfig(2) FSCONFIG_CMD_CREATE: make the superblock.
    fn fsconfig_create(&self, fd: i32) -> SysResult;
    /// fsmount(2) with FSMOUNT_CLOEXEC and MOUNT_ATTR_* `attrs`: a detached mount fd.
    fn fsmount(&self, fd: i32, attrs: u64) -> SysResult<i32>;
    /// move_mount(2) of the detached mount `fd` onto `target` (MOVE_MOUNT_F_EMPTY_PATH).
    fn move_mount(&self, fd: i32, target: &CStr) -> SysResult;
    /// open(2) O_PATH|O_DIRECTORY|O_CLOEXEC: a handle on a directory, nothing more.
    fn open_dir_path(&self, path: &CStr) -> SysResult<i32>;
    fn close(&self, fd: i32);

    // Hardening: time namespace offsets, fd hygiene and the seccomp filter.
    // Kept together, apart from the mount calls, so that changes to either merge cleanly.

    /// Make the (not yet entered) time namespace of `unshare(CLONE_NEWTIME)`
    /// start its monotonic and boot-time clocks at zero: writes
    /// /proc/self/timens_offsets, which the kernel allows only before any
    /// process has entered the namespace.
    fn write_timens_offsets(&self) -> SysResult;
    /// Enter our own time_for_children namespace now (setns), rather than
    /// at exec, which only kernels with "fs/exec: switch timens when a task
    /// gets a new mm" do; the offsets are frozen from here on.
    fn enter_time_for_children(&self) -> SysResult;
    /// Mark every fd from `from` up close-on-exec.
    fn cloexec_from(&self, from: u32) -> SysResult;
    /// Install a seccomp filter (needs no_new_privs or CAP_SYS_ADMIN).
    fn seccomp_load(&self, prog: &[libc::sock_filter]) -> SysResult;

    // Joining a running container's namespaces (`nsjoin`) and the child's
    // session and stdio. Kept together, apart from the blocks above.

    /// The inode of the namespace a /proc/PID/ns/TYPE link names (stat(2)
    /// follows it): two links name the same namespace when these are equal.
    fn ns_inode(&self, path: &CStr) -> SysResult<u64>;
    /// open(2) O_RDONLY|O_CLOEXEC: a namespace file to pass to setns.
    fn open_read(&self, path: &CStr) -> SysResult<i32>;
    fn setsid(&self) -> SysResult;
    /// ioctl(TIOCSCTTY): make the tty `fd` this session's controlling terminal.
    fn set_controlling_tty(&self, fd: i32) -> SysResult;
    fn dup2(&self, from: i32, to: i32) -> SysResult;
    /// Clear FD_CLOEXEC on `fd` (a dup2 onto itself would keep it).
    fn clear_cloexec(&self, fd: i32) -> SysResult;
}
