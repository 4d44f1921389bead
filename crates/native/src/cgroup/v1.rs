//! cgroup v1: one directory per controller hierarchy.

use super::{mkdir_all, write, Created, Limits};
use crate::error::NativeResult;
use std::fs;
use std::path::Path;

/// Controllers a container joins. cpuacct and blkio give accounting; the
/// freezer lets a whole container be stopped atomically.
pub const CONTROLLERS: &[&str] = &["cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer", "devices"];

pub fn create(root: &Path, name: &str, limits: &Limits) -> NativeResult<Created> {
    let mut created = Created::default();
    for controller in CONTROLLERS {
        let base = root.join(controller);
        if !base.join("cgroup.procs").exists() {
            continue; // controller not mounted on this host
        }
        let dir = base.join(name);
        if *controller == "cpuset" {
            create_cpuset(&base, name)?;
        } else {
            mkdir_all(&dir)?;
        }
        created.procs_files.push(dir.join("cgroup.procs"));
        created.dirs.push(dir);
    }
    let dir = |c: &str| root.join(c).join(name);
    if let Some(period) = limits.cpu_period {
        write(&dir("cpu"), "cpu.cfs_period_us", &period.to_string())?;
    }
    if let Some(quota) = limits.cpu_quota {
        write(&dir("cpu"), "cpu.cfs_quota_us", &quota.to_string())?;
    }
    if let Some(mem) = limits.memory {
        write(&dir("memory"), "memory.limit_in_bytes", &mem.to_string())?;
        // With swap, a limit only slows a process down; docker's default
        // (--memory-swap = 2x) would need the memsw controller. No swap here.
        let _ = write(&dir("memory"), "memory.memsw.limit_in_bytes", &mem.to_string());
    }
    if let Some(pids) = limits.pids {
        write(&dir("pids"), "pids.max", &pids.to_string())?;
    }
    if let Some(cpus) = &limits.cpuset_cpus {
        write(&dir("cpuset"), "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = &limits.cpuset_mems {
        write(&dir("cpuset"), "cpuset.mems", mems)?;
    }
    Ok(created)
}

/// A new v1 cpuset starts with no cpus and no mems, and a task cannot join
/// it until both are set: copy them down from the parent at each level.
fn create_cpuset(base: &Path, name: &str) -> NativeResult<()> {
    let mut parent = base.to_path_buf();
    for part in name.split('/').filter(|p| !p.is_empty()) {
        let dir = parent.join(part);
        mkdir_all(&dir)?;
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let current = fs::read_to_string(dir.join(file)).unwrap_or_default();
            if current.trim().is_empty() {
                let inherited = fs::read_to_string(parent.join(file)).unwrap_or_default();
                write(&dir, file, inherited.trim())?;
            }
        }
        parent = dir;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::Hierarchy;

    fn fake_v1() -> tempdir::TempDir {
        let t = tempdir::TempDir::new();
        for c in ["cpu", "memory", "pids", "cpuset"] {
            fs::create_dir_all(t.path().join(c)).unwrap();
            fs::write(t.path().join(c).join("cgroup.procs"), "").unwrap();
        }
        fs::write(t.path().join("cpuset/cpuset.cpus"), "0-1\n").unwrap();
        fs::write(t.path().join("cpuset/cpuset.mems"), "0\n").unwrap();
        t
    }

    #[test]
    fn writes_limits_per_controller_and_fills_cpuset() {
        let t = fake_v1();
        let h = Hierarchy::detect(t.path());
        assert_eq!(h.version(), 1);
        let limits = Limits { cpu_period: Some(100000), cpu_quota: Some(20000), memory: Some(32 << 20), pids: Some(10), ..Default::default() };
        let created = h.create("tsbuild/abc", &limits).unwrap();
        assert_eq!(created.procs_files.len(), 4);
        let read = |p: &str| fs::read_to_string(t.path().join(p)).unwrap();
        assert_eq!(read("cpu/tsbuild/abc/cpu.cfs_quota_us"), "20000");
        assert_eq!(read("cpu/tsbuild/abc/cpu.cfs_period_us"), "100000");
        assert_eq!(read("memory/tsbuild/abc/memory.limit_in_bytes"), "33554432");
        assert_eq!(read("pids/tsbuild/abc/pids.max"), "10");
        assert_eq!(read("cpuset/tsbuild/cpuset.cpus"), "0-1");
        assert_eq!(read("cpuset/tsbuild/abc/cpuset.mems"), "0");
    }

    #[test]
    fn reads_cpuacct_and_max_usage() {
        let t = fake_v1();
        let h = Hierarchy::detect(t.path());
        fs::create_dir_all(t.path().join("cpuacct/tsbuild/u")).unwrap();
        fs::create_dir_all(t.path().join("memory/tsbuild/u")).unwrap();
        assert_eq!(h.usage("tsbuild/u"), None);
        fs::write(t.path().join("cpuacct/tsbuild/u/cpuacct.usage"), "2000000000\n").unwrap();
        fs::write(t.path().join("cpuacct/tsbuild/u/cpuacct.stat"), "user 150\nsystem 50\n").unwrap();
        fs::write(t.path().join("memory/tsbuild/u/memory.max_usage_in_bytes"), "104857600\n").unwrap();
        assert_eq!(h.usage("tsbuild/u"), Some(crate::cgroup::CgroupUsage { user_us: 1_500_000, sys_us: 500_000, peak_bytes: Some(100 << 20) }));
    }
}

/// A minimal temp dir for tests (no extra crate needed).
#[cfg(test)]
pub mod tempdir {
    use std::path::{Path, PathBuf};
    pub struct TempDir(PathBuf);
    impl TempDir {
        pub fn new() -> TempDir {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!("tsbuild-test-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Writes `body` at `root/rel`, making its parents: one file of a fake cgroupfs or procfs tree.
    pub fn put(root: &Path, rel: &str, body: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
}
