//! The text of each /proc file the view serves, as pure functions of the
//! host's file and the container's cgroup figures, so that every format is
//! unit-tested without a kernel. Formats follow the kernel's (fs/proc/*.c)
//! closely enough for procps (free, top, nproc's fallback) and busybox.

use super::cgstat::Memory;
use std::fmt::Write;

/// /proc/meminfo with the container's limit as MemTotal and its usage
/// taken off. MemAvailable counts page cache the kernel could reclaim
/// (file LRUs; shmem and tmpfs pages are not on them), as LXCFS does.
/// Without a limit below the host's total, the host's file is right.
pub fn meminfo(host: &str, m: &Memory) -> String {
    let host_total = field_kb(host, "MemTotal").unwrap_or(u64::MAX);
    let limit_kb = match m.limit {
        Some(l) if l / 1024 < host_total => l / 1024,
        _ => return host.to_string(),
    };
    let usage_kb = (m.usage / 1024).min(limit_kb);
    let free = limit_kb - usage_kb;
    let file = (m.active_file + m.inactive_file) / 1024;
    let available = (free + file).min(limit_kb);
    let over: &[(&str, u64)] = &[
        ("MemTotal", limit_kb),
        ("MemFree", free),
        ("MemAvailable", available),
        ("Buffers", 0),
        ("Cached", (m.cache / 1024).min(usage_kb)),
        ("SwapCached", 0),
        ("Active", (m.active_anon + m.active_file) / 1024),
        ("Inactive", (m.inactive_anon + m.inactive_file) / 1024),
        ("Active(anon)", m.active_anon / 1024),
        ("Inactive(anon)", m.inactive_anon / 1024),
        ("Active(file)", m.active_file / 1024),
        ("Inactive(file)", m.inactive_file / 1024),
        // The runtime gives a limited container no swap (cgroup writers).
        ("SwapTotal", 0),
        ("SwapFree", 0),
        ("Shmem", m.shmem / 1024),
    ];
    let mut out = String::with_capacity(host.len());
    for line in host.lines() {
        let key = line.split(':').next().unwrap_or("");
        match over.iter().find(|(k, _)| *k == key) {
            Some((k, v)) => {
                let _ = writeln!(out, "{:<16}{:>8} kB", format!("{}:", k), v);
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn field_kb(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')?.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The host cpu numbers /proc/cpuinfo lists.
pub fn host_cpus(cpuinfo: &str) -> Vec<usize> {
    cpuinfo.lines().filter_map(processor_number).collect()
}

fn processor_number(line: &str) -> Option<usize> {
    let (k, v) = line.split_once(':')?;
    if k.trim() == "processor" { v.trim().parse().ok() } else { None }
}

/// /proc/cpuinfo cut to the visible cpus and numbered from 0, as a machine
/// with that many cpus would show it. Blocks start at a `processor` line;
/// whatever precedes the first (s390's header) or follows none is kept.
pub fn cpuinfo(host: &str, cpus: &[usize]) -> String {
    let mut out = String::with_capacity(host.len());
    let mut keep = true;
    let mut next = 0usize;
    for line in host.lines() {
        if let Some(n) = processor_number(line) {
            keep = cpus.contains(&n);
            if keep {
                let key = line.split(':').next().unwrap_or("processor");
                let _ = writeln!(out, "{}: {}", key, next);
                next += 1;
            }
            continue;
        }
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// /proc/stat with only the visible cpus' lines, renumbered, and the `cpu`
/// total summed over them, so that top's per-cpu view and its totals agree
/// with the cpuset. The other lines (ctxt, btime, processes) stay the host's.
pub fn stat(host: &str, cpus: &[usize]) -> String {
    let mut total: Vec<u64> = Vec::new();
    let mut per_cpu = String::new();
    let mut next = 0usize;
    let mut rest = String::new();
    for line in host.lines() {
        let Some(name) = line.split_whitespace().next() else { continue };
        if name == "cpu" {
            continue;
        }
        if let Some(n) = name.strip_prefix("cpu").and_then(|n| n.parse::<usize>().ok()) {
            if !cpus.contains(&n) {
                continue;
            }
            let values: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
            if total.len() < values.len() {
                total.resize(values.len(), 0);
            }
            for (t, v) in total.iter_mut().zip(&values) {
                *t += v;
            }
            let _ = write!(per_cpu, "cpu{}", next);
            for v in &values {
                let _ = write!(per_cpu, " {}", v);
            }
            per_cpu.push('\n');
            next += 1;
            continue;
        }
        rest.push_str(line);
        rest.push('\n');
    }
    let mut out = String::from("cpu ");
    for v in &total {
        let _ = write!(out, " {}", v);
    }
    out.push('\n');
    out.push_str(&per_cpu);
    out.push_str(&rest);
    out
}

/// The container's load averages: the kernel's exponential decay over 1, 5
/// and 15 minutes, fed with the count of its runnable (R) and
/// uninterruptible (D) tasks every time `sample` is called (every 5 s, as
/// the kernel's own calc_global_load does).
#[derive(Clone, Debug, Default)]
pub struct LoadAvg {
    pub avg: [f64; 3],
    pub running: usize,
    pub total: usize,
}

impl LoadAvg {
    /// Folds in one sample taken `dt` seconds after the previous one.
    pub fn sample(&mut self, active: usize, running: usize, total: usize, dt: f64) {
        for (a, window) in self.avg.iter_mut().zip([60.0, 300.0, 900.0]) {
            let e = (-dt / window).exp();
            *a = *a * e + active as f64 * (1.0 - e);
        }
        self.running = running;
        self.total = total;
    }

    /// The last field is the most recent pid, which has no meaning across
    /// pid namespaces; 0 says so without breaking parsers.
    pub fn render(&self) -> String {
        format!("{:.2} {:.2} {:.2} {}/{} 0\n", self.avg[0], self.avg[1], self.avg[2], self.running, self.total)
    }
}

/// The state letter of /proc/<pid>/stat (after the last ')').
pub fn task_state(stat: &str) -> Option<char> {
    stat.get(stat.rfind(')')? + 1..)?.trim_start().chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "MemTotal:        8000000 kB\nMemFree:         4000000 kB\nMemAvailable:    6000000 kB\nBuffers:           10000 kB\nCached:          1000000 kB\nSwapTotal:       1000000 kB\nHugePages_Total:       0\n";

    #[test]
    fn meminfo_shows_limit_and_usage() {
        let m = Memory { limit: Some(64 << 20), usage: 30 << 20, cache: 21 << 20, shmem: 20 << 20, active_file: 1 << 20, inactive_file: 0, active_anon: 0, inactive_anon: 29 << 20 };
        let out = meminfo(MEMINFO, &m);
        assert_eq!(field_kb(&out, "MemTotal"), Some(65536));
        assert_eq!(field_kb(&out, "MemFree"), Some(34 * 1024));
        assert_eq!(field_kb(&out, "MemAvailable"), Some(35 * 1024));
        assert_eq!(field_kb(&out, "Shmem"), None, "no Shmem line in the host's file: none added");
        assert_eq!(field_kb(&out, "SwapTotal"), Some(0));
        assert!(out.contains("HugePages_Total:       0\n"));
        assert!(out.starts_with("MemTotal:          65536 kB\n"), "{}", out);
    }

    #[test]
    fn meminfo_without_a_limit_is_the_hosts() {
        assert_eq!(meminfo(MEMINFO, &Memory::default()), MEMINFO);
        let big = Memory { limit: Some(1 << 40), ..Default::default() };
        assert_eq!(meminfo(MEMINFO, &big), MEMINFO);
    }

    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: X\n\nprocessor\t: 1\nvendor_id\t: Y\n\nprocessor\t: 2\nvendor_id\t: Z\n\n";

    #[test]
    fn cpuinfo_keeps_visible_cpus_renumbered() {
        assert_eq!(host_cpus(CPUINFO), vec![0, 1, 2]);
        let out = cpuinfo(CPUINFO, &[1]);
        assert_eq!(out, "processor\t: 0\nvendor_id\t: Y\n\n");
        assert_eq!(host_cpus(&cpuinfo(CPUINFO, &[0, 2])), vec![0, 1]);
    }

    #[test]
    fn stat_sums_only_visible_cpus() {
        let host = "cpu  6 6 6\ncpu0 1 2 3\ncpu1 5 4 3\nintr 5 0\nctxt 9\nbtime 100\n";
        assert_eq!(stat(host, &[1]), "cpu  5 4 3\ncpu0 5 4 3\nintr 5 0\nctxt 9\nbtime 100\n");
        assert_eq!(stat(host, &[0, 1]), "cpu  6 6 6\ncpu0 1 2 3\ncpu1 5 4 3\nintr 5 0\nctxt 9\nbtime 100\n");
    }

    #[test]
    fn load_average_decays_toward_the_active_count() {
        let mut l = LoadAvg::default();
        assert_eq!(l.render(), "0.00 0.00 0.00 0/0 0\n");
        for _ in 0..12 {
            l.sample(2, 2, 3, 5.0);
        }
        // One minute of two busy tasks: 1 - 1/e of the way for the 1-minute average.
        assert!((l.avg[0] - 2.0 * (1.0 - (-1.0f64).exp())).abs() < 1e-9);
        assert!(l.avg[1] < l.avg[0] && l.avg[2] < l.avg[1]);
        assert!(l.render().ends_with(" 2/3 0\n"));
    }

    #[test]
    fn reads_task_state_past_odd_names() {
        assert_eq!(task_state("12 (a) b) R 1 2"), Some('R'));
        assert_eq!(task_state("12 (sh) S 1"), Some('S'));
    }
}
