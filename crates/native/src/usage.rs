//! What a finished process used: CPU time and peak memory, from the
//! rusage that wait4 returns with its exit status (no extra syscall).
//!
//! wait4 reports the waited child plus every descendant that was reaped
//! (waited for) before it exited: the kernel folds a reaped child's
//! counters into its reaper's `signal->c*` fields. A container's PID 1 is
//! the reaper of its namespace, and when it exits the kernel kills and
//! reaps the rest of the namespace into it, so nothing that ran in the
//! container is missed. `ru_maxrss` is the *largest* resident set of any
//! one of those processes, not a sum: two 50 MiB processes report 50 MiB.
//!
//! One more catch: the container's PID 1 is a fork of Node, and exec folds
//! the peak RSS of the pre-exec (forked) memory image into `ru_maxrss`. So
//! the launcher reads the child's VmHWM while it waits on the sync pipe
//! (`fork_rss`): a `ru_maxrss` above that is the step's own peak, exactly;
//! one at or below it only says "at most this much".

use crate::syscall::Errno;

/// CPU and memory of a process and its reaped descendants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessUsage {
    pub user_us: u64,
    pub sys_us: u64,
    /// Max over the processes of their peak RSS, in bytes.
    pub max_rss_bytes: u64,
}

fn micros(tv: &libc::timeval) -> u64 {
    (tv.tv_sec.max(0) as u64) * 1_000_000 + tv.tv_usec.max(0) as u64
}

/// Converts the kernel's rusage (`ru_maxrss` is in KiB on Linux).
pub fn from_rusage(ru: &libc::rusage) -> ProcessUsage {
    ProcessUsage { user_us: micros(&ru.ru_utime), sys_us: micros(&ru.ru_stime), max_rss_bytes: (ru.ru_maxrss.max(0) as u64) * 1024 }
}

/// `VmHWM` of /proc/<pid>/status in bytes. Allocation-free: the launcher
/// calls it between clone and the child's exec, also in middle processes.
pub fn vm_hwm_bytes(pid: i32) -> Option<u64> {
    let path = crate::rawio::StackPath::new().push(b"/proc/").push(crate::rawio::Dec::new(pid as u64).as_bytes()).push(b"/status");
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 4096];
    let n = crate::rawio::read_full(fd, &mut buf).unwrap_or(0);
    unsafe { libc::close(fd) };
    parse_vm_hwm(&buf[..n])
}

/// Finds `VmHWM:   1234 kB` in a status file's bytes.
pub fn parse_vm_hwm(status: &[u8]) -> Option<u64> {
    let key = b"VmHWM:";
    let at = status.windows(key.len()).position(|w| w == key)? + key.len();
    let mut kib: u64 = 0;
    let mut seen = false;
    for &c in &status[at..] {
        match c {
            b' ' | b'\t' if !seen => {}
            b'0'..=b'9' => {
                kib = kib * 10 + (c - b'0') as u64;
                seen = true;
            }
            _ => break,
        }
    }
    if seen { Some(kib * 1024) } else { None }
}

/// Waits for `pid` (any child kind) and returns its raw status and usage.
pub fn wait_with_usage(pid: i32) -> Result<(i32, ProcessUsage), Errno> {
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, libc::__WALL, &mut ru) };
        if r >= 0 {
            return Ok((status, from_rusage(&ru)));
        }
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_timevals_and_kib() {
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        ru.ru_utime = libc::timeval { tv_sec: 1, tv_usec: 250_000 };
        ru.ru_stime = libc::timeval { tv_sec: 0, tv_usec: 5 };
        ru.ru_maxrss = 51_200;
        assert_eq!(from_rusage(&ru), ProcessUsage { user_us: 1_250_000, sys_us: 5, max_rss_bytes: 50 << 20 });
    }

    #[test]
    fn parses_vm_hwm() {
        assert_eq!(parse_vm_hwm(b"Name:\tsh\nVmPeak:\t  9000 kB\nVmHWM:\t    7680 kB\nVmRSS:\t 100 kB\n"), Some(7680 * 1024));
        assert_eq!(parse_vm_hwm(b"Name:\tkthreadd\n"), None);
        assert!(vm_hwm_bytes(unsafe { libc::getpid() }).unwrap() > 0);
    }

    #[test]
    fn waits_for_a_child_and_counts_its_cpu() {
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // Burn 50 ms of CPU by the child's own CPU clock (not wall
            // time: the machine may be busy), then exit 3.
            let cpu_ms = || {
                let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
                unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
                ts.tv_sec as i64 * 1000 + ts.tv_nsec as i64 / 1_000_000
            };
            let mut x: u64 = 0;
            while cpu_ms() < 50 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            unsafe { libc::_exit(if x == 42 { 4 } else { 3 }) };
        }
        let (status, usage) = wait_with_usage(pid).unwrap();
        assert!(libc::WIFEXITED(status));
        assert_eq!(libc::WEXITSTATUS(status), 3);
        assert!(usage.user_us + usage.sys_us >= 40_000, "{:?}", usage);
        assert!(usage.max_rss_bytes > 0);
    }
}
