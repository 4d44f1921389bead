//! A container-aware /proc, as LXCFS gives docker users, without a daemon:
//! a small FUSE filesystem per container whose files are bound over
//! /proc/meminfo, /proc/cpuinfo, /proc/stat and /proc/loadavg, rendered
//! from the container's cgroup at read time.
//!
//! Why per container and in-process: tsbuild has no daemon to host LXCFS,
//! and every foreground container (`run`, a build step) already has a live
//! tsbuild process for its whole life, so a thread of that process serves
//! it. The host mount is lazily detached right after the container starts:
//! the container's mount namespace keeps the only reference, so the
//! connection ends (and the thread exits) when the container does, and
//! nothing is left mounted on the host even if tsbuild is killed.
//!
//! /proc/uptime is not served: the time namespace makes the kernel's own
//! file count from the container's start.

pub mod cgstat;
pub mod fuse;
pub mod render;

use cgstat::Cgroup;
use render::LoadAvg;
use std::fs;
use std::io;
use std::path::Path;

pub const FILES: &[&str] = &["meminfo", "cpuinfo", "stat", "loadavg"];
/// The kernel samples load every 5 s (LOAD_FREQ); so do we.
pub const LOAD_TICK_MS: i32 = 5000;

/// The files of one container's view.
pub struct View {
    pub cgroup: Cgroup,
    pub load: LoadAvg,
    /// The host's /proc, a parameter so tests can use a fake one.
    pub host_proc: std::path::PathBuf,
}

impl View {
    pub fn new(cgroup_root: &Path, cgroup_name: &str) -> View {
        View { cgroup: Cgroup::new(cgroup_root, cgroup_name), load: LoadAvg::default(), host_proc: "/proc".into() }
    }

    fn host(&self, name: &str) -> String {
        fs::read_to_string(self.host_proc.join(name)).unwrap_or_default()
    }

    fn cpus(&self, host_cpuinfo: &str) -> Vec<usize> {
        cgstat::visible_cpus(self.cgroup.cpuset(), self.cgroup.cpu_quota(), &render::host_cpus(host_cpuinfo))
    }

    /// Counts the cgroup's tasks by state and folds them into the averages.
    pub fn sample_load(&mut self, dt: f64) {
        let tasks = self.cgroup.tasks();
        let (mut running, mut active) = (0, 0);
        for tid in &tasks {
            match fs::read_to_string(self.host_proc.join(tid.to_string()).join("stat")).ok().as_deref().and_then(render::task_state) {
                Some('R') => {
                    running += 1;
                    active += 1;
                }
                Some('D') => active += 1,
                _ => {}
            }
        }
        self.load.sample(active, running, tasks.len(), dt);
    }

    pub fn render_file(&mut self, name: &str) -> String {
        match name {
            "meminfo" => render::meminfo(&self.host("meminfo"), &self.cgroup.memory()),
            "cpuinfo" => {
                let host = self.host("cpuinfo");
                render::cpuinfo(&host, &self.cpus(&host))
            }
            "stat" => {
                let cpus = self.cpus(&self.host("cpuinfo"));
                render::stat(&self.host("stat"), &cpus)
            }
            "loadavg" => {
                // The current running/total counts, without moving the averages between ticks.
                let saved = self.load.clone();
                self.sample_load(0.0);
                let out = self.load.render();
                self.load.avg = saved.avg;
                out
            }
            _ => String::new(),
        }
    }
}

impl fuse::Files for View {
    fn names(&self) -> &[&'static str] {
        FILES
    }
    fn render(&mut self, index: usize) -> Vec<u8> {
        self.render_file(FILES[index]).into_bytes()
    }
}

/// Mounts the view on `mountpoint` and serves it from a new thread.
pub fn start(mountpoint: &str, cgroup_root: &Path, cgroup_name: &str) -> io::Result<()> {
    let fd = fuse::mount(mountpoint)?;
    let mut view = View::new(cgroup_root, cgroup_name);
    view.sample_load(0.0);
    let spawned = std::thread::Builder::new().name("tsbuild-procview".into()).spawn(move || {
        let mut server = fuse::Server::new(view);
        fuse::serve(fd, &mut server, LOAD_TICK_MS, |v| v.sample_load(LOAD_TICK_MS as f64 / 1000.0));
    });
    if let Err(e) = spawned {
        detach(mountpoint);
        return Err(e);
    }
    Ok(())
}

/// Lazily unmounts the host's copy (idempotent: not a mount is fine).
pub fn detach(mountpoint: &str) {
    if let Ok(t) = std::ffi::CString::new(mountpoint) {
        unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::v1::tempdir::{put, TempDir};

    #[test]
    fn a_v2_view_follows_cpuset_and_memory_and_counts_tasks() {
        let t = TempDir::new();
        let cg = t.path().join("cg");
        let proc = t.path().join("proc");
        put(&cg, "cgroup.controllers", "cpuset cpu memory\n");
        put(&cg, "c/cpuset.cpus.effective", "1\n");
        put(&cg, "c/memory.max", "67108864\n");
        put(&cg, "c/memory.current", "1048576\n");
        put(&cg, "c/cgroup.threads", "10\n11\n12\n");
        put(&proc, "cpuinfo", "processor\t: 0\na\t: 0\n\nprocessor\t: 1\na\t: 1\n\n");
        put(&proc, "stat", "cpu  2 2\ncpu0 1 1\ncpu1 1 1\nctxt 3\n");
        put(&proc, "meminfo", "MemTotal:  8000000 kB\nMemFree:  10 kB\nMemAvailable:  10 kB\n");
        put(&proc, "10/stat", "10 (sh) R 1");
        put(&proc, "11/stat", "11 (sleep) S 1");
        put(&proc, "12/stat", "12 (dd) D 1");
        let mut v = View { cgroup: Cgroup::new(&cg, "c"), load: LoadAvg::default(), host_proc: proc };
        assert_eq!(v.render_file("cpuinfo"), "processor\t: 0\na\t: 1\n\n");
        assert_eq!(v.render_file("stat"), "cpu  1 1\ncpu0 1 1\nctxt 3\n");
        assert!(v.render_file("meminfo").lines().any(|l| l.starts_with("MemFree:") && l.split_whitespace().nth(1) == Some("64512")));
        assert_eq!(v.render_file("loadavg"), "0.00 0.00 0.00 1/3 0\n");
        v.sample_load(60.0);
        assert!(v.render_file("loadavg").starts_with("1.26 0.36 0.13 1/3 0"), "{}", v.render_file("loadavg"));
    }
}
