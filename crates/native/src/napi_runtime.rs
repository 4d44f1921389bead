//! napi entry points for container processes: the thin binding. Each
//! function converts JS objects into `spec` types and calls one plain Rust
//! function; no logic lives here. Errors leave as `error::to_napi` makes
//! them: a stable code in `err.code`.

use crate::cgroup::{Hierarchy, Limits};
use crate::error::{self, to_napi, Code, NativeError};
use crate::launch;
use crate::overlay::OverlayApi;
use crate::rootfs::{BindMount, OverlayLayers, RootfsSpec};
use crate::spec::{self, ContainerConfig, IdMap, Network, ProcessConfig, StdioConfig};
use crate::syscall::linux::Linux;
use napi::bindgen_prelude::{AsyncTask, Env, Task};
use napi_derive::napi;
use std::path::Path;

/// A sync entry point's result: errors carry their code as `err.code`.
type Result<T> = napi::Result<T, String>;

/// Returns 1; proves the binding loads.
#[napi]
pub fn ping() -> u32 {
    1
}

#[napi(object)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

#[napi(object)]
pub struct BindOptions {
    /// Host path.
    pub source: String,
    /// Absolute path inside the container.
    pub target: String,
    pub readonly: bool,
    /// The source is a file, not a directory.
    pub is_file: bool,
    /// A tmpfs that starts with what the image has at the target (buildah's
    /// tmpcopyup); its root gets this owner and mode.
    pub copy_up: Option<CopyUpOptions>,
    /// Mount this filesystem type instead of binding `source` (e.g. tmpfs, overlay).
    pub fstype: Option<String>,
    /// Options for `fstype`.
    pub data: Option<String>,
    /// Mount an overlay of these dirs (topmost first) instead of a bind: any depth the kernel stacks.
    pub lower_dirs: Option<Vec<String>>,
    /// With `lower_dirs`: a read-write layer for the overlay (its work dir in `work_dir`).
    pub upper_dir: Option<String>,
    pub work_dir: Option<String>,
}

/// Owner and mode of a copy-up tmpfs's root (the target's, as the image has it).
#[napi(object)]
pub struct CopyUpOptions {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The process to start and its credentials.
#[napi(object)]
pub struct ProcessOptions {
    pub args: Vec<String>,
    /// `KEY=value` strings.
    pub env: Vec<String>,
    /// Absolute paths (inside the container) to try in order: `$PATH` resolved by the caller.
    pub exec_candidates: Vec<String>,
    /// Absolute; created if missing, as docker does.
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// Capability names to keep; omitted means docker's default set.
    pub capabilities: Option<Vec<String>>,
    pub no_new_privs: bool,
    /// Kill the process (SIGKILL) when the creating thread dies.
    pub die_with_parent: bool,
    /// The seccomp filter: omitted or `default` is docker's default profile,
    /// `unconfined` none, anything else a docker-format JSON profile.
    pub seccomp: Option<String>,
}

/// Either three fds for stdin/stdout/stderr, or a pty slave fd.
#[napi(object)]
pub struct StdioOptions {
    pub fds: Option<Vec<i32>>,
    pub tty_slave: Option<i32>,
}

/// Everything needed to start a new container process.
#[napi(object)]
pub struct ContainerOptions {
    /// The directory that becomes `/`.
    pub rootfs: String,
    /// Overlay lower dirs, topmost first.
    pub lower_dirs: Vec<String>,
    pub upper_dir: Option<String>,
    pub work_dir: Option<String>,
    pub hostname: Option<String>,
    /// `host` shares the host's network namespace; `none` gives a new one with only loopback.
    pub network: String,
    pub uid_maps: Option<Vec<IdMapping>>,
    pub gid_maps: Option<Vec<IdMapping>>,
    pub binds: Vec<BindOptions>,
    /// A pty slave path to bind at /dev/console.
    pub console: Option<String>,
    pub mask_paths: bool,
    /// The upper dir is used once (a build step): mount it `volatile`, so
    /// the overlay's unmount does not sync the whole upper file system.
    pub volatile_upper: Option<bool>,
    pub process: ProcessOptions,
    pub stdio: StdioOptions,
    /// cgroup.procs files the process joins before it runs.
    pub cgroup_procs: Vec<String>,
    /// For a detached container: where its monitor writes the wait status.
    pub status_path: Option<String>,
}

/// A process joining a running container's namespaces.
#[napi(object)]
pub struct JoinOptions {
    /// The container's PID 1 as seen from the host.
    pub target_pid: i32,
    pub process: ProcessOptions,
    pub stdio: StdioOptions,
    pub cgroup_procs: Vec<String>,
}

/// The outcome of starting a process: a pid, or where and why it failed.
#[napi(object)]
pub struct SpawnResult {
    pub pid: Option<i32>,
    /// A stable stage name such as `exec` or `rootfs`.
    pub stage: Option<String>,
    pub errno: Option<i32>,
    pub message: Option<String>,
    /// Bytes: the pre-exec peak RSS that the process's rusage includes (foreground containers).
    pub fork_rss_bytes: Option<f64>,
}

fn process_config(p: ProcessOptions) -> ProcessConfig {
    ProcessConfig {
        args: p.args,
        env: p.env,
        exec_candidates: p.exec_candidates,
        cwd: p.cwd,
        uid: p.uid,
        gid: p.gid,
        groups: p.groups,
        capabilities: p.capabilities,
        no_new_privs: p.no_new_privs,
        die_with_parent: p.die_with_parent,
        seccomp: crate::seccomp::Policy::from_option(p.seccomp.as_deref()),
    }
}

fn bind_mount(b: BindOptions) -> BindMount {
    let overlay = b.lower_dirs.map(|lower_dirs| OverlayLayers { lower_dirs, upper_dir: b.upper_dir, work_dir: b.work_dir });
    BindMount { source: b.source, target: b.target, readonly: b.readonly, is_file: b.is_file, fstype: b.fstype, data: b.data, overlay,
        copy_up: b.copy_up.map(|c| crate::rootfs::CopyUpRoot { mode: c.mode, uid: c.uid, gid: c.gid }) }
}

fn stdio_config(s: &StdioOptions) -> Result<StdioConfig> {
    match (&s.fds, s.tty_slave) {
        (_, Some(fd)) => Ok(StdioConfig::Tty(fd)),
        (Some(f), None) if f.len() == 3 => Ok(StdioConfig::Fds([f[0], f[1], f[2]])),
        _ => Err(to_napi(NativeError::input("stdio needs three fds or a tty slave"))),
    }
}

fn id_maps(v: Option<Vec<IdMapping>>) -> Vec<IdMap> {
    v.unwrap_or_default().into_iter().map(|m| IdMap { container_id: m.container_id, host_id: m.host_id, size: m.size }).collect()
}

fn result(r: std::result::Result<i32, crate::child::Failure>, spec: &launch::LaunchSpec) -> SpawnResult {
    match r {
        Ok(pid) => SpawnResult { pid: Some(pid), stage: None, errno: None, message: None, fork_rss_bytes: None },
        Err(f) => SpawnResult {
            pid: None,
            stage: Some(format!("{:?}", f.stage).to_lowercase()),
            errno: Some(f.errno),
            message: Some(spec::describe_failure(&f, spec)),
            fork_rss_bytes: None,
        },
    }
}

/// Starts a container process. Call from the main thread: the parent-death
/// signal is tied to the thread that creates the child.
#[napi]
pub fn spawn_container(opts: ContainerOptions) -> Result<SpawnResult> {
    let stdio = stdio_config(&opts.stdio)?;
    let network = match opts.network.as_str() {
        "host" => Network::Host,
        "none" => Network::None,
        other => return Err(to_napi(NativeError::input(format!("unknown network mode {}", other)))),
    };
    let procs = spec::OpenFiles::open_write(&opts.cgroup_procs).map_err(to_napi)?;
    let config = ContainerConfig {
        rootfs: RootfsSpec {
            rootfs: opts.rootfs,
            lower_dirs: opts.lower_dirs,
            upper_dir: opts.upper_dir,
            work_dir: opts.work_dir,
            binds: opts.binds.into_iter().map(bind_mount).collect(),
            console: opts.console,
            bind_devices: false,
            bind_sys: false,
            // The kernel's hierarchy, not TSBUILD_CGROUP_ROOT's (a test fake).
            cgroup2: Hierarchy::detect(Path::new("/sys/fs/cgroup")).version() == 2,
            mask_paths: opts.mask_paths,
            volatile_upper: opts.volatile_upper.unwrap_or(false),
            overlay_api: OverlayApi::from_env(),
            userxattr: false, // set by spec::container (rootless)
        },
        hostname: opts.hostname,
        network,
        uid_maps: id_maps(opts.uid_maps),
        gid_maps: id_maps(opts.gid_maps),
        process: process_config(opts.process),
        stdio,
        cgroup_procs: procs.0.clone(),
    };
    let launch_spec = spec::container(&config).map_err(to_napi)?;
    let r = match opts.status_path {
        Some(path) => {
            let monitor = launch::MonitorSpec {
                status_tmp: spec::cstring(&format!("{}.tmp", path), "status path").map_err(to_napi)?,
                status_path: spec::cstring(&path, "status path").map_err(to_napi)?,
            };
            launch::launch_detached(&launch_spec, &monitor)
        }
        None => {
            let l = launch::launch_measured(&launch_spec);
            let fork_rss = l.as_ref().ok().map(|l| l.fork_rss as f64);
            return Ok(SpawnResult { fork_rss_bytes: fork_rss, ..result(l.map(|l| l.pid), &launch_spec) });
        }
    };
    Ok(result(r, &launch_spec))
}

/// Starts a process inside a running container (`exec`). The new process is
/// this process's child, so `waitPid` works on it.
#[napi]
pub fn spawn_in_container(opts: JoinOptions) -> Result<SpawnResult> {
    let stdio = stdio_config(&opts.stdio)?;
    let procs = spec::OpenFiles::open_write(&opts.cgroup_procs).map_err(to_napi)?;
    let launch_spec = spec::joining(&process_config(opts.process), &stdio, &procs.0).map_err(to_napi)?;
    let ns = crate::nsjoin::open(&Linux, opts.target_pid).map_err(to_napi)?;
    Ok(result(launch::launch_in_namespaces(&launch_spec, ns.as_slice()), &launch_spec))
}

/// Checks that a docker-format seccomp profile parses and compiles (for
/// docker's default capabilities); the error says why not. The compiled
/// program stays cached for this process's containers.
#[napi]
pub fn check_seccomp_profile(json: String) -> Result<()> {
    crate::seccomp::compile(&json, crate::caps::default_mask()).map(|_| ()).map_err(|e| to_napi(NativeError::new(Code::Seccomp, e)))
}

/// Keeps compiled seccomp programs in `dir` (under the store) so that the
/// next process skips the compile; `null` keeps them in memory only.
#[napi]
pub fn set_seccomp_cache_dir(dir: Option<String>) {
    crate::seccomp::compile::set_cache_dir(dir.map(std::path::PathBuf::from));
}

/// CPU microseconds and peak memory (bytes) of a process or a cgroup.
/// Numbers, not BigInts: 2^53 us is 285 years of CPU.
#[napi(object)]
pub struct ResourceUsage {
    pub user_us: f64,
    pub sys_us: f64,
    /// rusage: the largest RSS of any one reaped process; cgroup: the group's peak.
    pub peak_bytes: Option<f64>,
}

/// How a process ended: exactly one of `exitCode` and `signal` is set.
/// `usage` comes with a waited process (wait4), not with a decoded status.
#[napi(object)]
pub struct ExitStatus {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub usage: Option<ResourceUsage>,
}

pub fn decode_status(status: i32) -> ExitStatus {
    if libc::WIFSIGNALED(status) {
        ExitStatus { exit_code: None, signal: Some(libc::WTERMSIG(status)), usage: None }
    } else {
        ExitStatus { exit_code: Some(libc::WEXITSTATUS(status)), signal: None, usage: None }
    }
}

pub struct WaitTask(i32);

impl Task for WaitTask {
    type Output = (i32, crate::usage::ProcessUsage);
    type JsValue = ExitStatus;
    fn compute(&mut self) -> napi::Result<Self::Output> {
        crate::usage::wait_with_usage(self.0).map_err(|e| error::to_napi_async(NativeError::errno(Code::Spawn, format_args!("wait for {}", self.0), e)))
    }
    fn resolve(&mut self, _env: Env, (status, u): Self::Output) -> napi::Result<ExitStatus> {
        let usage = ResourceUsage { user_us: u.user_us as f64, sys_us: u.sys_us as f64, peak_bytes: Some(u.max_rss_bytes as f64) };
        Ok(ExitStatus { usage: Some(usage), ..decode_status(status) })
    }
}

/// Waits (off the main thread) for a child of this process to end.
#[napi(ts_return_type = "Promise<ExitStatus>")]
pub fn wait_pid(pid: i32) -> AsyncTask<WaitTask> {
    AsyncTask::new(WaitTask(pid))
}

/// Decodes a raw wait status, as written by a detached container's monitor.
#[napi]
pub fn decode_wait_status(status: i32) -> ExitStatus {
    decode_status(status)
}

/// Sends a signal; returns false when the process no longer exists.
#[napi]
pub fn signal_pid(pid: i32, signal: i32) -> Result<bool> {
    if unsafe { libc::kill(pid, signal) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ESRCH) {
        return Ok(false);
    }
    Err(to_napi(NativeError::io(Code::Spawn, format_args!("signal {} to {}", signal, pid), &e)))
}

#[napi(object)]
pub struct PtyPair {
    pub master: i32,
    pub slave: i32,
    pub slave_path: String,
}

/// Opens a pty pair (both fds close-on-exec) with the given window size.
#[napi]
pub fn open_pty(cols: u32, rows: u32) -> Result<PtyPair> {
    let p = crate::pty::open(cols as u16, rows as u16).map_err(to_napi)?;
    Ok(PtyPair { master: p.master, slave: p.slave, slave_path: p.slave_path })
}

#[napi]
pub fn resize_pty(fd: i32, cols: u32, rows: u32) -> Result<()> {
    crate::pty::resize(fd, cols as u16, rows as u16).map_err(to_napi)
}

#[napi]
pub fn close_fd(fd: i32) {
    unsafe { libc::close(fd) };
}

#[napi(object)]
pub struct CgroupLimits {
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub memory: Option<i64>,
    pub pids: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
}

#[napi(object)]
pub struct CgroupInfo {
    /// 1 or 2.
    pub version: u32,
    pub dirs: Vec<String>,
    pub procs_files: Vec<String>,
}

/// Creates `name` (e.g. `tsbuild/<id>`) under the cgroupfs at `root` with the limits.
#[napi]
pub fn cgroup_create(root: String, name: String, limits: CgroupLimits) -> Result<CgroupInfo> {
    let h = Hierarchy::detect(Path::new(&root));
    let l = Limits {
        cpu_period: limits.cpu_period.map(|v| v as u64),
        cpu_quota: limits.cpu_quota,
        memory: limits.memory,
        pids: limits.pids,
        cpuset_cpus: limits.cpuset_cpus,
        cpuset_mems: limits.cpuset_mems,
    };
    let created = h.create(&name, &l).map_err(to_napi)?;
    let s = |v: Vec<std::path::PathBuf>| v.into_iter().map(|p| p.to_string_lossy().into_owned()).collect();
    Ok(CgroupInfo { version: h.version(), dirs: s(created.dirs), procs_files: s(created.procs_files) })
}

/// Kills what is left in the cgroup and removes it; succeeds if already gone.
#[napi]
pub fn cgroup_remove(root: String, name: String) -> Result<()> {
    Hierarchy::detect(Path::new(&root)).remove(&name).map_err(to_napi)
}

#[napi]
pub fn cgroup_oom_kills(root: String, name: String) -> u32 {
    Hierarchy::detect(Path::new(&root)).oom_kills(&name) as u32
}

/// The cgroup's own CPU and peak-memory counters; null without cpu accounting.
#[napi]
pub fn cgroup_usage(root: String, name: String) -> Option<ResourceUsage> {
    let u = Hierarchy::detect(Path::new(&root)).usage(&name)?;
    Some(ResourceUsage { user_us: u.user_us as f64, sys_us: u.sys_us as f64, peak_bytes: u.peak_bytes.map(|b| b as f64) })
}

#[napi]
pub fn cgroup_pids(root: String, name: String) -> Vec<i32> {
    Hierarchy::detect(Path::new(&root)).pids(&name)
}

/// A pipe as [readFd, writeFd], both close-on-exec: for capturing a
/// container's output (the child's end is dup2'ed onto its stdio).
#[napi]
pub fn make_pipe() -> Result<Vec<i32>> {
    let mut fds = [0i32; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(to_napi(NativeError::io(Code::Io, "pipe", &std::io::Error::last_os_error())));
    }
    Ok(fds.to_vec())
}
