//! Per-container cgroups on either cgroup version. Both writers take the
//! cgroupfs root as a parameter (youki's habit), so tests point them at a
//! temp dir: that is how the v2 writer is tested on this v1 (hybrid) host.
//!
//! Every container gets `<root>/tsbuild/<id>` (v2) or
//! `<root>/<controller>/tsbuild/<id>` for each v1 controller.

use crate::error::{Code, NativeError, NativeResult};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub mod v1;
pub mod v2;

/// Resource limits, already validated and converted to kernel units.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    pub cpu_period: Option<u64>,
    /// Microseconds per period; `None` or negative means unlimited.
    pub cpu_quota: Option<i64>,
    pub memory: Option<i64>,
    pub pids: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Hierarchy {
    V1(PathBuf),
    V2(PathBuf),
}

/// A created cgroup: the directories made and the files to write a pid into.
#[derive(Clone, Debug, Default)]
pub struct Created {
    pub dirs: Vec<PathBuf>,
    pub procs_files: Vec<PathBuf>,
}

impl Hierarchy {
    /// A unified (v2) hierarchy has cgroup.controllers at its root; anything
    /// else mounted there is the v1 (or hybrid) layout of per-controller dirs.
    pub fn detect(root: &Path) -> Hierarchy {
        if root.join("cgroup.controllers").exists() {
            Hierarchy::V2(root.to_path_buf())
        } else {
            Hierarchy::V1(root.to_path_buf())
        }
    }

    pub fn version(&self) -> u32 {
        match self {
            Hierarchy::V1(_) => 1,
            Hierarchy::V2(_) => 2,
        }
    }

    /// Makes the cgroup and writes the limits; on failure removes what it
    /// made, so a rejected limit leaves no empty cgroup behind.
    pub fn create(&self, name: &str, limits: &Limits) -> NativeResult<Created> {
        let r = match self {
            Hierarchy::V1(root) => v1::create(root, name, limits),
            Hierarchy::V2(root) => v2::create(root, name, limits),
        };
        if r.is_err() {
            let _ = self.remove(name);
        }
        r
    }

    /// Every directory this container's cgroup may occupy (whether or not it exists).
    pub fn dirs(&self, name: &str) -> Vec<PathBuf> {
        match self {
            Hierarchy::V1(root) => v1::CONTROLLERS.iter().map(|c| root.join(c).join(name)).collect(),
            Hierarchy::V2(root) => vec![root.join(name)],
        }
    }

    /// How many times the kernel's OOM killer fired in this cgroup.
    pub fn oom_kills(&self, name: &str) -> u64 {
        match self {
            Hierarchy::V1(root) => counter(&root.join("memory").join(name).join("memory.oom_control"), "oom_kill"),
            Hierarchy::V2(root) => counter(&root.join(name).join("memory.events"), "oom_kill"),
        }
    }

    /// What the cgroup's processes used, from its own counters, which (unlike
    /// rusage) count every task that ever ran in it, reaped or not, and
    /// give the peak of their *combined* memory (page cache included).
    /// v1: cpuacct.usage / cpuacct.stat / memory.max_usage_in_bytes;
    /// v2: cpu.stat / memory.peak (Linux 5.19+). `None` when there is no
    /// CPU counter; `peak_bytes` is `None` when no peak file exists.
    pub fn usage(&self, name: &str) -> Option<CgroupUsage> {
        match self {
            Hierarchy::V1(root) => {
                let acct = root.join("cpuacct").join(name);
                let total_ns = read_u64(&acct.join("cpuacct.usage"))?;
                // cpuacct.stat is in USER_HZ ticks: only the user/sys ratio is taken from it.
                let stat = acct.join("cpuacct.stat");
                let (user, sys) = (counter(&stat, "user"), counter(&stat, "system"));
                let total_us = total_ns / 1000;
                let user_us = if user + sys > 0 { (total_us as u128 * user as u128 / (user + sys) as u128) as u64 } else { total_us };
                let peak_bytes = read_u64(&root.join("memory").join(name).join("memory.max_usage_in_bytes"));
                Some(CgroupUsage { user_us, sys_us: total_us - user_us, peak_bytes })
            }
            Hierarchy::V2(root) => {
                let dir = root.join(name);
                let stat = fs::read_to_string(dir.join("cpu.stat")).ok()?;
                let get = |k: &str| stat.lines().find_map(|l| l.strip_prefix(k).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse::<u64>().ok()));
                let total = get("usage_usec")?;
                let user_us = get("user_usec").unwrap_or(total);
                let sys_us = get("system_usec").unwrap_or(total.saturating_sub(user_us));
                Some(CgroupUsage { user_us, sys_us, peak_bytes: read_u64(&dir.join("memory.peak")) })
            }
        }
    }

    /// Pids still in the cgroup (from the first directory that lists any).
    pub fn pids(&self, name: &str) -> Vec<i32> {
        for dir in self.dirs(name) {
            if let Ok(s) = fs::read_to_string(dir.join("cgroup.procs")) {
                let pids: Vec<i32> = s.lines().filter_map(|l| l.trim().parse().ok()).collect();
                if !pids.is_empty() {
                    return pids;
                }
            }
        }
        Vec::new()
    }

    /// Kills whatever is left and removes the directories. Idempotent: a
    /// cgroup already gone is success.
    pub fn remove(&self, name: &str) -> NativeResult<()> {
        if let Hierarchy::V2(root) = self {
            // cgroup.kill (5.14+) kills every process in it at once, forks in
            // flight included, where a kill loop over cgroup.procs can race a
            // fork bomb. The loop below stays for older kernels and for v1.
            let kill = root.join(name).join("cgroup.kill");
            if kill.exists() {
                let _ = fs::write(&kill, "1");
            }
        }
        // rmdir is EBUSY until the killed processes have exited, which takes
        // a while for a big address space or on a slow (UML, loaded CI) host.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            for pid in self.pids(name) {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let mut busy = None;
            for dir in self.dirs(name) {
                match fs::remove_dir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => busy = Some((dir, e)),
                    Err(e) => return Err(NativeError::io(Code::Cgroup, format!("remove {}", dir.display()), &e)),
                }
            }
            match busy {
                None => return Ok(()),
                Some((dir, e)) if Instant::now() >= deadline => return Err(NativeError::io(Code::Cgroup, format!("remove {}", dir.display()), &e)),
                Some(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

/// CPU time and peak memory a cgroup's counters report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CgroupUsage {
    pub user_us: u64,
    pub sys_us: u64,
    pub peak_bytes: Option<u64>,
}

fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Reads `key N` from a flat-keyed cgroup file; 0 when absent.
fn counter(path: &Path, key: &str) -> u64 {
    fs::read_to_string(path)
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse().ok())))
        .unwrap_or(0)
}

pub(crate) fn write(dir: &Path, file: &str, value: &str) -> NativeResult<()> {
    let path = dir.join(file);
    fs::write(&path, value).map_err(|e| NativeError::io(Code::Cgroup, format_args!("write {} to {}", value, path.display()), &e))
}

pub(crate) fn mkdir_all(dir: &Path) -> NativeResult<()> {
    fs::create_dir_all(dir).map_err(|e| NativeError::io(Code::Cgroup, format_args!("create {}", dir.display()), &e))
}
