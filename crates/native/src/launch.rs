//! Starting a container process: clone, the parent side of the sync
//! protocol, and the two variants that need a middle process.
//!
//! Protocol (two O_CLOEXEC pipes): the child blocks on the sync pipe until
//! the parent has put it in its cgroups and written its id maps, then runs
//! `child::prepare` and execs. The error pipe stays empty on success (it
//! closes at exec); on failure the child writes a 12-byte `Failure` and
//! exits. The parent side uses raw syscalls only, because it also runs in
//! the middle processes forked from Node (the detached monitor and the
//! setns helper), where allocation is not safe.

use crate::child::{self, ChildSpec, ExecArgs, Failure, Stage};
use crate::rawio::{read_full, write_all, write_proc_file, Dec};
use crate::syscall::{linux::Linux, Errno, Syscall};
use std::ffi::CString;

pub struct LaunchSpec {
    /// CLONE_NEW* flags (and CLONE_PARENT for exec).
    pub clone_flags: i32,
    pub child: ChildSpec,
    pub exec_args: ExecArgs,
    /// Open (write-only) cgroup.procs files to write the child's pid into
    /// before it runs. Fds, not paths: the setns helper has already joined
    /// the container's mount namespace, where the host's cgroupfs is not visible.
    pub cgroup_procs: Vec<i32>,
    pub uid_map: Option<Vec<u8>>,
    pub gid_map: Option<Vec<u8>>,
}

fn pipe() -> Result<[i32; 2], Errno> {
    let mut fds = [0i32; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(Errno::last());
    }
    Ok(fds)
}

/// A fork-like clone: the child continues on a copy of this stack.
fn raw_clone(flags: i32) -> Result<i32, Errno> {
    let pid = unsafe { libc::syscall(libc::SYS_clone, (flags | libc::SIGCHLD) as libc::c_ulong, 0usize, 0usize, 0usize, 0usize) };
    if pid < 0 { Err(Errno::last()) } else { Ok(pid as i32) }
}

fn close(fd: i32) {
    unsafe { libc::close(fd) };
}

pub fn wait_raw(pid: i32) -> Result<i32, Errno> {
    let mut status = 0;
    loop {
        let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        if r >= 0 {
            return Ok(status);
        }
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    }
}

/// Clones the container process and runs the protocol. Returns its pid
/// (as seen from the caller's pid namespace) once it has exec'd.
pub fn launch(spec: &LaunchSpec) -> Result<i32, Failure> {
    launch_measured(spec).map(|l| l.pid)
}

/// A started process and the peak RSS of its pre-exec (forked) image,
/// which exec folds into its rusage (see `usage`); 0 when unreadable.
#[derive(Clone, Copy, Debug)]
pub struct Launched {
    pub pid: i32,
    pub fork_rss: u64,
}

pub fn launch_measured(spec: &LaunchSpec) -> Result<Launched, Failure> {
    let sync = pipe().map_err(|e| Failure::new(Stage::Clone, e))?;
    let errp = match pipe() {
        Ok(p) => p,
        Err(e) => {
            close(sync[0]);
            close(sync[1]);
            return Err(Failure::new(Stage::Clone, e));
        }
    };
    let pid = match raw_clone(spec.clone_flags) {
        Ok(pid) => pid,
        Err(e) => {
            for fd in [sync[0], sync[1], errp[0], errp[1]] {
                close(fd);
            }
            return Err(Failure::new(Stage::Clone, e));
        }
    };
    if pid == 0 {
        close(sync[1]);
        close(errp[0]);
        child::reset_signals();
        if spec.child.process.pdeathsig != 0 {
            let _ = Linux.set_pdeathsig(spec.child.process.pdeathsig);
        }
        let failure = match child::prepare(&Linux, &spec.child, sync[0]) {
            Ok(()) => child::exec(&spec.child.process, &spec.exec_args),
            Err(f) => f,
        };
        let _ = write_all(errp[1], &failure.encode());
        unsafe { libc::_exit(if failure.stage == Stage::Exec && failure.errno == libc::ENOENT { 127 } else { 126 }) };
    }
    close(sync[0]);
    close(errp[1]);
    let abort = |f: Failure| {
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = wait_raw(pid);
        close(sync[1]);
        close(errp[0]);
        Err(f)
    };
    let pid_dec = Dec::new(pid as u64);
    for fd in &spec.cgroup_procs {
        if let Err(e) = write_all(*fd, pid_dec.as_bytes()) {
            return abort(Failure::new(Stage::Cgroup, e));
        }
    }
    if let Some(map) = &spec.uid_map {
        if let Err(e) = write_proc_file(pid, b"uid_map", map) {
            return abort(Failure::new(Stage::IdMap, e));
        }
    }
    if let Some(map) = &spec.gid_map {
        if let Err(e) = write_proc_file(pid, b"gid_map", map) {
            return abort(Failure::new(Stage::IdMap, e));
        }
    }
    // The child is blocked on the sync pipe: its memory is still the fork's.
    let fork_rss = crate::usage::vm_hwm_bytes(pid).unwrap_or(0);
    if let Err(e) = write_all(sync[1], b"g") {
        return abort(Failure::new(Stage::Sync, e));
    }
    close(sync[1]);
    let mut report = [0u8; 12];
    let n = read_full(errp[0], &mut report).unwrap_or(0);
    close(errp[0]);
    if n == report.len() {
        let _ = wait_raw(pid);
        return Err(Failure::decode(&report));
    }
    Ok(Launched { pid, fork_rss })
}

/// The result a middle process sends back: the container pid or a failure.
fn send_result(fd: i32, r: &Result<i32, Failure>) {
    let mut buf = [0u8; 16];
    match r {
        Ok(pid) => buf[12..16].copy_from_slice(&pid.to_ne_bytes()),
        Err(f) => buf[0..12].copy_from_slice(&f.encode()),
    }
    let _ = write_all(fd, &buf);
}

fn recv_result(fd: i32, stage: Stage) -> Result<i32, Failure> {
    let mut buf = [0u8; 16];
    match read_full(fd, &mut buf) {
        Ok(16) => {}
        Ok(_) => return Err(Failure::new(stage, Errno(libc::EPIPE))),
        Err(e) => return Err(Failure::new(stage, e)),
    }
    if buf[0..4] != [0, 0, 0, 0] {
        let mut f = [0u8; 12];
        f.copy_from_slice(&buf[0..12]);
        return Err(Failure::decode(&f));
    }
    Ok(i32::from_ne_bytes([buf[12], buf[13], buf[14], buf[15]]))
}

/// Runs `body` in a forked child and returns the pid it reports. The child
/// is reaped before returning, so Node never sees a zombie of ours.
fn in_middle_process(stage: Stage, body: impl FnOnce(i32) -> std::convert::Infallible) -> Result<i32, Failure> {
    let report = pipe().map_err(|e| Failure::new(stage, e))?;
    let mid = match raw_clone(0) {
        Ok(p) => p,
        Err(e) => {
            close(report[0]);
            close(report[1]);
            return Err(Failure::new(stage, e));
        }
    };
    if mid == 0 {
        close(report[0]);
        #[allow(unreachable_code)]
        match body(report[1]) {}
    }
    close(report[1]);
    let r = recv_result(report[0], stage);
    close(report[0]);
    let _ = wait_raw(mid);
    r
}

/// Paths the detached monitor writes when the container exits.
pub struct MonitorSpec {
    /// The raw wait status is written here (via a temp file and rename).
    pub status_path: CString,
    pub status_tmp: CString,
}

/// Starts a container that outlives the caller: a monitor process (double
/// forked, so it is re-parented away from Node, in its own session, with
/// stdio on /dev/null) launches the container, reports its pid, waits for
/// it, and records the exit status in a file.
pub fn launch_detached(spec: &LaunchSpec, monitor: &MonitorSpec) -> Result<i32, Failure> {
    in_middle_process(Stage::Monitor, |report| {
        let _ = Linux.setsid();
        match raw_clone(0) {
            Ok(0) => {}
            Ok(_) => unsafe { libc::_exit(0) },
            Err(e) => {
                send_result(report, &Err(Failure::new(Stage::Monitor, e)));
                unsafe { libc::_exit(1) };
            }
        }
        let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        for fd in 0..3 {
            let _ = Linux.dup2(null, fd);
        }
        let r = launch(spec);
        send_result(report, &r);
        close(report);
        if let Ok(pid) = r {
            if let Ok(status) = wait_raw(pid) {
                record_status(monitor, status);
            }
        }
        unsafe { libc::_exit(0) }
    })
}

fn record_status(m: &MonitorSpec, status: i32) {
    let fd = unsafe { libc::open(m.status_tmp.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC, 0o644) };
    if fd < 0 {
        return;
    }
    let _ = write_all(fd, Dec::new(status as u32 as u64).as_bytes());
    unsafe {
        libc::fsync(fd);
        libc::close(fd);
        libc::rename(m.status_tmp.as_ptr(), m.status_path.as_ptr());
    }
}

/// Starts a process inside a running container: a helper process joins the
/// container's namespaces (`nsjoin::enter`: in the order `nsjoin::open`
/// opened them) and clones the process with CLONE_PARENT, so that it is the
/// caller's child and can be waited on.
pub fn launch_in_namespaces(spec: &LaunchSpec, ns_fds: &[(i32, i32)]) -> Result<i32, Failure> {
    in_middle_process(Stage::Setns, |report| {
        if let Err(e) = crate::nsjoin::enter(&Linux, ns_fds) {
            send_result(report, &Err(Failure::new(Stage::Setns, e)));
            unsafe { libc::_exit(1) };
        }
        let r = launch(spec);
        send_result(report, &r);
        unsafe { libc::_exit(0) }
    })
}
