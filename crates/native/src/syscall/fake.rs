//! A recording `Syscall` for unit tests: every call is appended to a log as
//! a readable string, and chosen calls can be made to fail.

use super::{Errno, SysResult, Syscall};
use std::cell::RefCell;
use std::ffi::CStr;

#[derive(Default)]
pub struct Recorder {
    pub calls: RefCell<Vec<String>>,
    /// (prefix of the call string, errno): the first matching call fails.
    pub fail: RefCell<Vec<(String, i32)>>,
    /// The last fd handed out; the first is 100, so recorded fds are easy to spot.
    next_fd: std::cell::Cell<i32>,
    /// What `ns_inode` answers per path; a path not here is ENOENT.
    pub ns: RefCell<std::collections::HashMap<String, u64>>,
}

fn s(c: &CStr) -> String {
    c.to_string_lossy().into_owned()
}

fn o(c: Option<&CStr>) -> String {
    c.map_or_else(|| "-".to_string(), s)
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn fail_on(&self, prefix: &str, errno: i32) {
        self.fail.borrow_mut().push((prefix.to_string(), errno));
    }
    pub fn set_ns(&self, path: &str, inode: u64) {
        self.ns.borrow_mut().insert(path.to_string(), inode);
    }
    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
    fn record_fd(&self, call: String) -> SysResult<i32> {
        self.record(call)?;
        let fd = self.next_fd.get().max(99) + 1;
        self.next_fd.set(fd);
        Ok(fd)
    }
    fn record(&self, call: String) -> SysResult {
        let mut fail = self.fail.borrow_mut();
        let hit = fail.iter().position(|(p, _)| call.starts_with(p.as_str()));
        self.calls.borrow_mut().push(call);
        match hit {
            Some(i) => Err(Errno(fail.remove(i).1)),
            None => Ok(()),
        }
    }
}

impl Syscall for Recorder {
    fn mount(&self, source: Option<&CStr>, target: &CStr, fstype: Option<&CStr>, flags: u64, data: Option<&CStr>) -> SysResult {
        self.record(format!("mount {} {} {} {:#x} {}", o(source), s(target), o(fstype), flags, o(data)))
    }
    fn umount2(&self, target: &CStr, flags: i32) -> SysResult {
        self.record(format!("umount2 {} {}", s(target), flags))
    }
    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult {
        self.record(format!("pivot_root {} {}", s(new_root), s(put_old)))
    }
    fn chroot(&self, path: &CStr) -> SysResult {
        self.record(format!("chroot {}", s(path)))
    }
    fn chdir(&self, path: &CStr) -> SysResult {
        self.record(format!("chdir {}", s(path)))
    }
    fn mkdir(&self, path: &CStr, mode: u32) -> SysResult {
        self.record(format!("mkdir {} {:o}", s(path), mode))
    }
    fn chown(&self, path: &CStr, uid: u32, gid: u32) -> SysResult {
        self.record(format!("chown {} {}:{}", s(path), uid, gid))
    }
    fn chmod(&self, path: &CStr, mode: u32) -> SysResult {
        self.record(format!("chmod {} {:o}", s(path), mode))
    }
    fn mknod(&self, path: &CStr, mode: u32, dev: u64) -> SysResult {
        self.record(format!("mknod {} {:o} {}:{}", s(path), mode, libc::major(dev), libc::minor(dev)))
    }
    fn symlink(&self, target: &CStr, link: &CStr) -> SysResult {
        self.record(format!("symlink {} {}", s(target), s(link)))
    }
    fn touch(&self, path: &CStr, mode: u32) -> SysResult {
        self.record(format!("touch {} {:o}", s(path), mode))
    }
    fn sethostname(&self, name: &[u8]) -> SysResult {
        self.record(format!("sethostname {}", String::from_utf8_lossy(name)))
    }
    fn unshare(&self, flags: i32) -> SysResult {
        self.record(format!("unshare {:#x}", flags))
    }
    fn setns(&self, fd: i32, nstype: i32) -> SysResult {
        self.record(format!("setns {} {:#x}", fd, nstype))
    }
    fn setgroups(&self, gids: &[u32]) -> SysResult {
        self.record(format!("setgroups {:?}", gids))
    }
    fn setresgid(&self, gid: u32) -> SysResult {
        self.record(format!("setresgid {}", gid))
    }
    fn setresuid(&self, uid: u32) -> SysResult {
        self.record(format!("setresuid {}", uid))
    }
    fn capbset_drop(&self, cap: u32) -> SysResult {
        self.record(format!("capbset_drop {}", cap))
    }
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult {
        self.record(format!("capset {:#x} {:#x} {:#x}", effective, permitted, inheritable))
    }
    fn clear_ambient_caps(&self) -> SysResult {
        self.record("clear_ambient_caps".to_string())
    }
    fn set_no_new_privs(&self) -> SysResult {
        self.record("set_no_new_privs".to_string())
    }
    fn set_pdeathsig(&self, sig: i32) -> SysResult {
        self.record(format!("set_pdeathsig {}", sig))
    }
    fn umask(&self, mask: u32) {
        let _ = self.record(format!("umask {:o}", mask));
    }
    fn loopback_up(&self) -> SysResult {
        self.record("loopback_up".to_string())
    }
    fn fsopen(&self, fstype: &CStr) -> SysResult<i32> {
        self.record_fd(format!("fsopen {}", s(fstype)))
    }
    fn fsconfig_string(&self, fd: i32, key: &CStr, value: &CStr) -> SysResult {
        self.record(format!("fsconfig {} {} {}", fd, s(key), s(value)))
    }
    fn fsconfig_flag(&self, fd: i32, key: &CStr) -> SysResult {
        self.record(format!("fsconfig {} flag {}", fd, s(key)))
    }
    fn fsconfig_create(&self, fd: i32) -> SysResult {
        self.record(format!("fsconfig {} create", fd))
    }
    fn fsmount(&self, fd: i32, attrs: u64) -> SysResult<i32> {
        self.record_fd(format!("fsmount {} {:#x}", fd, attrs))
    }
    fn move_mount(&self, fd: i32, target: &CStr) -> SysResult {
        self.record(format!("move_mount {} {}", fd, s(target)))
    }
    fn open_dir_path(&self, path: &CStr) -> SysResult<i32> {
        self.record_fd(format!("open_path {}", s(path)))
    }
    fn close(&self, fd: i32) {
        let _ = self.record(format!("close {}", fd));
    }

    fn write_timens_offsets(&self) -> SysResult {
        self.record("write_timens_offsets".to_string())
    }
    fn enter_time_for_children(&self) -> SysResult {
        self.record("enter_time_for_children".to_string())
    }
    fn cloexec_from(&self, from: u32) -> SysResult {
        self.record(format!("cloexec_from {}", from))
    }
    fn seccomp_load(&self, prog: &[libc::sock_filter]) -> SysResult {
        self.record(format!("seccomp_load {}", prog.len()))
    }

    fn ns_inode(&self, path: &CStr) -> SysResult<u64> {
        self.record(format!("ns_inode {}", s(path)))?;
        self.ns.borrow().get(&s(path)).copied().ok_or(Errno(libc::ENOENT))
    }
    fn open_read(&self, path: &CStr) -> SysResult<i32> {
        self.record_fd(format!("open_read {}", s(path)))
    }
    fn setsid(&self) -> SysResult {
        self.record("setsid".to_string())
    }
    fn set_controlling_tty(&self, fd: i32) -> SysResult {
        self.record(format!("set_controlling_tty {}", fd))
    }
    fn dup2(&self, from: i32, to: i32) -> SysResult {
        self.record(format!("dup2 {} {}", from, to))
    }
    fn clear_cloexec(&self, fd: i32) -> SysResult {
        self.record(format!("clear_cloexec {}", fd))
    }
}
