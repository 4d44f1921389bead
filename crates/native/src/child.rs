//! What the cloned child does between clone and exec, as one ordered
//! sequence over the `Syscall` seam. It runs in the child of a
//! multi-threaded process, so it only reads pre-built data and makes raw
//! syscalls: no allocation, no locks, no Rust std I/O.
//!
//! Order matters and is the point of this module:
//! wait for the parent (cgroup joined, id maps written) → signal state reset
//! → time namespace (unshare(CLONE_NEWTIME) moves only the caller's future
//! children, so: unshare, zero its clocks while the host's /proc is still
//! mounted and before any id change, then setns into it, which works on
//! every kernel with time namespaces, not only those where exec switches) →
//! namespace root → cgroup namespace (so its root is the container's cgroup)
//! → session and stdio → hostname →
//! loopback → rootfs → cwd → bounding set → groups, gid, uid → capabilities
//! → no_new_privs → parent-death signal again (credential changes clear it)
//! → fds close-on-exec → seccomp filter, last, so that nothing of ours runs
//! under it but execve → exec.

use crate::rootfs::{self, PlannedStep};
use crate::seccomp::Program;
use crate::syscall::{Errno, Syscall};
use std::ffi::CString;

/// Where the child failed, sent to the parent over the error pipe.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Sync = 1,
    CgroupNs = 2,
    Stdio = 3,
    Hostname = 4,
    Loopback = 5,
    Rootfs = 6,
    Cwd = 7,
    Capabilities = 8,
    Groups = 9,
    Gid = 10,
    Uid = 11,
    NoNewPrivs = 12,
    ParentDeath = 13,
    Exec = 14,
    Setns = 15,
    Clone = 16,
    Cgroup = 17,
    IdMap = 18,
    Monitor = 19,
    Seccomp = 20,
    TimeNs = 21,
}

impl Stage {
    pub fn from_u32(n: u32) -> Option<Stage> {
        use Stage::*;
        [Sync, CgroupNs, Stdio, Hostname, Loopback, Rootfs, Cwd, Capabilities, Groups, Gid, Uid, NoNewPrivs, ParentDeath, Exec, Setns, Clone, Cgroup, IdMap, Monitor, Seccomp, TimeNs]
            .into_iter()
            .find(|s| *s as u32 == n)
    }
    pub fn describe(self) -> &'static str {
        use Stage::*;
        match self {
            Sync => "waiting for the parent",
            CgroupNs => "creating the cgroup namespace",
            Stdio => "setting up stdio",
            Hostname => "setting the hostname",
            Loopback => "bringing up the loopback interface",
            Rootfs => "setting up the root filesystem",
            Cwd => "changing to the working directory",
            Capabilities => "setting capabilities",
            Groups => "setting supplementary groups",
            Gid => "setting the group id",
            Uid => "setting the user id",
            NoNewPrivs => "setting no_new_privs",
            ParentDeath => "setting the parent-death signal",
            Exec => "starting the container command",
            Setns => "joining the container's namespaces",
            Clone => "creating the container process",
            Cgroup => "joining the container's cgroup",
            IdMap => "writing user namespace id maps",
            Monitor => "starting the container monitor",
            Seccomp => "loading the seccomp filter",
            TimeNs => "creating the time namespace",
        }
    }
}

/// A failure report: stage, a stage-specific detail (the rootfs step index), errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    pub stage: Stage,
    pub detail: u32,
    pub errno: i32,
}

impl Failure {
    pub fn new(stage: Stage, e: Errno) -> Failure {
        Failure { stage, detail: 0, errno: e.0 }
    }
    pub fn encode(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&(self.stage as u32).to_ne_bytes());
        b[4..8].copy_from_slice(&self.detail.to_ne_bytes());
        b[8..12].copy_from_slice(&self.errno.to_ne_bytes());
        b
    }
    pub fn decode(b: &[u8; 12]) -> Failure {
        let n = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Failure { stage: Stage::from_u32(n(0)).unwrap_or(Stage::Exec), detail: n(4), errno: n(8) as i32 }
    }
}

pub enum Stdio {
    /// Use these fds as 0, 1, 2.
    Fds([i32; 3]),
    /// Make this pty slave the controlling terminal and stdio.
    Tty(i32),
}

/// The process to exec and its credentials.
pub struct ProcessSpec {
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    /// Full paths to try in order ($PATH resolved by the caller).
    pub exec_candidates: Vec<CString>,
    pub cwd: CString,
    /// `cwd` and its ancestors, shortest first, to create if missing.
    pub cwd_ancestors: Vec<CString>,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// Capabilities kept (a bit mask); everything else leaves the bounding set.
    pub caps: u64,
    pub last_cap: u32,
    pub no_new_privs: bool,
    /// Signal to receive when the parent dies (0: none, for detached containers).
    pub pdeathsig: i32,
    /// The compiled seccomp filter; `None` is unconfined.
    pub seccomp: Option<Program>,
}

pub struct ChildSpec {
    /// In a new user namespace: become its root (uid/gid 0 through the maps)
    /// before mounting, since the cloned child still holds host ids that
    /// the namespace does not map.
    pub become_ns_root: bool,
    pub stdio: Stdio,
    pub new_session: bool,
    pub hostname: Option<CString>,
    pub new_cgroup_ns: bool,
    /// A new time namespace whose boot-time and monotonic clocks start at zero.
    pub new_time_ns: bool,
    pub loopback_up: bool,
    pub rootfs: Vec<PlannedStep>,
    pub process: ProcessSpec,
}

/// Null-terminated pointer arrays for execve, built in the parent.
pub struct ExecArgs {
    pub argv: Vec<*const libc::c_char>,
    pub envp: Vec<*const libc::c_char>,
}

impl ExecArgs {
    pub fn new(p: &ProcessSpec) -> ExecArgs {
        let ptrs = |v: &Vec<CString>| v.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        ExecArgs { argv: ptrs(&p.argv), envp: ptrs(&p.envp) }
    }
}

/// Runs every step up to (not including) exec. Separate from `exec` so tests can record it.
pub fn prepare(sys: &dyn Syscall, spec: &ChildSpec, sync_fd: i32) -> Result<(), Failure> {
    let mut go = [0u8; 1];
    match crate::rawio::read_full(sync_fd, &mut go) {
        Ok(1) if go[0] == b'g' => {}
        Ok(_) => return Err(Failure::new(Stage::Sync, Errno(libc::EPIPE))),
        Err(e) => return Err(Failure::new(Stage::Sync, e)),
    }
    if spec.new_time_ns {
        // CLONE_NEWTIME can't be a clone flag (its bit is CSIGNAL's there): unshare it here.
        // Before any id change: that makes us non-dumpable, and /proc/self/timens_offsets
        // would then belong to the host's root, out of reach in a user namespace.
        sys.unshare(libc::CLONE_NEWTIME).map_err(|e| Failure::new(Stage::TimeNs, e))?;
        sys.write_timens_offsets().map_err(|e| Failure::new(Stage::TimeNs, e))?;
        sys.enter_time_for_children().map_err(|e| Failure::new(Stage::TimeNs, e))?;
    }
    if spec.become_ns_root {
        sys.setresgid(0).map_err(|e| Failure::new(Stage::Gid, e))?;
        sys.setresuid(0).map_err(|e| Failure::new(Stage::Uid, e))?;
    }
    if spec.new_cgroup_ns {
        sys.unshare(libc::CLONE_NEWCGROUP).map_err(|e| Failure::new(Stage::CgroupNs, e))?;
    }
    setup_stdio(sys, spec).map_err(|e| Failure::new(Stage::Stdio, e))?;
    sys.umask(0);
    if let Some(h) = &spec.hostname {
        sys.sethostname(h.as_bytes()).map_err(|e| Failure::new(Stage::Hostname, e))?;
    }
    if spec.loopback_up {
        sys.loopback_up().map_err(|e| Failure::new(Stage::Loopback, e))?;
    }
    rootfs::apply(sys, &spec.rootfs).map_err(|(i, e)| Failure { stage: Stage::Rootfs, detail: i as u32, errno: e.0 })?;
    enter_cwd(sys, &spec.process).map_err(|e| Failure::new(Stage::Cwd, e))?;
    set_credentials(sys, &spec.process)?;
    sys.umask(0o022);
    // Every inherited fd but stdio closes at exec.
    sys.cloexec_from(3).map_err(|e| Failure::new(Stage::Stdio, e))?;
    if let Some(prog) = &spec.process.seccomp {
        sys.seccomp_load(prog).map_err(|e| Failure::new(Stage::Seccomp, e))?;
    }
    Ok(())
}

fn setup_stdio(sys: &dyn Syscall, spec: &ChildSpec) -> Result<(), Errno> {
    if spec.new_session {
        sys.setsid()?;
    }
    let fds = match spec.stdio {
        Stdio::Fds(fds) => fds,
        Stdio::Tty(slave) => {
            sys.set_controlling_tty(slave)?;
            [slave; 3]
        }
    };
    for (target, fd) in fds.iter().enumerate() {
        let target = target as i32;
        // dup2 onto itself keeps FD_CLOEXEC (Node sets it on some stdio fds), so clear it explicitly.
        if *fd == target { sys.clear_cloexec(target)? } else { sys.dup2(*fd, target)? }
    }
    Ok(())
}

fn enter_cwd(sys: &dyn Syscall, p: &ProcessSpec) -> Result<(), Errno> {
    match sys.chdir(&p.cwd) {
        Err(e) if e.0 == libc::ENOENT => {
            // Docker creates a missing working directory.
            for dir in &p.cwd_ancestors {
                match sys.mkdir(dir, 0o755) {
                    Ok(()) => {}
                    Err(e) if e.0 == libc::EEXIST => {}
                    Err(e) => return Err(e),
                }
            }
            sys.chdir(&p.cwd)
        }
        r => r,
    }
}

fn set_credentials(sys: &dyn Syscall, p: &ProcessSpec) -> Result<(), Failure> {
    let caps = |e| Failure::new(Stage::Capabilities, e);
    for cap in 0..=p.last_cap {
        if p.caps & (1u64 << cap) == 0 {
            match sys.capbset_drop(cap) {
                Ok(()) => {}
                Err(e) if e.0 == libc::EINVAL => {} // not known to this kernel
                Err(e) => return Err(caps(e)),
            }
        }
    }
    sys.clear_ambient_caps().map_err(caps)?;
    sys.setgroups(&p.groups).map_err(|e| Failure::new(Stage::Groups, e))?;
    sys.setresgid(p.gid).map_err(|e| Failure::new(Stage::Gid, e))?;
    sys.setresuid(p.uid).map_err(|e| Failure::new(Stage::Uid, e))?;
    // A non-root uid lost every capability in setresuid; root keeps exactly the set.
    let kept = if p.uid == 0 { p.caps } else { 0 };
    sys.capset(kept, kept, 0).map_err(caps)?;
    if p.no_new_privs {
        sys.set_no_new_privs().map_err(|e| Failure::new(Stage::NoNewPrivs, e))?;
    }
    if p.pdeathsig != 0 {
        sys.set_pdeathsig(p.pdeathsig).map_err(|e| Failure::new(Stage::ParentDeath, e))?;
    }
    Ok(())
}

/// Tries each candidate path; returns only on failure. ENOENT-like errors
/// move on to the next candidate; a permission error is remembered so that
/// "found but not executable" wins over "not found", as in a shell.
pub fn exec(p: &ProcessSpec, args: &ExecArgs) -> Failure {
    let mut err = Errno(libc::ENOENT);
    for path in &p.exec_candidates {
        unsafe { libc::execve(path.as_ptr(), args.argv.as_ptr(), args.envp.as_ptr()) };
        let e = Errno::last();
        match e.0 {
            libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ELOOP | libc::ENAMETOOLONG => {}
            libc::EACCES => err = e,
            _ => return Failure::new(Stage::Exec, e),
        }
    }
    Failure::new(Stage::Exec, err)
}

/// Signal dispositions survive clone and ignored ones survive exec: reset
/// them, and the mask, so the container starts as a fresh process would.
pub fn reset_signals() {
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = libc::SIG_DFL;
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::sigaction(sig, &act, std::ptr::null_mut());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::fake::Recorder;

    fn process(uid: u32) -> ProcessSpec {
        ProcessSpec {
            argv: vec![CString::new("sh").unwrap()],
            envp: vec![],
            exec_candidates: vec![CString::new("/bin/sh").unwrap()],
            cwd: CString::new("/work/dir").unwrap(),
            cwd_ancestors: vec![CString::new("/work").unwrap(), CString::new("/work/dir").unwrap()],
            uid,
            gid: 50,
            groups: vec![50, 1000],
            caps: crate::caps::default_mask(),
            last_cap: 40,
            no_new_privs: true,
            pdeathsig: libc::SIGKILL,
            seccomp: Some(std::sync::Arc::new(vec![libc::sock_filter { code: 6, jt: 0, jf: 0, k: 0x7fff_0000 }])),
        }
    }

    fn spec(uid: u32) -> ChildSpec {
        ChildSpec { become_ns_root: false, stdio: Stdio::Fds([0, 1, 2]), new_session: false, hostname: Some(CString::new("box").unwrap()), new_cgroup_ns: true, new_time_ns: true, loopback_up: true, rootfs: vec![], process: process(uid) }
    }

    fn go_pipe() -> i32 {
        let mut fds = [0i32; 2];
        unsafe { libc::pipe(fds.as_mut_ptr()) };
        crate::rawio::write_all(fds[1], b"g").unwrap();
        unsafe { libc::close(fds[1]) };
        fds[0]
    }

    #[test]
    fn credentials_are_dropped_in_order_and_pdeathsig_is_set_last() {
        let rec = Recorder::new();
        prepare(&rec, &spec(1000), go_pipe()).unwrap();
        let calls = rec.calls();
        let pos = |c: &str| calls.iter().position(|x| x.starts_with(c)).unwrap_or_else(|| panic!("{} missing in {:?}", c, calls));
        assert!(pos("unshare 0x2000000") < pos("sethostname box"));
        assert!(pos("sethostname") < pos("loopback_up"));
        assert!(pos("capbset_drop 2") < pos("setgroups [50, 1000]"));
        assert!(pos("setgroups") < pos("setresgid 50"));
        assert!(pos("setresgid 50") < pos("setresuid 1000"));
        assert!(pos("setresuid") < pos("capset 0x0 0x0 0x0"));
        assert!(pos("set_no_new_privs") < pos("set_pdeathsig 9"));
        // Capabilities in the default set are never dropped from the bounding set.
        assert!(!calls.contains(&"capbset_drop 0".to_string()));
        assert!(calls.contains(&"capbset_drop 21".to_string()));
    }

    #[test]
    fn the_time_namespace_is_zeroed_before_the_root_switch_and_seccomp_comes_last() {
        let rec = Recorder::new();
        prepare(&rec, &spec(1000), go_pipe()).unwrap();
        let calls = rec.calls();
        let pos = |c: &str| calls.iter().position(|x| x.starts_with(c)).unwrap_or_else(|| panic!("{} missing in {:?}", c, calls));
        // The offsets are written right after the unshare, before any process can enter the namespace.
        assert_eq!(pos("write_timens_offsets"), pos("unshare 0x80") + 1);
        assert_eq!(pos("enter_time_for_children"), pos("write_timens_offsets") + 1);
        assert_eq!(pos("unshare 0x80"), 0);
        assert!(pos("write_timens_offsets") < pos("unshare 0x2000000"));
        assert!(pos("write_timens_offsets") < pos("sethostname"));
        // no_new_privs (which the filter needs without CAP_SYS_ADMIN) and every other step go first.
        assert!(pos("set_no_new_privs") < pos("seccomp_load 1"));
        assert!(pos("cloexec_from 3") < pos("seccomp_load"));
        assert_eq!(calls.last().map(String::as_str), Some("seccomp_load 1"));
    }

    #[test]
    fn unconfined_loads_no_filter_and_a_failed_load_is_reported() {
        let rec = Recorder::new();
        let mut s = spec(0);
        s.process.seccomp = None;
        s.new_time_ns = false;
        prepare(&rec, &s, go_pipe()).unwrap();
        assert!(!rec.calls().iter().any(|c| c.starts_with("seccomp_load") || c.starts_with("unshare 0x80")));
        let rec = Recorder::new();
        rec.fail_on("seccomp_load", libc::EINVAL);
        assert_eq!(prepare(&rec, &spec(0), go_pipe()).unwrap_err().stage, Stage::Seccomp);
        let rec = Recorder::new();
        rec.fail_on("write_timens_offsets", libc::EACCES);
        assert_eq!(prepare(&rec, &spec(0), go_pipe()).unwrap_err().stage, Stage::TimeNs);
    }

    #[test]
    fn a_user_namespace_child_becomes_its_root_before_any_mount() {
        let rec = Recorder::new();
        let mut s = spec(0);
        s.become_ns_root = true;
        prepare(&rec, &s, go_pipe()).unwrap();
        let calls = rec.calls();
        // Only the time namespace step (which must precede any id change) comes first.
        assert_eq!(&calls[0..5], &["unshare 0x80", "write_timens_offsets", "enter_time_for_children", "setresgid 0", "setresuid 0"]);
    }

    #[test]
    fn root_keeps_the_default_capabilities() {
        let rec = Recorder::new();
        prepare(&rec, &spec(0), go_pipe()).unwrap();
        let m = crate::caps::default_mask();
        assert!(rec.calls().contains(&format!("capset {:#x} {:#x} 0x0", m, m)));
    }

    #[test]
    fn a_missing_cwd_is_created() {
        let rec = Recorder::new();
        rec.fail_on("chdir /work/dir", libc::ENOENT);
        prepare(&rec, &spec(0), go_pipe()).unwrap();
        let calls = rec.calls();
        let i = calls.iter().position(|c| c == "chdir /work/dir").unwrap();
        assert_eq!(&calls[i + 1..i + 4], &["mkdir /work 755", "mkdir /work/dir 755", "chdir /work/dir"]);
    }

    #[test]
    fn a_closed_sync_pipe_aborts_before_any_syscall() {
        let mut fds = [0i32; 2];
        unsafe { libc::pipe(fds.as_mut_ptr()) };
        unsafe { libc::close(fds[1]) };
        let rec = Recorder::new();
        let err = prepare(&rec, &spec(0), fds[0]).unwrap_err();
        assert_eq!(err.stage, Stage::Sync);
        assert!(rec.calls().is_empty());
    }

    #[test]
    fn a_tty_becomes_the_new_sessions_terminal_and_all_of_stdio() {
        let rec = Recorder::new();
        let mut s = spec(0);
        s.new_session = true;
        s.stdio = Stdio::Tty(9);
        prepare(&rec, &s, go_pipe()).unwrap();
        let calls = rec.calls();
        let i = calls.iter().position(|c| c == "setsid").unwrap();
        assert_eq!(&calls[i..i + 5], &["setsid", "set_controlling_tty 9", "dup2 9 0", "dup2 9 1", "dup2 9 2"]);
        assert!(calls.iter().position(|c| c.starts_with("unshare 0x2000000")).unwrap() < i);
        assert!(i < calls.iter().position(|c| c.starts_with("sethostname")).unwrap());
    }

    #[test]
    fn stdio_already_in_place_keeps_its_fd_but_loses_close_on_exec() {
        let rec = Recorder::new();
        let mut s = spec(0);
        s.stdio = Stdio::Fds([0, 7, 2]);
        prepare(&rec, &s, go_pipe()).unwrap();
        let calls = rec.calls();
        let i = calls.iter().position(|c| c == "clear_cloexec 0").unwrap();
        assert_eq!(&calls[i..i + 3], &["clear_cloexec 0", "dup2 7 1", "clear_cloexec 2"]);
        assert!(!calls.contains(&"setsid".to_string()));
        let rec = Recorder::new();
        rec.fail_on("dup2 7 1", libc::EBADF);
        let f = prepare(&rec, &s, go_pipe()).unwrap_err();
        assert_eq!((f.stage, f.errno), (Stage::Stdio, libc::EBADF));
        assert_eq!(rec.calls().last().map(String::as_str), Some("dup2 7 1"));
    }

    #[test]
    fn failures_round_trip_through_bytes() {
        let f = Failure { stage: Stage::Rootfs, detail: 7, errno: libc::EPERM };
        assert_eq!(Failure::decode(&f.encode()), f);
    }
}
