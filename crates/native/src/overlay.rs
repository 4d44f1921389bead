//! Mounting an overlay of many layers, as deep as the kernel stacks them
//! (overlayfs' OVL_MAX_STACK, 500 lower layers), without copying anything.
//!
//! mount(2) takes its options in one page, and an absolute layer path is
//! ~90 bytes, so `lowerdir=a:b:…` runs out at ~40 layers: the kernel
//! truncates the page and overlayfs then fails to find a cut-off path
//! (ENOENT). Two ways round it, tried in this order:
//!
//! 1. The mount API (Linux ≥ 6.8): fsopen("overlay"), one
//!    fsconfig("lowerdir+", path) per layer, fsmount, move_mount. No length
//!    limit but the kernel's own.
//! 2. Where fsopen is missing (ENOSYS) or the mount API says EINVAL
//!    anywhere (6.5–6.7 refuse `lowerdir+`; before 6.5 overlayfs has no
//!    fs_context parser, so the VFS's legacy one accepts every key into one
//!    page and the create, or the page, then fails with EINVAL), mount(2)
//!    with short relative names: every layer is opened
//!    O_PATH in the child, the child changes directory to /proc/self/fd, and
//!    each layer is named by its fd number, so 500 layers take ~2.5 KB.
//!    docker's overlay2 does the same with an `l/` dir of short symlinks;
//!    fds need no directory to create, share or clean up. The fds are
//!    opened in the child because overlayfs refuses a layer whose mount
//!    belongs to another mount namespace (the parent's).
//!
//! The choice is made in the child at mount time (detection, so a 6.1 guest
//! takes path 2 by itself); `TSBUILD_OVERLAY_API=legacy` forces path 2 for tests.
//! Everything the child needs is allocated here, in the parent: the legacy
//! path only writes into a buffer reserved for it.

use crate::syscall::{Errno, SysResult, Syscall};
use std::cell::RefCell;
use std::ffi::{CStr, CString};

/// overlayfs' OVL_MAX_STACK: the most lower layers one overlay may have.
pub const MAX_LOWER_LAYERS: usize = 500;
/// mount(2) copies one page of options, the last byte forced to NUL.
const LEGACY_DATA_MAX: usize = 4095;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OverlayApi {
    /// The mount API, falling back to mount(2) when the kernel refuses it.
    #[default]
    Auto,
    /// mount(2) with fd-relative names only.
    Legacy,
}

impl OverlayApi {
    /// `TSBUILD_OVERLAY_API=legacy` selects the mount(2) path (for tests of the fallback).
    pub fn from_env() -> OverlayApi {
        match std::env::var("TSBUILD_OVERLAY_API").as_deref() {
            Ok("legacy") => OverlayApi::Legacy,
            _ => OverlayApi::Auto,
        }
    }
}

/// The legacy path's working memory, reserved in the parent.
#[derive(Debug)]
struct Scratch {
    data: Vec<u8>,
    fds: Vec<i32>,
}

/// One overlay mount, every string pre-built.
#[derive(Debug)]
pub struct OverlayStep {
    pub target: CString,
    /// Top first, as overlayfs stacks them.
    lowers: Vec<CString>,
    upper: Option<(CString, CString)>,
    /// Extra options, e.g. (`metacopy`, `off`).
    options: Vec<(CString, CString)>,
    /// MS_* flags (only MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC are meaningful).
    flags: u64,
    api: OverlayApi,
    scratch: RefCell<Scratch>,
}

fn cs(s: &str) -> CString {
    CString::new(s).expect("path with NUL byte")
}

impl OverlayStep {
    pub fn new(target: CString, lowers: &[String], upper: Option<(&str, &str)>, options: &[(&str, &str)], flags: u64, api: OverlayApi) -> OverlayStep {
        OverlayStep {
            target,
            lowers: lowers.iter().map(|l| cs(l)).collect(),
            upper: upper.map(|(u, w)| (cs(u), cs(w))),
            options: options.iter().map(|(k, v)| (cs(k), cs(v))).collect(),
            flags,
            api,
            scratch: RefCell::new(Scratch { data: Vec::with_capacity(LEGACY_DATA_MAX + 1), fds: Vec::with_capacity(lowers.len() + 2) }),
        }
    }
}

enum Attempt {
    Done,
    /// This kernel does not take overlays through the mount API.
    Unsupported,
    Failed(Errno),
}

/// Mounts the overlay at its target (see the module comment for the two paths).
pub fn mount(sys: &dyn Syscall, ov: &OverlayStep) -> SysResult {
    if ov.api == OverlayApi::Auto {
        match mount_api(sys, ov) {
            Attempt::Done => return Ok(()),
            Attempt::Failed(e) => return Err(e),
            Attempt::Unsupported => {}
        }
    }
    mount_legacy(sys, ov)
}

/// MOUNT_ATTR_* for fsmount from the MS_* flags a mount(2) would take.
fn mount_attrs(flags: u64) -> u64 {
    const PAIRS: [(u64, u64); 4] = [(libc::MS_RDONLY as u64, 0x1), (libc::MS_NOSUID as u64, 0x2), (libc::MS_NODEV as u64, 0x4), (libc::MS_NOEXEC as u64, 0x8)];
    PAIRS.iter().filter(|(ms, _)| flags & ms != 0).fold(0, |a, (_, attr)| a | attr)
}

fn mount_api(sys: &dyn Syscall, ov: &OverlayStep) -> Attempt {
    let fd = match sys.fsopen(c"overlay") {
        Ok(fd) => fd,
        Err(e) if e.0 == libc::ENOSYS || e.0 == libc::EPERM => return Attempt::Unsupported,
        Err(e) => return Attempt::Failed(e),
    };
    let r = configure(sys, fd, ov);
    sys.close(fd);
    r
}

/// The source mount(2) would be given: /proc/mounts shows it, and tools look for `overlay` there.
const SOURCE: &CStr = c"overlay";

fn configure(sys: &dyn Syscall, fd: i32, ov: &OverlayStep) -> Attempt {
    for lower in &ov.lowers {
        match sys.fsconfig_string(fd, c"lowerdir+", lower) {
            Ok(()) => {}
            Err(e) if e.0 == libc::EINVAL => return Attempt::Unsupported,
            Err(e) => return Attempt::Failed(e),
        }
    }
    let done = || -> SysResult {
        sys.fsconfig_string(fd, c"source", SOURCE)?;
        if let Some((upper, work)) = &ov.upper {
            sys.fsconfig_string(fd, c"upperdir", upper)?;
            sys.fsconfig_string(fd, c"workdir", work)?;
        }
        for (k, v) in &ov.options {
            // An empty value is a flag option (`userxattr`), which the string form refuses.
            if v.is_empty() {
                sys.fsconfig_flag(fd, k)?;
            } else {
                sys.fsconfig_string(fd, k, v)?;
            }
        }
        sys.fsconfig_create(fd)?;
        let mnt = sys.fsmount(fd, mount_attrs(ov.flags))?;
        let r = sys.move_mount(mnt, &ov.target);
        sys.close(mnt);
        r
    };
    match done() {
        Ok(()) => Attempt::Done,
        // A real EINVAL (a bad option) fails mount(2) again and is reported from there.
        Err(e) if e.0 == libc::EINVAL => Attempt::Unsupported,
        Err(e) => Attempt::Failed(e),
    }
}

fn push(data: &mut Vec<u8>, bytes: &[u8]) -> SysResult {
    // Never grow the buffer (the child may not allocate), and never hand
    // mount(2) more than its page: it would silently cut the options.
    if data.len() + bytes.len() > LEGACY_DATA_MAX {
        return Err(Errno(libc::E2BIG));
    }
    data.extend_from_slice(bytes);
    Ok(())
}

fn push_fd(data: &mut Vec<u8>, fd: i32) -> SysResult {
    let mut digits = [0u8; 10];
    let mut n = fd.max(0) as u32;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    push(data, &digits[i..])
}

fn open_into(sys: &dyn Syscall, fds: &mut Vec<i32>, path: &CStr) -> SysResult<i32> {
    let fd = sys.open_dir_path(path)?;
    fds.push(fd); // within the capacity reserved in new()
    Ok(fd)
}

fn legacy_data(sys: &dyn Syscall, ov: &OverlayStep, data: &mut Vec<u8>, fds: &mut Vec<i32>) -> SysResult {
    push(data, b"lowerdir=")?;
    for (i, lower) in ov.lowers.iter().enumerate() {
        if i > 0 {
            push(data, b":")?;
        }
        let fd = open_into(sys, fds, lower)?;
        push_fd(data, fd)?;
    }
    if let Some((upper, work)) = &ov.upper {
        push(data, b",upperdir=")?;
        let fd = open_into(sys, fds, upper)?;
        push_fd(data, fd)?;
        push(data, b",workdir=")?;
        let fd = open_into(sys, fds, work)?;
        push_fd(data, fd)?;
    }
    for (k, v) in &ov.options {
        push(data, b",")?;
        push(data, k.as_bytes())?;
        if !v.is_empty() {
            push(data, b"=")?;
            push(data, v.as_bytes())?;
        }
    }
    data.push(0);
    Ok(())
}

fn mount_legacy(sys: &dyn Syscall, ov: &OverlayStep) -> SysResult {
    let mut scratch = ov.scratch.borrow_mut();
    let Scratch { data, fds } = &mut *scratch;
    data.clear();
    fds.clear();
    let r = legacy_data(sys, ov, data, fds).and_then(|()| {
        let options = CStr::from_bytes_with_nul(data).map_err(|_| Errno(libc::EINVAL))?;
        sys.chdir(c"/proc/self/fd")?;
        let r = sys.mount(Some(SOURCE), &ov.target, Some(c"overlay"), ov.flags, Some(options));
        let back = sys.chdir(c"/");
        r.and(back)
    });
    for fd in fds.iter() {
        sys.close(*fd);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::fake::Recorder;

    fn step(api: OverlayApi) -> OverlayStep {
        let lowers: Vec<String> = vec!["/c/init".into(), "/l/2".into(), "/l/1".into()];
        OverlayStep::new(cs("/c/merged"), &lowers, Some(("/c/upper", "/c/work")), &[("metacopy", "off"), ("index", "off")], 0, api)
    }

    #[test]
    fn the_mount_api_takes_one_lowerdir_per_layer() {
        let rec = Recorder::new();
        mount(&rec, &step(OverlayApi::Auto)).unwrap();
        assert_eq!(rec.calls(), vec![
            "fsopen overlay",
            "fsconfig 100 lowerdir+ /c/init",
            "fsconfig 100 lowerdir+ /l/2",
            "fsconfig 100 lowerdir+ /l/1",
            "fsconfig 100 source overlay",
            "fsconfig 100 upperdir /c/upper",
            "fsconfig 100 workdir /c/work",
            "fsconfig 100 metacopy off",
            "fsconfig 100 index off",
            "fsconfig 100 create",
            "fsmount 100 0x0",
            "move_mount 101 /c/merged",
            "close 101",
            "close 100",
        ]);
    }

    #[test]
    fn legacy_names_each_layer_by_its_fd_under_proc_self_fd() {
        let rec = Recorder::new();
        mount(&rec, &step(OverlayApi::Legacy)).unwrap();
        assert_eq!(rec.calls(), vec![
            "open_path /c/init",
            "open_path /l/2",
            "open_path /l/1",
            "open_path /c/upper",
            "open_path /c/work",
            "chdir /proc/self/fd",
            "mount overlay /c/merged overlay 0x0 lowerdir=100:101:102,upperdir=103,workdir=104,metacopy=off,index=off",
            "chdir /",
            "close 100", "close 101", "close 102", "close 103", "close 104",
        ]);
    }

    #[test]
    fn refused_lowerdir_plus_falls_back_to_legacy() {
        // Linux 5.2–6.7: fsopen works, overlayfs does not know lowerdir+.
        let rec = Recorder::new();
        rec.fail_on("fsconfig 100 lowerdir+", libc::EINVAL);
        mount(&rec, &step(OverlayApi::Auto)).unwrap();
        let calls = rec.calls();
        assert_eq!(calls[..3], ["fsopen overlay", "fsconfig 100 lowerdir+ /c/init", "close 100"]);
        assert!(calls.contains(&"mount overlay /c/merged overlay 0x0 lowerdir=101:102:103,upperdir=104,workdir=105,metacopy=off,index=off".to_string()));
        // Before 5.2 there is no fsopen at all.
        let old = Recorder::new();
        old.fail_on("fsopen", libc::ENOSYS);
        mount(&old, &step(OverlayApi::Auto)).unwrap();
        assert_eq!(old.calls()[1], "open_path /c/init");
    }

    #[test]
    fn a_legacy_fs_context_failing_at_create_falls_back_to_legacy() {
        // Linux < 6.5: overlayfs has no fs_context parser; the VFS's legacy one
        // takes `lowerdir+` into its page and overlayfs refuses it at create.
        let rec = Recorder::new();
        rec.fail_on("fsconfig 100 create", libc::EINVAL);
        mount(&rec, &step(OverlayApi::Auto)).unwrap();
        let calls = rec.calls();
        assert!(calls.contains(&"close 100".to_string()));
        assert!(calls.iter().any(|c| c.starts_with("mount overlay /c/merged overlay 0x0 lowerdir=")));
    }

    #[test]
    fn a_later_failure_is_reported_not_retried() {
        let rec = Recorder::new();
        rec.fail_on("fsconfig 100 lowerdir+ /l/2", libc::ENOENT);
        assert_eq!(mount(&rec, &step(OverlayApi::Auto)), Err(Errno(libc::ENOENT)));
        assert!(!rec.calls().iter().any(|c| c.starts_with("mount ")));
        assert_eq!(rec.calls().last().unwrap(), "close 100");
    }

    #[test]
    fn legacy_reaches_the_kernel_limit_within_one_page() {
        let lowers: Vec<String> = (0..MAX_LOWER_LAYERS).map(|i| format!("/var/lib/tsbuild/layers/{:064x}/diff", i)).collect();
        let ov = OverlayStep::new(cs("/m"), &lowers, Some(("/u", "/w")), &[("redirect_dir", "off"), ("metacopy", "off"), ("index", "off")], 0, OverlayApi::Legacy);
        let rec = Recorder::new();
        mount(&rec, &ov).unwrap();
        let m = rec.calls().into_iter().find(|c| c.starts_with("mount overlay")).unwrap();
        assert!(m.len() < LEGACY_DATA_MAX);
        assert!(m.contains(":599,upperdir=600,workdir=601,"));
        // Every fd is closed again, even the ones of a failed mount.
        let failing = Recorder::new();
        failing.fail_on("mount overlay", libc::EINVAL);
        assert_eq!(mount(&failing, &ov), Err(Errno(libc::EINVAL)));
        assert_eq!(failing.calls().iter().filter(|c| c.starts_with("close ")).count(), MAX_LOWER_LAYERS + 2);
        assert!(failing.calls().contains(&"chdir /".to_string()));
    }

    #[test]
    fn options_beyond_one_page_are_refused_not_cut() {
        let lowers: Vec<String> = vec!["/l".into()];
        let long = "x".repeat(LEGACY_DATA_MAX);
        let ov = OverlayStep::new(cs("/m"), &lowers, None, &[("k", long.as_str())], 0, OverlayApi::Legacy);
        let rec = Recorder::new();
        assert_eq!(mount(&rec, &ov), Err(Errno(libc::E2BIG)));
        assert!(!rec.calls().iter().any(|c| c.starts_with("mount ")));
    }

    #[test]
    fn mount_flags_become_mount_attributes() {
        assert_eq!(mount_attrs(libc::MS_NOSUID as u64 | libc::MS_NODEV as u64), 0x6);
        assert_eq!(mount_attrs(libc::MS_RDONLY as u64), 0x1);
    }
}
