//! Reading a container's cgroup at /proc read time: its memory limit and
//! usage, its cpuset and cpu quota, and its tasks, on either cgroup version.
//! Paths come from the cgroupfs root given by the caller, so unit tests run
//! the v1 and the v2 readers against fake trees in a temp dir.

use crate::cgroup::Hierarchy;
use std::fs;
use std::path::{Path, PathBuf};

/// Memory figures in bytes, normalised across v1 (`total_*` keys of
/// memory.stat, hierarchical) and v2 (memory.stat's own keys).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Memory {
    /// None when unlimited.
    pub limit: Option<u64>,
    pub usage: u64,
    pub cache: u64,
    pub shmem: u64,
    pub active_file: u64,
    pub inactive_file: u64,
    pub active_anon: u64,
    pub inactive_anon: u64,
}

/// Where one container's cgroup lives.
#[derive(Clone, Debug)]
pub struct Cgroup {
    pub hierarchy: Hierarchy,
    pub name: String,
}

fn read(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok()
}

fn number(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

/// `key value` lines as in memory.stat.
fn stat_value(stat: &str, key: &str) -> u64 {
    stat.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next().and_then(number)).flatten()
    }).unwrap_or(0)
}

/// v1 reports "no limit" as a huge page-aligned number (2^63 - 4096).
fn real_limit(v: Option<u64>) -> Option<u64> {
    v.filter(|n| *n < (1u64 << 62))
}

/// "0-2,4" → [0, 1, 2, 4]. Unparseable parts are skipped.
pub fn parse_cpu_list(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                    out.extend(a..=b.min(a + 4096));
                }
            }
            None => out.extend(part.trim().parse::<usize>().ok()),
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

impl Cgroup {
    pub fn new(root: &Path, name: &str) -> Cgroup {
        Cgroup { hierarchy: Hierarchy::detect(root), name: name.to_string() }
    }

    fn dir(&self, controller: &str) -> PathBuf {
        match &self.hierarchy {
            Hierarchy::V1(root) => root.join(controller).join(&self.name),
            Hierarchy::V2(root) => root.join(&self.name),
        }
    }

    pub fn memory(&self) -> Memory {
        let d = self.dir("memory");
        match &self.hierarchy {
            Hierarchy::V1(_) => {
                let stat = read(&d.join("memory.stat")).unwrap_or_default();
                Memory {
                    limit: real_limit(read(&d.join("memory.limit_in_bytes")).as_deref().and_then(number)),
                    usage: read(&d.join("memory.usage_in_bytes")).as_deref().and_then(number).unwrap_or(0),
                    cache: stat_value(&stat, "total_cache"),
                    shmem: stat_value(&stat, "total_shmem"),
                    active_file: stat_value(&stat, "total_active_file"),
                    inactive_file: stat_value(&stat, "total_inactive_file"),
                    active_anon: stat_value(&stat, "total_active_anon"),
                    inactive_anon: stat_value(&stat, "total_inactive_anon"),
                }
            }
            Hierarchy::V2(_) => {
                let stat = read(&d.join("memory.stat")).unwrap_or_default();
                Memory {
                    // "max" does not parse: unlimited.
                    limit: real_limit(read(&d.join("memory.max")).as_deref().and_then(number)),
                    usage: read(&d.join("memory.current")).as_deref().and_then(number).unwrap_or(0),
                    cache: stat_value(&stat, "file"),
                    shmem: stat_value(&stat, "shmem"),
                    active_file: stat_value(&stat, "active_file"),
                    inactive_file: stat_value(&stat, "inactive_file"),
                    active_anon: stat_value(&stat, "active_anon"),
                    inactive_anon: stat_value(&stat, "inactive_anon"),
                }
            }
        }
    }

    /// The cpus the container may run on; None when the cgroup says nothing.
    pub fn cpuset(&self) -> Option<Vec<usize>> {
        let d = self.dir("cpuset");
        let files: &[&str] = match self.hierarchy {
            Hierarchy::V1(_) => &["cpuset.effective_cpus", "cpuset.cpus"],
            Hierarchy::V2(_) => &["cpuset.cpus.effective", "cpuset.cpus"],
        };
        files.iter().filter_map(|f| read(&d.join(f))).map(|s| parse_cpu_list(&s)).find(|l| !l.is_empty())
    }

    /// (quota, period) in microseconds when a quota is set.
    pub fn cpu_quota(&self) -> Option<(u64, u64)> {
        let d = self.dir("cpu");
        let (q, p) = match self.hierarchy {
            Hierarchy::V1(_) => (read(&d.join("cpu.cfs_quota_us"))?, read(&d.join("cpu.cfs_period_us"))?),
            Hierarchy::V2(_) => {
                let max = read(&d.join("cpu.max"))?;
                let mut it = max.split_whitespace();
                (it.next()?.to_string(), it.next().unwrap_or("100000").to_string())
            }
        };
        // v1 says -1 and v2 says "max" for no quota; neither parses as u64.
        match (number(&q), number(&p)) {
            (Some(q), Some(p)) if q > 0 && p > 0 => Some((q, p)),
            _ => None,
        }
    }

    /// Thread ids in the cgroup (host pid namespace).
    pub fn tasks(&self) -> Vec<i32> {
        let file = match self.hierarchy {
            Hierarchy::V1(_) => self.dir("cpu").join("tasks"),
            Hierarchy::V2(_) => self.dir("").join("cgroup.threads"),
        };
        read(&file).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
    }
}

/// How many cpus the container has: its cpuset, cut down to the quota
/// rounded up (LXCFS's --enable-cfs rule), never fewer than one.
pub fn visible_cpus(cpuset: Option<Vec<usize>>, quota: Option<(u64, u64)>, host: &[usize]) -> Vec<usize> {
    let mut cpus = cpuset.unwrap_or_else(|| host.to_vec());
    if let Some((q, p)) = quota {
        let n = q.div_ceil(p).max(1) as usize;
        cpus.truncate(n);
    }
    cpus
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::v1::tempdir::{put, TempDir};

    #[test]
    fn parses_cpu_lists() {
        assert_eq!(parse_cpu_list("0-2,4\n"), vec![0, 1, 2, 4]);
        assert_eq!(parse_cpu_list("3"), vec![3]);
        assert_eq!(parse_cpu_list("\n"), Vec::<usize>::new());
    }

    #[test]
    fn reads_v2_memory_cpuset_and_quota() {
        let t = TempDir::new();
        put(t.path(), "cgroup.controllers", "cpuset cpu memory pids\n");
        put(t.path(), "tsbuild/x/memory.max", "67108864\n");
        put(t.path(), "tsbuild/x/memory.current", "25165824\n");
        put(t.path(), "tsbuild/x/memory.stat", "anon 1000\nfile 21000000\nshmem 20971520\nactive_file 4096\ninactive_file 8192\nactive_anon 10\ninactive_anon 20\n");
        put(t.path(), "tsbuild/x/cpuset.cpus.effective", "1\n");
        put(t.path(), "tsbuild/x/cpu.max", "150000 100000\n");
        put(t.path(), "tsbuild/x/cgroup.threads", "10\n11\n");
        let cg = Cgroup::new(t.path(), "tsbuild/x");
        let m = cg.memory();
        assert_eq!(m, Memory { limit: Some(64 << 20), usage: 25165824, cache: 21000000, shmem: 20971520, active_file: 4096, inactive_file: 8192, active_anon: 10, inactive_anon: 20 });
        assert_eq!(cg.cpuset(), Some(vec![1]));
        assert_eq!(cg.cpu_quota(), Some((150000, 100000)));
        assert_eq!(cg.tasks(), vec![10, 11]);
    }

    #[test]
    fn v2_max_means_unlimited() {
        let t = TempDir::new();
        put(t.path(), "cgroup.controllers", "cpu memory\n");
        put(t.path(), "c/memory.max", "max\n");
        put(t.path(), "c/cpu.max", "max 100000\n");
        let cg = Cgroup::new(t.path(), "c");
        assert_eq!(cg.memory().limit, None);
        assert_eq!(cg.cpu_quota(), None);
        assert_eq!(cg.cpuset(), None);
    }

    #[test]
    fn reads_v1_per_controller_files() {
        let t = TempDir::new();
        put(t.path(), "memory/tsbuild/x/memory.limit_in_bytes", "9223372036854771712\n");
        put(t.path(), "memory/tsbuild/x/memory.usage_in_bytes", "4096\n");
        put(t.path(), "memory/tsbuild/x/memory.stat", "cache 1\ntotal_cache 2\ntotal_shmem 3\ntotal_active_file 4\ntotal_inactive_file 5\n");
        put(t.path(), "cpuset/tsbuild/x/cpuset.effective_cpus", "0\n");
        put(t.path(), "cpu/tsbuild/x/cpu.cfs_quota_us", "-1\n");
        put(t.path(), "cpu/tsbuild/x/cpu.cfs_period_us", "100000\n");
        put(t.path(), "cpu/tsbuild/x/tasks", "7\n");
        let cg = Cgroup::new(t.path(), "tsbuild/x");
        let m = cg.memory();
        assert_eq!((m.limit, m.usage, m.cache, m.shmem, m.active_file, m.inactive_file), (None, 4096, 2, 3, 4, 5));
        assert_eq!(cg.cpuset(), Some(vec![0]));
        assert_eq!(cg.cpu_quota(), None);
        assert_eq!(cg.tasks(), vec![7]);
    }

    #[test]
    fn quota_rounds_up_and_cuts_the_cpuset() {
        assert_eq!(visible_cpus(Some(vec![0, 1, 2, 3]), Some((150000, 100000)), &[]), vec![0, 1]);
        assert_eq!(visible_cpus(None, Some((1000, 100000)), &[0, 1]), vec![0]);
        assert_eq!(visible_cpus(None, None, &[0, 1]), vec![0, 1]);
    }
}
