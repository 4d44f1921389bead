//! Rootless mode: the user and mount namespace tsbuild re-executes itself in
//! when an ordinary user runs it.
//!
//! As buildah's pkg/unshare does: the (unprivileged, multi-threaded) Node
//! process clones a child with CLONE_NEWUSER | CLONE_NEWNS. The child blocks
//! on a sync pipe while the parent has the setuid newuidmap/newgidmap write
//! its id maps (the user's own id as 0, then the subordinate ranges), then
//! becomes uid/gid 0 of the namespace and execs the same CLI again. From
//! there on everything runs as "root" of that namespace: layer unpacks chown
//! to mapped ids, overlays are mounted with `userxattr`, containers are
//! cloned from it. Its mounts live in its own mount namespace, so they die
//! with it. The child makes raw syscalls only until exec (it was cloned from
//! a threaded process); its steps go through the `Syscall` seam.
//!
//! Join mode: while a detached container of the store runs, later CLIs
//! join its user namespace instead (setns, then a mount namespace of their
//! own), because a sibling namespace could neither open the container's
//! namespaces for `exec` nor signal its non-root processes. The maps are
//! already written there, so the parent releases the child at once.

use crate::rawio::read_full;
use crate::syscall::{Errno, SysResult, Syscall};
use std::ffi::CString;

/// The namespaces the re-executed CLI gets.
pub const CLONE_FLAGS: i32 = libc::CLONE_NEWUSER | libc::CLONE_NEWNS;

/// What the child does between clone and exec, given a way to wait for
/// the parent's go (true: the maps are written; false: the parent gave up).
/// The parent dying first (kill -9) kills the CLI too, as kill -9 of a root
/// CLI would: its containers then die by their own parent-death signal and
/// the next start cleans up, exactly as for root. (SIGTERM would be
/// forwarded by `run` to a PID 1 that may ignore it, and nothing would end.)
/// `join`: an fd of the user namespace to join (join mode), else the
/// clone made a new one.
pub fn enter(sys: &dyn Syscall, join: Option<i32>, wait_go: &mut dyn FnMut() -> SysResult<bool>) -> SysResult {
    sys.set_pdeathsig(libc::SIGKILL)?;
    if !wait_go()? {
        return Err(Errno(libc::ECANCELED));
    }
    if let Some(fd) = join {
        // User first: the mount namespace is then owned by (and unshared with caps in) it.
        sys.setns(fd, libc::CLONE_NEWUSER)?;
        sys.unshare(libc::CLONE_NEWNS)?;
        sys.close(fd);
    }
    // Fails with EINVAL when 0 is not mapped: a map that did not take.
    sys.setresgid(0)?;
    sys.setresuid(0)?;
    Ok(())
}

/// The child's half of the protocol, then exec. Never returns.
fn child_main(sync_fd: i32, join: Option<i32>, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> ! {
    let sys = crate::syscall::linux::Linux;
    let mut wait_go = || -> SysResult<bool> {
        let mut b = [0u8; 1];
        Ok(read_full(sync_fd, &mut b)? == 1 && b[0] == b'g')
    };
    let code = match enter(&sys, join, &mut wait_go) {
        Ok(()) => {
            // Node marks its stdio close-on-exec; the inner CLI needs it.
            for fd in 0..3 {
                unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
            }
            unsafe { libc::execve(argv[0], argv.as_ptr(), envp.as_ptr()) };
            127
        }
        Err(_) => 125,
    };
    unsafe { libc::_exit(code) }
}

/// A child waiting for its id maps: its pid and the write end of its sync pipe.
pub struct Pending {
    pub pid: i32,
    pub sync_fd: i32,
}

fn cstrings(v: &[String]) -> Result<Vec<CString>, String> {
    v.iter().map(|s| CString::new(s.as_str()).map_err(|_| format!("NUL byte in {:?}", s))).collect()
}

/// Clones the child (see the module comment). `argv[0]` is the path to exec;
/// `join_pid`: join that process's user namespace instead of making one.
pub fn spawn(argv: &[String], env: &[String], join_pid: Option<i32>) -> Result<Pending, String> {
    if argv.is_empty() {
        return Err("no program to execute".into());
    }
    // Everything the child needs is built here, before the clone.
    let args = cstrings(argv)?;
    let envs = cstrings(env)?;
    let mut argp: Vec<*const libc::c_char> = args.iter().map(|c| c.as_ptr()).collect();
    argp.push(std::ptr::null());
    let mut envpp: Vec<*const libc::c_char> = envs.iter().map(|c| c.as_ptr()).collect();
    envpp.push(std::ptr::null());
    let join = match join_pid {
        Some(pid) => {
            let path = CString::new(format!("/proc/{}/ns/user", pid)).expect("no NUL");
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
            if fd < 0 {
                return Err(format!("opening the user namespace of {}: {}", pid, std::io::Error::last_os_error()));
            }
            Some(fd)
        }
        None => None,
    };
    let close_join = || {
        if let Some(fd) = join {
            unsafe { libc::close(fd) };
        }
    };
    let mut fds = [0i32; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        close_join();
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    let flags = if join.is_some() { 0 } else { CLONE_FLAGS };
    let pid = unsafe { libc::syscall(libc::SYS_clone, (flags | libc::SIGCHLD) as libc::c_ulong, 0usize, 0usize, 0usize, 0usize) };
    if pid == 0 {
        unsafe { libc::close(fds[1]) };
        child_main(fds[0], join, &argp, &envpp);
    }
    let err = std::io::Error::last_os_error();
    unsafe { libc::close(fds[0]) };
    close_join();
    if pid < 0 {
        unsafe { libc::close(fds[1]) };
        return Err(match err.raw_os_error() {
            Some(libc::EPERM) | Some(libc::ENOSPC) | Some(libc::EUSERS) => format!(
                "creating a user namespace: {} (is kernel.unprivileged_userns_clone or user.max_user_namespaces set to 0?)",
                err
            ),
            _ => format!("creating a user namespace: {}", err),
        });
    }
    Ok(Pending { pid: pid as i32, sync_fd: fds[1] })
}

/// Lets the child go on (`go`) or makes it exit (it then reports 125), and
/// closes the sync pipe.
pub fn release(sync_fd: i32, go: bool) -> Result<(), String> {
    let r = if go { crate::rawio::write_all(sync_fd, b"g") } else { Ok(()) };
    unsafe { libc::close(sync_fd) };
    r.map_err(|e| format!("releasing the namespace child: {}", std::io::Error::from_raw_os_error(e.0)))
}

/// The identity map of the initial user namespace, as /proc/self/uid_map shows it.
fn is_initial_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// True when this process runs in a user namespace other than the initial
/// one (rootless mode, `podman unshare`, a user-namespaced container):
/// no mknod of devices, and overlay must keep its xattrs in `user.overlay.*`.
pub fn in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(m) => !is_initial_map(&m),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::fake::Recorder;

    #[test]
    fn the_child_waits_for_its_maps_then_becomes_root_of_the_namespace() {
        let rec = Recorder::new();
        let mut go = || Ok(true);
        enter(&rec, None, &mut go).unwrap();
        assert_eq!(rec.calls(), ["set_pdeathsig 9", "setresgid 0", "setresuid 0"]);
    }

    #[test]
    fn joining_enters_the_user_namespace_before_its_own_mount_namespace() {
        let rec = Recorder::new();
        let mut go = || Ok(true);
        enter(&rec, Some(7), &mut go).unwrap();
        let user = format!("setns 7 {:#x}", libc::CLONE_NEWUSER);
        let mnt = format!("unshare {:#x}", libc::CLONE_NEWNS);
        assert_eq!(rec.calls(), ["set_pdeathsig 9", user.as_str(), mnt.as_str(), "close 7", "setresgid 0", "setresuid 0"]);
    }

    #[test]
    fn a_namespace_that_cannot_be_joined_stops_the_child() {
        let rec = Recorder::new();
        rec.fail_on("setns", libc::EPERM);
        let mut go = || Ok(true);
        assert_eq!(enter(&rec, Some(7), &mut go), Err(Errno(libc::EPERM)));
        assert!(!rec.calls().iter().any(|c| c.starts_with("unshare") || c.starts_with("setres")));
    }

    #[test]
    fn a_parent_that_gives_up_stops_the_child_before_any_id_change() {
        let rec = Recorder::new();
        let mut go = || Ok(false);
        assert_eq!(enter(&rec, None, &mut go), Err(Errno(libc::ECANCELED)));
        assert_eq!(rec.calls(), ["set_pdeathsig 9"]);
    }

    #[test]
    fn an_unmapped_root_is_an_error_not_a_silent_nobody() {
        let rec = Recorder::new();
        rec.fail_on("setresgid", libc::EINVAL);
        let mut go = || Ok(true);
        assert_eq!(enter(&rec, None, &mut go), Err(Errno(libc::EINVAL)));
        assert!(!rec.calls().iter().any(|c| c.starts_with("setresuid")));
    }

    #[test]
    fn recognises_the_initial_namespace_map() {
        assert!(is_initial_map("         0          0 4294967295\n"));
        assert!(!is_initial_map("         0       1001          1\n         1     500000      65536\n"));
    }

    #[test]
    fn clones_a_user_and_a_mount_namespace() {
        assert_eq!(CLONE_FLAGS, libc::CLONE_NEWUSER | libc::CLONE_NEWNS);
    }
}
