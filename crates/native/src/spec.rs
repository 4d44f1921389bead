//! Turns the caller's plain description of a container process into the
//! pre-built `LaunchSpec` the child consumes (all allocation happens here,
//! in the parent), and turns a `Failure` back into a readable message.
//! Bad input is a `NativeError` with code `Input` (a seccomp profile that
//! does not compile: `Seccomp`).

use crate::caps;
use crate::child::{ChildSpec, ExecArgs, Failure, ProcessSpec, Stage, Stdio};
use crate::error::{Code, NativeError, NativeResult};
use crate::launch::LaunchSpec;
use crate::rootfs::{self, PlannedStep, RootfsSpec, Step};
use crate::seccomp::Policy;
use std::ffi::CString;

#[derive(Clone, Debug, Default)]
pub struct IdMap {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

#[derive(Clone, Debug, Default)]
pub struct ProcessConfig {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub exec_candidates: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// Capability names to keep; `None` is docker's default set.
    pub capabilities: Option<Vec<String>>,
    pub no_new_privs: bool,
    pub die_with_parent: bool,
    /// Compiled here, in the parent, for the capabilities the process keeps.
    pub seccomp: Policy,
}

#[derive(Clone, Debug)]
pub enum StdioConfig {
    Fds([i32; 3]),
    Tty(i32),
}

#[derive(Clone, Debug)]
pub enum Network {
    Host,
    /// A new network namespace with only loopback, up.
    None,
}

pub struct ContainerConfig {
    pub rootfs: RootfsSpec,
    pub hostname: Option<String>,
    pub network: Network,
    pub uid_maps: Vec<IdMap>,
    pub gid_maps: Vec<IdMap>,
    pub process: ProcessConfig,
    pub stdio: StdioConfig,
    /// Open cgroup.procs fds (see `OpenFiles`).
    pub cgroup_procs: Vec<i32>,
}

pub fn cstring(s: &str, what: &str) -> NativeResult<CString> {
    CString::new(s).map_err(|_| NativeError::input(format!("{} contains a NUL byte: {:?}", what, s)))
}

fn cstrings(v: &[String], what: &str) -> NativeResult<Vec<CString>> {
    v.iter().map(|s| cstring(s, what)).collect()
}

fn process_spec(p: &ProcessConfig) -> NativeResult<ProcessSpec> {
    if p.args.is_empty() {
        return Err(NativeError::input("no command given"));
    }
    let caps = match &p.capabilities {
        // ALL is what we hold (a restricted host may lack some); capset refuses more.
        Some(names) => caps::mask_from_names(names).map_err(NativeError::input)? & caps::permitted(),
        None => caps::default_mask(),
    };
    let cwd = if p.cwd.is_empty() { "/".to_string() } else { p.cwd.clone() };
    if !cwd.starts_with('/') {
        return Err(NativeError::input(format!("working directory must be absolute: {}", cwd)));
    }
    let mut ancestors = Vec::new();
    let mut acc = String::new();
    for part in cwd.split('/').filter(|s| !s.is_empty()) {
        acc.push('/');
        acc.push_str(part);
        ancestors.push(cstring(&acc, "working directory")?);
    }
    Ok(ProcessSpec {
        argv: cstrings(&p.args, "argument")?,
        envp: cstrings(&p.env, "environment variable")?,
        exec_candidates: cstrings(&p.exec_candidates, "command path")?,
        cwd: cstring(&cwd, "working directory")?,
        cwd_ancestors: ancestors,
        uid: p.uid,
        gid: p.gid,
        groups: p.groups.clone(),
        caps,
        last_cap: caps::last_cap(),
        no_new_privs: p.no_new_privs,
        pdeathsig: if p.die_with_parent { libc::SIGKILL } else { 0 },
        seccomp: p.seccomp.program(caps).map_err(|e| NativeError::new(Code::Seccomp, e))?,
    })
}

fn stdio(s: &StdioConfig) -> Stdio {
    match s {
        StdioConfig::Fds(f) => Stdio::Fds(*f),
        StdioConfig::Tty(fd) => Stdio::Tty(*fd),
    }
}

/// Opens each cgroup.procs file for writing; the fds close when `OpenFiles` drops.
pub struct OpenFiles(pub Vec<i32>);

impl OpenFiles {
    pub fn open_write(paths: &[String]) -> NativeResult<OpenFiles> {
        let mut files = OpenFiles(Vec::new());
        for p in paths {
            let c = cstring(p, "cgroup path")?;
            let fd = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
            if fd < 0 {
                return Err(NativeError::io(Code::Cgroup, format_args!("open {}", p), &std::io::Error::last_os_error()));
            }
            files.0.push(fd);
        }
        Ok(files)
    }
}

impl Drop for OpenFiles {
    fn drop(&mut self) {
        for fd in &self.0 {
            unsafe { libc::close(*fd) };
        }
    }
}

fn id_map_bytes(maps: &[IdMap]) -> Option<Vec<u8>> {
    if maps.is_empty() {
        return None;
    }
    Some(maps.iter().map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size)).collect::<String>().into_bytes())
}

/// A new container: new pid, mount, uts, ipc and cgroup namespaces, a new
/// net namespace unless the host's is shared, a user namespace when maps are given.
pub fn container(c: &ContainerConfig) -> NativeResult<LaunchSpec> {
    let process = process_spec(&c.process)?;
    let mut flags = libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC;
    if matches!(c.network, Network::None) {
        flags |= libc::CLONE_NEWNET;
    }
    let user_ns = !c.uid_maps.is_empty();
    if user_ns {
        flags |= libc::CLONE_NEWUSER;
    }
    // Rootless: tsbuild already runs in a user namespace (crate::userns), so
    // the container is in one even without maps of its own.
    let rootless = crate::userns::in_user_namespace();
    let in_userns = user_ns || rootless;
    let bind_sys = in_userns && matches!(c.network, Network::Host);
    let rootfs_spec = RootfsSpec { bind_devices: in_userns, bind_sys, userxattr: rootless, ..c.rootfs.clone() };
    let child = ChildSpec {
        become_ns_root: user_ns,
        stdio: stdio(&c.stdio),
        new_session: true,
        hostname: c.hostname.as_deref().map(|h| cstring(h, "hostname")).transpose()?,
        new_cgroup_ns: true,
        // Kernels without CONFIG_TIME_NS (before 5.6) run containers on the host's clocks.
        new_time_ns: std::path::Path::new("/proc/self/ns/time").exists(),
        loopback_up: matches!(c.network, Network::None),
        rootfs: rootfs::plan(&rootfs_spec),
        process,
    };
    let exec_args = ExecArgs::new(&child.process);
    Ok(LaunchSpec {
        clone_flags: flags,
        exec_args,
        child,
        cgroup_procs: c.cgroup_procs.clone(),
        uid_map: id_map_bytes(&c.uid_maps),
        gid_map: id_map_bytes(&c.gid_maps),
    })
}

/// A process joining an existing container (`exec`): no new namespaces, no rootfs work.
pub fn joining(p: &ProcessConfig, s: &StdioConfig, cgroup_procs: &[i32]) -> NativeResult<LaunchSpec> {
    let process = process_spec(p)?;
    let child = ChildSpec { become_ns_root: false, stdio: stdio(s), new_session: true, hostname: None, new_cgroup_ns: false, new_time_ns: false, loopback_up: false, rootfs: Vec::new(), process };
    let exec_args = ExecArgs::new(&child.process);
    Ok(LaunchSpec { clone_flags: libc::CLONE_PARENT, exec_args, child, cgroup_procs: cgroup_procs.to_vec(), uid_map: None, gid_map: None })
}

fn describe_step(s: &PlannedStep) -> String {
    let l = |c: &CString| c.to_string_lossy().into_owned();
    match &s.step {
        Step::Mount { source, target, fstype, .. } => format!(
            "mount {} on {}{}",
            source.as_ref().map(l).unwrap_or_else(|| "(remount)".into()),
            l(target),
            fstype.as_ref().map(|f| format!(" ({})", l(f))).unwrap_or_default()
        ),
        Step::Mkdir { path, .. } => format!("mkdir {}", l(path)),
        Step::Mknod { path, .. } => format!("mknod {}", l(path)),
        Step::Touch { path } => format!("create {}", l(path)),
        Step::Symlink { link, .. } => format!("symlink {}", l(link)),
        Step::Umount { target, .. } => format!("unmount {}", l(target)),
        Step::SetOwner { path, .. } => format!("chown {}", l(path)),
        Step::SwitchRoot { root } => format!("pivot_root to {}", l(root)),
        Step::Overlay(ov) => format!("mount overlay on {} (overlay)", l(&ov.target)),
    }
}

pub fn describe_failure(f: &Failure, spec: &LaunchSpec) -> String {
    let err = std::io::Error::from_raw_os_error(f.errno);
    let strerror = err.to_string();
    let strerror = strerror.split(" (os error").next().unwrap_or("").to_string();
    match f.stage {
        Stage::Rootfs => {
            let step = spec.child.rootfs.get(f.detail as usize).map(describe_step).unwrap_or_default();
            format!("{}: {}: {}", f.stage.describe(), step, strerror)
        }
        Stage::Cwd => format!("{} {}: {}", f.stage.describe(), spec.child.process.cwd.to_string_lossy(), strerror),
        _ => format!("{}: {}", f.stage.describe(), strerror),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ContainerConfig {
        ContainerConfig {
            rootfs: RootfsSpec { rootfs: "/r".into(), lower_dirs: vec!["/l".into()], mask_paths: true, ..Default::default() },
            hostname: Some("h".into()),
            network: Network::None,
            uid_maps: vec![],
            gid_maps: vec![],
            process: ProcessConfig { args: vec!["ps".into()], exec_candidates: vec!["/bin/ps".into()], cwd: "/a/b".into(), die_with_parent: true, ..Default::default() },
            stdio: StdioConfig::Fds([0, 1, 2]),
            cgroup_procs: vec![7],
        }
    }

    #[test]
    fn namespaces_follow_the_network_mode_and_user_maps() {
        let s = container(&config()).unwrap();
        let want = libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWNET;
        assert_eq!(s.clone_flags, want);
        assert!(s.child.loopback_up);
        let host = container(&ContainerConfig { network: Network::Host, ..config() }).unwrap();
        assert_eq!(host.clone_flags & libc::CLONE_NEWNET, 0);
        let userns = container(&ContainerConfig { uid_maps: vec![IdMap { container_id: 0, host_id: 100000, size: 65536 }], ..config() }).unwrap();
        assert_ne!(userns.clone_flags & libc::CLONE_NEWUSER, 0);
        assert_eq!(userns.uid_map.as_deref(), Some(&b"0 100000 65536\n"[..]));
    }

    #[test]
    fn builds_cwd_ancestors_and_rejects_bad_input() {
        let s = container(&config()).unwrap();
        let anc: Vec<_> = s.child.process.cwd_ancestors.iter().map(|c| c.to_string_lossy().into_owned()).collect();
        assert_eq!(anc, vec!["/a", "/a/b"]);
        assert_eq!(s.exec_args.argv.len(), 2);
        assert!(s.exec_args.argv[1].is_null());
        let mut bad = config();
        bad.process.args = vec![];
        assert!(container(&bad).is_err());
        let mut rel = config();
        rel.process.cwd = "rel".into();
        assert!(container(&rel).is_err());
    }

    #[test]
    fn describes_a_rootfs_failure_by_its_step() {
        let s = container(&config()).unwrap();
        let f = Failure { stage: Stage::Rootfs, detail: 1, errno: libc::EINVAL };
        assert_eq!(describe_failure(&f, &s), "setting up the root filesystem: mount overlay on /r (overlay): Invalid argument");
    }
}
