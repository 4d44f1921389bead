//! cgroup v2: one unified tree. Controllers must be enabled in every
//! ancestor's cgroup.subtree_control before a child can use them.

use super::{mkdir_all, write, Created, Limits};
use crate::error::{Code, NativeError, NativeResult};
use std::fs;
use std::path::Path;

const WANTED: &[&str] = &["cpu", "cpuset", "memory", "pids", "io"];

/// The controllers the requested limits write to.
fn needed(limits: &Limits) -> Vec<&'static str> {
    let mut n = Vec::new();
    if limits.cpu_quota.is_some() || limits.cpu_period.is_some() {
        n.push("cpu");
    }
    if limits.memory.is_some() {
        n.push("memory");
    }
    if limits.pids.is_some() {
        n.push("pids");
    }
    if limits.cpuset_cpus.is_some() || limits.cpuset_mems.is_some() {
        n.push("cpuset");
    }
    n
}

pub fn create(root: &Path, name: &str, limits: &Limits) -> NativeResult<Created> {
    let available = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    // A kernel without a controller (UML's 6.1 has no v2 cpuset) has no
    // interface files for it, and writing one fails with a bare EACCES from
    // cgroupfs: name the controller instead, before anything is created.
    if let Some(missing) = needed(limits).into_iter().find(|c| !available.split_whitespace().any(|a| a == *c)) {
        return Err(NativeError::new(
            Code::Cgroup,
            format!("the {} controller is not available in cgroup v2 at {} (it has: {})", missing, root.display(), available.trim()),
        ));
    }
    let enable: Vec<String> = WANTED.iter().filter(|c| available.split_whitespace().any(|a| a == **c)).map(|c| format!("+{}", c)).collect();
    let mut dir = root.to_path_buf();
    let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
    for part in &parts {
        // Enable in the parent, then descend; the leaf itself holds processes
        // and so must not enable controllers for children (no-internal-process rule).
        if !enable.is_empty() {
            write(&dir, "cgroup.subtree_control", &enable.join(" "))?;
        }
        dir = dir.join(part);
        mkdir_all(&dir)?;
    }
    if limits.cpu_quota.is_some() || limits.cpu_period.is_some() {
        let quota = match limits.cpu_quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        let period = limits.cpu_period.unwrap_or(100_000);
        write(&dir, "cpu.max", &format!("{} {}", quota, period))?;
    }
    if let Some(mem) = limits.memory {
        write(&dir, "memory.max", &mem.to_string())?;
        if dir.join("memory.swap.max").exists() {
            write(&dir, "memory.swap.max", "0")?;
        }
    }
    if let Some(pids) = limits.pids {
        write(&dir, "pids.max", &pids.to_string())?;
    }
    if let Some(cpus) = &limits.cpuset_cpus {
        write(&dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = &limits.cpuset_mems {
        write(&dir, "cpuset.mems", mems)?;
    }
    Ok(Created { procs_files: vec![dir.join("cgroup.procs")], dirs: vec![dir] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::v1::tempdir::TempDir;
    use crate::cgroup::Hierarchy;

    fn fake_v2() -> TempDir {
        let t = TempDir::new();
        fs::write(t.path().join("cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc\n").unwrap();
        fs::write(t.path().join("cgroup.subtree_control"), "").unwrap();
        t
    }

    #[test]
    fn enables_controllers_down_the_tree_and_writes_limits() {
        let t = fake_v2();
        let h = Hierarchy::detect(t.path());
        assert_eq!(h.version(), 2);
        let limits = Limits { cpu_period: Some(100000), cpu_quota: Some(20000), memory: Some(32 << 20), pids: Some(10), cpuset_cpus: Some("0".into()), ..Default::default() };
        let created = h.create("tsbuild/abc", &limits).unwrap();
        let read = |p: &str| fs::read_to_string(t.path().join(p)).unwrap();
        assert_eq!(read("cgroup.subtree_control"), "+cpu +cpuset +memory +pids +io");
        assert_eq!(read("tsbuild/cgroup.subtree_control"), "+cpu +cpuset +memory +pids +io");
        assert!(!t.path().join("tsbuild/abc/cgroup.subtree_control").exists());
        assert_eq!(read("tsbuild/abc/cpu.max"), "20000 100000");
        assert_eq!(read("tsbuild/abc/memory.max"), "33554432");
        assert_eq!(read("tsbuild/abc/pids.max"), "10");
        assert_eq!(read("tsbuild/abc/cpuset.cpus"), "0");
        assert_eq!(created.procs_files, vec![t.path().join("tsbuild/abc/cgroup.procs")]);
    }

    #[test]
    fn names_a_controller_the_kernel_lacks_and_creates_nothing() {
        let t = TempDir::new();
        fs::write(t.path().join("cgroup.controllers"), "cpu io memory pids\n").unwrap();
        fs::write(t.path().join("cgroup.subtree_control"), "").unwrap();
        let h = Hierarchy::detect(t.path());
        let err = h.create("tsbuild/abc", &Limits { cpuset_cpus: Some("0".into()), memory: Some(32 << 20), ..Default::default() }).unwrap_err();
        assert_eq!((err.code, err.errno), (Code::Cgroup, None));
        assert!(err.to_string().starts_with("the cpuset controller is not available in cgroup v2 at "), "{}", err);
        assert!(err.to_string().ends_with("(it has: cpu io memory pids)"), "{}", err);
        assert!(!t.path().join("tsbuild").exists());
        // Limits it can apply still work there.
        h.create("tsbuild/abc", &Limits { memory: Some(32 << 20), ..Default::default() }).unwrap();
        assert_eq!(fs::read_to_string(t.path().join("cgroup.subtree_control")).unwrap(), "+cpu +memory +pids +io");
    }

    #[test]
    fn unlimited_quota_is_max() {
        let t = fake_v2();
        Hierarchy::detect(t.path()).create("x", &Limits { cpu_period: Some(50000), ..Default::default() }).unwrap();
        assert_eq!(fs::read_to_string(t.path().join("x/cpu.max")).unwrap(), "max 50000");
    }

    #[test]
    fn reads_oom_kills_and_removes() {
        let t = fake_v2();
        let h = Hierarchy::detect(t.path());
        h.create("tsbuild/abc", &Limits::default()).unwrap();
        fs::write(t.path().join("tsbuild/abc/memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n").unwrap();
        assert_eq!(h.oom_kills("tsbuild/abc"), 1);
        // A real cgroupfs removes interface files with the dir; the fake needs help.
        for f in fs::read_dir(t.path().join("tsbuild/abc")).unwrap() {
            fs::remove_file(f.unwrap().path()).unwrap();
        }
        h.remove("tsbuild/abc").unwrap();
        assert!(!t.path().join("tsbuild/abc").exists());
        h.remove("tsbuild/abc").unwrap();
    }

    #[test]
    fn reads_cpu_stat_and_memory_peak() {
        let t = fake_v2();
        let h = Hierarchy::detect(t.path());
        h.create("tsbuild/u", &Limits::default()).unwrap();
        assert_eq!(h.usage("tsbuild/u"), None);
        fs::write(t.path().join("tsbuild/u/cpu.stat"), "usage_usec 1500000\nuser_usec 1200000\nsystem_usec 300000\nnr_periods 0\n").unwrap();
        assert_eq!(h.usage("tsbuild/u"), Some(crate::cgroup::CgroupUsage { user_us: 1_200_000, sys_us: 300_000, peak_bytes: None }));
        fs::write(t.path().join("tsbuild/u/memory.peak"), "52428800\n").unwrap();
        assert_eq!(h.usage("tsbuild/u").unwrap().peak_bytes, Some(50 << 20));
    }
}
