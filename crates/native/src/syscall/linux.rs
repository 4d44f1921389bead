//! The real `Syscall`: thin libc calls, nothing else.

use super::{Errno, SysResult, Syscall};
use crate::rawio::Dec;
use std::ffi::CStr;
use std::ptr::null;

pub struct Linux;

fn check(rc: libc::c_long) -> SysResult {
    if rc < 0 { Err(Errno::last()) } else { Ok(()) }
}

fn check_fd(rc: libc::c_long) -> SysResult<i32> {
    if rc < 0 { Err(Errno::last()) } else { Ok(rc as i32) }
}

fn opt_ptr(s: Option<&CStr>) -> *const libc::c_char {
    s.map_or(null(), |c| c.as_ptr())
}

impl Syscall for Linux {
    fn mount(&self, source: Option<&CStr>, target: &CStr, fstype: Option<&CStr>, flags: u64, data: Option<&CStr>) -> SysResult {
        check(unsafe { libc::mount(opt_ptr(source), target.as_ptr(), opt_ptr(fstype), flags as libc::c_ulong, opt_ptr(data) as *const libc::c_void) } as libc::c_long)
    }
    fn umount2(&self, target: &CStr, flags: i32) -> SysResult {
        check(unsafe { libc::umount2(target.as_ptr(), flags) } as libc::c_long)
    }
    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult {
        check(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) })
    }
    fn chroot(&self, path: &CStr) -> SysResult {
        check(unsafe { libc::chroot(path.as_ptr()) } as libc::c_long)
    }
    fn chdir(&self, path: &CStr) -> SysResult {
        check(unsafe { libc::chdir(path.as_ptr()) } as libc::c_long)
    }
    fn mkdir(&self, path: &CStr, mode: u32) -> SysResult {
        check(unsafe { libc::mkdir(path.as_ptr(), mode) } as libc::c_long)
    }
    fn chown(&self, path: &CStr, uid: u32, gid: u32) -> SysResult {
        check(unsafe { libc::chown(path.as_ptr(), uid, gid) } as libc::c_long)
    }
    fn chmod(&self, path: &CStr, mode: u32) -> SysResult {
        check(unsafe { libc::chmod(path.as_ptr(), mode) } as libc::c_long)
    }
    fn mknod(&self, path: &CStr, mode: u32, dev: u64) -> SysResult {
        check(unsafe { libc::mknod(path.as_ptr(), mode, dev) } as libc::c_long)
    }
    fn symlink(&self, target: &CStr, link: &CStr) -> SysResult {
        check(unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) } as libc::c_long)
    }
    fn touch(&self, path: &CStr, mode: u32) -> SysResult {
        // O_EXCL: an existing file is fine as it is, and opening it for
        // writing would need a permission a user namespace's root lacks on
        // host-owned files such as /proc/meminfo.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_RDONLY | libc::O_CLOEXEC, mode) };
        if fd < 0 {
            let e = Errno::last();
            return if e.0 == libc::EEXIST { Ok(()) } else { Err(e) };
        }
        unsafe { libc::close(fd) };
        Ok(())
    }
    fn sethostname(&self, name: &[u8]) -> SysResult {
        check(unsafe { libc::sethostname(name.as_ptr() as *const libc::c_char, name.len()) } as libc::c_long)
    }
    fn unshare(&self, flags: i32) -> SysResult {
        check(unsafe { libc::unshare(flags) } as libc::c_long)
    }
    fn setns(&self, fd: i32, nstype: i32) -> SysResult {
        check(unsafe { libc::setns(fd, nstype) } as libc::c_long)
    }
    fn setgroups(&self, gids: &[u32]) -> SysResult {
        // The raw syscall, not glibc's wrapper: glibc broadcasts setgroups to
        // all threads with a signal, which is unnecessary in a fresh child.
        check(unsafe { libc::syscall(libc::SYS_setgroups, gids.len(), gids.as_ptr()) })
    }
    fn setresgid(&self, gid: u32) -> SysResult {
        check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })
    }
    fn setresuid(&self, uid: u32) -> SysResult {
        check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) })
    }
    fn capbset_drop(&self, cap: u32) -> SysResult {
        check(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } as libc::c_long)
    }
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult {
        #[repr(C)]
        struct Header { version: u32, pid: i32 }
        #[repr(C)]
        struct Data { effective: u32, permitted: u32, inheritable: u32 }
        const VERSION_3: u32 = 0x2008_0522;
        let header = Header { version: VERSION_3, pid: 0 };
        let data = [
            Data { effective: effective as u32, permitted: permitted as u32, inheritable: inheritable as u32 },
            Data { effective: (effective >> 32) as u32, permitted: (permitted >> 32) as u32, inheritable: (inheritable >> 32) as u32 },
        ];
        check(unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) })
    }
    fn clear_ambient_caps(&self) -> SysResult {
        check(unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0) } as libc::c_long)
    }
    fn set_no_new_privs(&self) -> SysResult {
        check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) } as libc::c_long)
    }
    fn set_pdeathsig(&self, sig: i32) -> SysResult {
        check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) } as libc::c_long)
    }
    fn umask(&self, mask: u32) {
        unsafe { libc::umask(mask) };
    }
    fn loopback_up(&self) -> SysResult {
        let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if sock < 0 {
            return Err(Errno::last());
        }
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut rc = unsafe { libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) };
        if rc == 0 {
            unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
            rc = unsafe { libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) };
        }
        let err = Errno::last();
        unsafe { libc::close(sock) };
        if rc < 0 { Err(err) } else { Ok(()) }
    }
    fn fsopen(&self, fstype: &CStr) -> SysResult<i32> {
        const FSOPEN_CLOEXEC: libc::c_uint = 1;
        check_fd(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })
    }
    fn fsconfig_string(&self, fd: i32, key: &CStr, value: &CStr) -> SysResult {
        const FSCONFIG_SET_STRING: libc::c_uint = 1;
        check(unsafe { libc::syscall(libc::SYS_fsconfig, fd, FSCONFIG_SET_STRING, key.as_ptr(), value.as_ptr(), 0) })
    }
    fn fsconfig_flag(&self, fd: i32, key: &CStr) -> SysResult {
        const FSCONFIG_SET_FLAG: libc::c_uint = 0;
        check(unsafe { libc::syscall(libc::SYS_fsconfig, fd, FSCONFIG_SET_FLAG, key.as_ptr(), null::<libc::c_void>(), 0) })
    }
    fn fsconfig_create(&self, fd: i32) -> SysResult {
        const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
        check(unsafe { libc::syscall(libc::SYS_fsconfig, fd, FSCONFIG_CMD_CREATE, null::<libc::c_char>(), null::<libc::c_void>(), 0) })
    }
    fn fsmount(&self, fd: i32, attrs: u64) -> SysResult<i32> {
        const FSMOUNT_CLOEXEC: libc::c_uint = 1;
        check_fd(unsafe { libc::syscall(libc::SYS_fsmount, fd, FSMOUNT_CLOEXEC, attrs as libc::c_uint) })
    }
    fn move_mount(&self, fd: i32, target: &CStr) -> SysResult {
        const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
        check(unsafe { libc::syscall(libc::SYS_move_mount, fd, c"".as_ptr(), libc::AT_FDCWD, target.as_ptr(), MOVE_MOUNT_F_EMPTY_PATH) })
    }
    fn open_dir_path(&self, path: &CStr) -> SysResult<i32> {
        check_fd(unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) } as libc::c_long)
    }
    fn close(&self, fd: i32) {
        unsafe { libc::close(fd) };
    }

    fn write_timens_offsets(&self) -> SysResult {
        // "monotonic -S 0\nboottime -S 0\n" with S the clock's current seconds:
        // the namespace's clocks then start below one second. Built on the stack.
        let mut buf = [0u8; 96];
        let mut len = 0;
        for (name, clock) in [(&b"monotonic -"[..], libc::CLOCK_MONOTONIC), (&b"boottime -"[..], libc::CLOCK_BOOTTIME)] {
            let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
            if unsafe { libc::clock_gettime(clock, &mut ts) } < 0 {
                return Err(Errno::last());
            }
            for part in [name, Dec::new(ts.tv_sec as u64).as_bytes(), &b" 0\n"[..]] {
                buf[len..len + part.len()].copy_from_slice(part);
                len += part.len();
            }
        }
        let fd = unsafe { libc::open(c"/proc/self/timens_offsets".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(Errno::last());
        }
        // The kernel parses the offsets from one write.
        let n = unsafe { libc::write(fd, buf.as_ptr() as *const libc::c_void, len) };
        let e = Errno::last();
        unsafe { libc::close(fd) };
        if n < 0 { Err(e) } else { Ok(()) }
    }
    fn enter_time_for_children(&self) -> SysResult {
        let fd = unsafe { libc::open(c"/proc/self/ns/time_for_children".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(Errno::last());
        }
        let rc = unsafe { libc::setns(fd, libc::CLONE_NEWTIME) };
        let e = Errno::last();
        unsafe { libc::close(fd) };
        if rc < 0 { Err(e) } else { Ok(()) }
    }
    fn cloexec_from(&self, from: u32) -> SysResult {
        check(unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) })
    }
    fn seccomp_load(&self, prog: &[libc::sock_filter]) -> SysResult {
        let fprog = libc::sock_fprog { len: prog.len() as libc::c_ushort, filter: prog.as_ptr() as *mut libc::sock_filter };
        check(unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0u32, &fprog as *const libc::sock_fprog) })
    }

    fn ns_inode(&self, path: &CStr) -> SysResult<u64> {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        check(unsafe { libc::stat(path.as_ptr(), &mut st) } as libc::c_long)?;
        Ok(st.st_ino)
    }
    fn open_read(&self, path: &CStr) -> SysResult<i32> {
        check_fd(unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) } as libc::c_long)
    }
    fn setsid(&self) -> SysResult {
        check(unsafe { libc::setsid() } as libc::c_long)
    }
    fn set_controlling_tty(&self, fd: i32) -> SysResult {
        check(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } as libc::c_long)
    }
    fn dup2(&self, from: i32, to: i32) -> SysResult {
        check(unsafe { libc::dup2(from, to) } as libc::c_long)
    }
    fn clear_cloexec(&self, fd: i32) -> SysResult {
        check(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } as libc::c_long)
    }
}
