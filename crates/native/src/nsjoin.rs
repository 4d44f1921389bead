//! Joining a running container's namespaces (`exec`), over the syscall seam.
//!
//! Two halves, because they run in different processes:
//! - `open` runs in the caller (Node, allocation allowed): for each
//!   namespace type, in join order, it compares the container's
//!   /proc/PID/ns/TYPE with ours and opens the ones that differ. Every fd it
//!   opened is closed again on any failure and when the `NsFds` drops.
//! - `enter` runs in the forked setns helper (raw syscalls only): setns on
//!   each fd, in the same order.
//!
//! The order (youki's, see ../shared/STYLE.md): user first, so that the
//! joins after it are checked against the container's user namespace, and
//! mount last, because joining it changes what /proc paths resolve to. pid
//! only affects the helper's later children (the launched process), which is
//! what exec wants. The time namespace is the one PID 1 entered at exec (the
//! child unshares it and enters its time_for_children before exec), so
//! joining /proc/PID/ns/time gives the exec'd process the container's clocks.

use crate::error::{Code, NativeError, NativeResult};
use crate::syscall::{SysResult, Syscall};
use std::ffi::CString;

/// Namespace types in join order, with their setns flag.
pub const ORDER: [(&str, i32); 8] = [
    ("user", libc::CLONE_NEWUSER),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("pid", libc::CLONE_NEWPID),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("time", libc::CLONE_NEWTIME),
    ("mnt", libc::CLONE_NEWNS),
];

/// Open namespace fds with their setns flags, in join order; closed on drop.
pub struct NsFds<'a> {
    sys: &'a dyn Syscall,
    fds: Vec<(i32, i32)>,
}

impl NsFds<'_> {
    pub fn as_slice(&self) -> &[(i32, i32)] {
        &self.fds
    }
}

impl Drop for NsFds<'_> {
    fn drop(&mut self) {
        for (fd, _) in &self.fds {
            self.sys.close(*fd);
        }
    }
}

fn ns_path(pid: &str, name: &str) -> CString {
    // A decimal pid or "self" and a fixed name: never a NUL byte.
    CString::new(format!("/proc/{}/ns/{}", pid, name)).expect("no NUL in a /proc ns path")
}

/// Opens the namespaces of `target_pid` that differ from ours. A type both
/// lack is one this kernel does not have (time before 5.6) and is skipped;
/// a type only the target lacks means the process is gone.
pub fn open(sys: &dyn Syscall, target_pid: i32) -> NativeResult<NsFds<'_>> {
    let pid = target_pid.to_string();
    let mut out = NsFds { sys, fds: Vec::with_capacity(ORDER.len()) };
    for (name, flag) in ORDER {
        let target = ns_path(&pid, name);
        match (sys.ns_inode(&target), sys.ns_inode(&ns_path("self", name))) {
            (Ok(t), Ok(o)) if t == o => continue, // shared with us (e.g. --network host)
            (Err(_), Err(_)) => continue,
            (Ok(_), _) => {}
            // `out` drops here and closes what was opened so far.
            (Err(e), _) => return Err(NativeError::errno(Code::Spawn, format_args!("container process {} is gone", target_pid), e)),
        }
        let fd = sys.open_read(&target).map_err(|e| NativeError::errno(Code::Spawn, format_args!("open {}", target.to_string_lossy()), e))?;
        out.fds.push((fd, flag));
    }
    Ok(out)
}

/// setns on each fd in order; stops at the first that fails. Makes raw
/// syscalls only (it runs in a forked child of a threaded process).
pub fn enter(sys: &dyn Syscall, fds: &[(i32, i32)]) -> SysResult {
    for (fd, nstype) in fds {
        sys.setns(*fd, *nstype)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::fake::Recorder;
    use crate::syscall::Errno;

    /// Our namespaces are inodes 1..=8; the container's differ except where `shared` says.
    fn host(rec: &Recorder, pid: i32, shared: &[&str], missing: &[&str]) {
        for (i, (name, _)) in ORDER.iter().enumerate() {
            if missing.contains(name) {
                continue;
            }
            rec.set_ns(&format!("/proc/self/ns/{}", name), i as u64 + 1);
            let theirs = if shared.contains(name) { i as u64 + 1 } else { i as u64 + 101 };
            rec.set_ns(&format!("/proc/{}/ns/{}", pid, name), theirs);
        }
    }

    fn opens(calls: &[String]) -> Vec<String> {
        calls.iter().filter(|c| c.starts_with("open_read")).cloned().collect()
    }

    #[test]
    fn opens_user_first_and_mount_last_skipping_shared_and_absent_types() {
        let rec = Recorder::new();
        host(&rec, 42, &["net"], &["time"]);
        let fds = open(&rec, 42).unwrap();
        let want: Vec<String> = ["user", "ipc", "uts", "pid", "cgroup", "mnt"].iter().map(|n| format!("open_read /proc/42/ns/{}", n)).collect();
        assert_eq!(opens(&rec.calls()), want);
        // Each open follows the comparison of that type.
        assert_eq!(&rec.calls()[0..3], &["ns_inode /proc/42/ns/user", "ns_inode /proc/self/ns/user", "open_read /proc/42/ns/user"]);
        let flags: Vec<i32> = fds.as_slice().iter().map(|(_, f)| *f).collect();
        assert_eq!(flags, vec![libc::CLONE_NEWUSER, libc::CLONE_NEWIPC, libc::CLONE_NEWUTS, libc::CLONE_NEWPID, libc::CLONE_NEWCGROUP, libc::CLONE_NEWNS]);
        assert_eq!(fds.as_slice()[0].0, 100);
        drop(fds);
        let calls = rec.calls();
        assert_eq!(&calls[calls.len() - 6..], &["close 100", "close 101", "close 102", "close 103", "close 104", "close 105"]);
    }

    #[test]
    fn a_vanished_process_is_an_error_and_what_was_opened_is_closed() {
        let rec = Recorder::new();
        host(&rec, 42, &[], &[]);
        // The container's pid namespace link is gone (the process exited mid-way).
        rec.ns.borrow_mut().remove("/proc/42/ns/pid");
        let err = open(&rec, 42).err().unwrap();
        assert_eq!(err.code, Code::Spawn);
        assert_eq!(err.errno, Some(libc::ENOENT));
        assert!(err.message.starts_with("container process 42 is gone: "), "{}", err);
        let calls = rec.calls();
        assert_eq!(opens(&calls).len(), 4); // user ipc uts net
        assert_eq!(&calls[calls.len() - 4..], &["close 100", "close 101", "close 102", "close 103"]);
    }

    #[test]
    fn a_failed_open_closes_the_earlier_fds_only() {
        let rec = Recorder::new();
        host(&rec, 7, &[], &[]);
        rec.fail_on("open_read /proc/7/ns/uts", libc::EACCES);
        let err = open(&rec, 7).err().unwrap();
        assert_eq!((err.code, err.errno), (Code::Spawn, Some(libc::EACCES)));
        assert!(err.message.starts_with("open /proc/7/ns/uts: "), "{}", err);
        let calls = rec.calls();
        assert_eq!(calls.last().map(String::as_str), Some("close 101"));
        assert_eq!(calls.iter().filter(|c| c.starts_with("close")).count(), 2);
        assert!(!calls.iter().any(|c| c.contains("/ns/net")), "stopped at uts: {:?}", calls);
    }

    #[test]
    fn the_first_type_missing_closes_nothing() {
        let rec = Recorder::new();
        host(&rec, 9, &[], &[]);
        rec.ns.borrow_mut().remove("/proc/9/ns/user");
        assert!(open(&rec, 9).is_err());
        assert!(!rec.calls().iter().any(|c| c.starts_with("close") || c.starts_with("open_read")));
    }

    #[test]
    fn the_real_kernel_agrees_our_own_namespaces_need_no_join() {
        // Needs no root: our own /proc/self/ns links are always readable.
        let sys = crate::syscall::linux::Linux;
        assert!(open(&sys, std::process::id() as i32).unwrap().as_slice().is_empty());
        let gone = open(&sys, i32::MAX).err().unwrap();
        assert_eq!((gone.code, gone.errno), (Code::Spawn, Some(libc::ENOENT)));
    }

    #[test]
    fn enter_joins_in_order_and_stops_at_the_first_failure() {
        let rec = Recorder::new();
        let fds = [(100, libc::CLONE_NEWUSER), (101, libc::CLONE_NEWPID), (102, libc::CLONE_NEWNS)];
        enter(&rec, &fds).unwrap();
        assert_eq!(rec.calls(), vec![format!("setns 100 {:#x}", libc::CLONE_NEWUSER), format!("setns 101 {:#x}", libc::CLONE_NEWPID), format!("setns 102 {:#x}", libc::CLONE_NEWNS)]);
        let rec = Recorder::new();
        rec.fail_on("setns 101", libc::EINVAL);
        assert_eq!(enter(&rec, &fds), Err(Errno(libc::EINVAL)));
        assert_eq!(rec.calls().len(), 2);
    }
}
