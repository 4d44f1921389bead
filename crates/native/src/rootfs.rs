//! The container's root filesystem, as an ordered list of steps built in the
//! parent (where allocation is allowed) and applied in the cloned child
//! through the `Syscall` seam (where it is not).
//!
//! Order: make every mount private (so nothing propagates back to the host),
//! mount the overlay, then /proc, /sys, a minimal /dev and any binds under
//! the new root, switch root with pivot_root (chroot only if the kernel
//! refuses, e.g. on an initramfs root), then mask and read-only the
//! sensitive /proc and /sys paths from inside.

use crate::overlay::{self, OverlayApi, OverlayStep};
use crate::syscall::{Errno, SysResult, Syscall};
use std::ffi::CString;

pub const MS_RDONLY: u64 = libc::MS_RDONLY as u64;
pub const MS_NOSUID: u64 = libc::MS_NOSUID as u64;
pub const MS_NODEV: u64 = libc::MS_NODEV as u64;
pub const MS_NOEXEC: u64 = libc::MS_NOEXEC as u64;
pub const MS_REMOUNT: u64 = libc::MS_REMOUNT as u64;
pub const MS_BIND: u64 = libc::MS_BIND as u64;
pub const MS_REC: u64 = libc::MS_REC as u64;
pub const MS_PRIVATE: u64 = libc::MS_PRIVATE as u64;
pub const MS_STRICTATIME: u64 = libc::MS_STRICTATIME as u64;

/// Paths hidden from the container as docker hides them: files get /dev/null
/// bound over them, directories an empty read-only tmpfs.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
];
/// Paths the container may read but never write.
pub const READONLY_PATHS: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// Character devices made in the container's /dev: (name, major, minor).
const DEVICES: &[(&str, u32, u32)] = &[("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

#[derive(Clone, Debug)]
pub struct BindMount {
    pub source: String,
    /// Absolute path inside the container.
    pub target: String,
    pub readonly: bool,
    /// True for a file source (the target is created as a file, not a dir).
    pub is_file: bool,
    /// A tmpfs that starts with what the rootfs has at the target (buildah's
    /// tmpcopyup): an overlay whose lower is the target itself and whose
    /// upper lives on the tmpfs, so writes stay in memory and the content
    /// is never copied.
    pub copy_up: Option<CopyUpRoot>,
    /// A filesystem to mount instead of a bind (tmpfs, or a read-only overlay of layers).
    pub fstype: Option<String>,
    /// Mount options for `fstype`, e.g. `size=64m`.
    pub data: Option<String>,
    /// Mount an overlay of these layers instead of a bind (`source` and `fstype` are then ignored).
    pub overlay: Option<OverlayLayers>,
}

/// An overlay's layers: lower dirs top first, and optionally a rw layer.
#[derive(Clone, Debug, Default)]
pub struct OverlayLayers {
    pub lower_dirs: Vec<String>,
    pub upper_dir: Option<String>,
    pub work_dir: Option<String>,
}

/// Owner and mode of a copy-up mount's root. Overlayfs shows a merged
/// directory with its upper's attributes, so the caller decides them (the
/// target's mode, as buildah gives it) and the upper's root gets them.
#[derive(Clone, Copy, Debug)]
pub struct CopyUpRoot {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Everything the parent decided about the rootfs, in plain Rust types.
#[derive(Clone, Debug, Default)]
pub struct RootfsSpec {
    /// The mountpoint that becomes `/`.
    pub rootfs: String,
    /// Overlay lower dirs, top first (overlayfs order).
    pub lower_dirs: Vec<String>,
    pub upper_dir: Option<String>,
    pub work_dir: Option<String>,
    pub binds: Vec<BindMount>,
    /// A pty slave path to bind at /dev/console.
    pub console: Option<String>,
    /// True inside a user namespace, where mknod is not allowed: devices are bind-mounted from the host.
    pub bind_devices: bool,
    /// Bind the host's /sys instead of mounting sysfs: a user namespace that
    /// shares the host's network namespace may not mount a new sysfs.
    pub bind_sys: bool,
    /// The host runs cgroup v2: mount the container's cgroup namespace
    /// (its root is the container's own cgroup) read-only at
    /// /sys/fs/cgroup, as runc does, so that runtimes inside (Go, the JVM,
    /// node) see their cpu.max and memory.max.
    pub cgroup2: bool,
    pub mask_paths: bool,
    /// How overlays are mounted (the mount API with a fallback, or mount(2) only).
    pub overlay_api: OverlayApi,
    /// tsbuild itself runs in a user namespace (rootless): overlays keep
    /// their xattrs (opaque dirs) in `user.overlay.*`, where the layers were
    /// unpacked with them, since `trusted.*` needs CAP_SYS_ADMIN on the host.
    pub userxattr: bool,
    /// Mount the root overlay `volatile`: its upper dir is read once after
    /// the process ends (a build step's layer) and its durability is the
    /// store's business (one syncfs per build), so neither the unmount's
    /// sync of the whole upper file system nor the process's own fsyncs
    /// (dpkg's, per file) need reach the disk. Never for containers that
    /// are started again: a volatile work dir refuses a second mount.
    pub volatile_upper: bool,
}

/// One step, with every string pre-built, so applying it allocates nothing.
#[derive(Debug)]
pub enum Step {
    Mount { source: Option<CString>, target: CString, fstype: Option<CString>, flags: u64, data: Option<CString> },
    Mkdir { path: CString, mode: u32 },
    Mknod { path: CString, mode: u32, dev: u64 },
    Touch { path: CString },
    Symlink { target: CString, link: CString },
    Umount { target: CString, flags: i32 },
    /// chown then chmod (chown clears set-id bits, so the mode goes last).
    SetOwner { path: CString, uid: u32, gid: u32, mode: u32 },
    /// pivot_root into `root`, falling back to MS_MOVE + chroot.
    SwitchRoot { root: CString },
    /// An overlay of any depth (see `overlay`).
    Overlay(OverlayStep),
}

/// A step and whether a missing path (ENOENT) is fine, e.g. /proc/acpi on a host without ACPI.
#[derive(Debug)]
pub struct PlannedStep {
    pub step: Step,
    pub optional: bool,
}

fn cs(s: &str) -> CString {
    CString::new(s).expect("path with NUL byte")
}

fn under(root: &str, path: &str) -> CString {
    cs(&format!("{}/{}", root.trim_end_matches('/'), path.trim_start_matches('/')))
}

struct Plan(Vec<PlannedStep>);

impl Plan {
    fn push(&mut self, step: Step) {
        self.0.push(PlannedStep { step, optional: false });
    }
    fn push_optional(&mut self, step: Step) {
        self.0.push(PlannedStep { step, optional: true });
    }
    fn mount(&mut self, source: Option<&str>, target: CString, fstype: Option<&str>, flags: u64, data: Option<&str>) {
        self.push(Step::Mount { source: source.map(cs), target, fstype: fstype.map(cs), flags, data: data.map(cs) });
    }
    fn mkdir(&mut self, path: CString, mode: u32) {
        // Existing directories are fine; mkdir reports EEXIST which apply() ignores.
        self.push(Step::Mkdir { path, mode });
    }
}

/// The overlay option rootless mode adds (a flag: empty value).
fn userxattr(spec: &RootfsSpec) -> &'static [(&'static str, &'static str)] {
    if spec.userxattr { &[("userxattr", "")] } else { &[] }
}

/// Builds the ordered steps for `spec`.
pub fn plan(spec: &RootfsSpec) -> Vec<PlannedStep> {
    let root = spec.rootfs.as_str();
    let mut p = Plan(Vec::new());
    p.mount(None, cs("/"), None, MS_REC | MS_PRIVATE, None);
    if !spec.lower_dirs.is_empty() {
        // No redirects or metacopy: the upper dir must hold every change as
        // plain files, because it becomes an image layer as it is.
        let upper = spec.upper_dir.as_deref().zip(spec.work_dir.as_deref());
        // A user namespace may not set redirect_dir (EPERM); builds never use one.
        let mut options: Vec<(&str, &str)> = match (upper, spec.bind_devices) {
            (None, _) => vec![],
            (Some(_), true) => vec![("metacopy", "off"), ("index", "off")],
            (Some(_), false) => vec![("redirect_dir", "off"), ("metacopy", "off"), ("index", "off")],
        };
        options.extend(userxattr(spec));
        if upper.is_some() && spec.volatile_upper {
            options.push(("volatile", ""));
        }
        p.push(Step::Overlay(OverlayStep::new(cs(root), &spec.lower_dirs, upper, &options, 0, spec.overlay_api)));
    } else {
        // A plain directory root still needs to be a mount point for pivot_root.
        p.mount(Some(root), cs(root), None, MS_BIND | MS_REC, None);
    }
    p.mkdir(under(root, "proc"), 0o555);
    p.mount(Some("proc"), under(root, "proc"), Some("proc"), MS_NOSUID | MS_NODEV | MS_NOEXEC, None);
    p.mkdir(under(root, "sys"), 0o555);
    if spec.bind_sys {
        p.mount(Some("/sys"), under(root, "sys"), None, MS_BIND | MS_REC, None);
        p.mount(None, under(root, "sys"), None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, None);
    } else {
        p.mount(Some("sysfs"), under(root, "sys"), Some("sysfs"), MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, None);
        if spec.cgroup2 {
            p.mount(Some("cgroup2"), under(root, "sys/fs/cgroup"), Some("cgroup2"), MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, None);
        }
    }
    plan_dev(&mut p, spec);
    for (i, b) in spec.binds.iter().enumerate() {
        // Parents first (mkdir -p): a mount target need not exist in the image.
        let mut parent = String::new();
        let parts: Vec<&str> = b.target.split('/').filter(|s| !s.is_empty()).collect();
        for part in parts.iter().take(parts.len().saturating_sub(1)) {
            parent.push('/');
            parent.push_str(part);
            p.mkdir(under(root, &parent), 0o755);
        }
        if let (Some(top), Some(fstype)) = (b.copy_up, &b.fstype) {
            plan_copy_up(&mut p, root, i, &b.target, fstype, b.data.as_deref(), top, spec.userxattr);
            continue;
        }
        let target = under(root, &b.target);
        if b.is_file { p.push(Step::Touch { path: target.clone() }) } else { p.mkdir(target.clone(), 0o755) }
        match (&b.overlay, &b.fstype) {
            (Some(o), _) => {
                let upper = o.upper_dir.as_deref().zip(o.work_dir.as_deref());
                p.push(Step::Overlay(OverlayStep::new(target.clone(), &o.lower_dirs, upper, userxattr(spec), MS_NOSUID | MS_NODEV, spec.overlay_api)));
            }
            (None, Some(fstype)) => p.mount(Some(&b.source), target.clone(), Some(fstype), MS_NOSUID | MS_NODEV, b.data.as_deref()),
            (None, None) => p.mount(Some(&b.source), target.clone(), None, MS_BIND | MS_REC, None),
        }
        if b.readonly {
            p.mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None);
        }
    }
    p.push(Step::SwitchRoot { root: cs(root) });
    if spec.mask_paths {
        for path in MASKED_PATHS {
            // Directories get an empty tmpfs; files /dev/null. Try the file
            // form first and fall back: which one applies depends on the host.
            p.push_optional(Step::Mount { source: Some(cs("/dev/null")), target: cs(path), fstype: None, flags: MS_BIND, data: None });
        }
        for path in READONLY_PATHS {
            p.push_optional(Step::Mount { source: Some(cs(path)), target: cs(path), fstype: None, flags: MS_BIND | MS_REC, data: None });
            p.push_optional(Step::Mount { source: None, target: cs(path), fstype: None, flags: MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, data: None });
        }
    }
    p.0
}

/// tmpcopyup: the tmpfs is mounted aside, in the container's own /dev (a
/// tmpfs too, so nothing reaches the layer), and holds the upper of an
/// overlay on `target` whose lower is `target` as the rootfs shows it (the
/// lowerdir path is looked up before the new mount covers it). The aside
/// mount is then detached: the overlay keeps its own reference to it.
#[allow(clippy::too_many_arguments)]
fn plan_copy_up(p: &mut Plan, root: &str, i: usize, target: &str, fstype: &str, data: Option<&str>, top: CopyUpRoot, userxattr: bool) {
    let target = under(root, target);
    p.mkdir(target.clone(), 0o755);
    let aside = format!("{}/dev/.tsbuild-tmpcopyup-{}", root.trim_end_matches('/'), i);
    p.mkdir(cs(&aside), 0o700);
    p.mount(Some(fstype), cs(&aside), Some(fstype), MS_NOSUID | MS_NODEV, data);
    p.mkdir(cs(&format!("{}/u", aside)), 0o755);
    p.push(Step::SetOwner { path: cs(&format!("{}/u", aside)), uid: top.uid, gid: top.gid, mode: top.mode });
    p.mkdir(cs(&format!("{}/w", aside)), 0o700);
    let lower = target.to_str().expect("utf-8 path");
    let opts = format!("lowerdir={},upperdir={}/u,workdir={}/w{}", lower, aside, aside, if userxattr { ",userxattr" } else { "" });
    p.mount(Some("overlay"), target.clone(), Some("overlay"), MS_NOSUID | MS_NODEV, Some(&opts));
    p.push(Step::Umount { target: cs(&aside), flags: libc::MNT_DETACH });
}

fn plan_dev(p: &mut Plan, spec: &RootfsSpec) {
    let root = spec.rootfs.as_str();
    p.mkdir(under(root, "dev"), 0o755);
    p.mount(Some("tmpfs"), under(root, "dev"), Some("tmpfs"), MS_NOSUID | MS_STRICTATIME, Some("mode=755,size=65536k"));
    for (name, major, minor) in DEVICES {
        let path = under(root, &format!("dev/{}", name));
        if spec.bind_devices {
            p.push(Step::Touch { path: path.clone() });
            p.mount(Some(&format!("/dev/{}", name)), path, None, MS_BIND, None);
        } else {
            p.push(Step::Mknod { path, mode: libc::S_IFCHR | 0o666, dev: libc::makedev(*major, *minor) });
        }
    }
    p.mkdir(under(root, "dev/pts"), 0o755);
    p.mount(Some("devpts"), under(root, "dev/pts"), Some("devpts"), MS_NOSUID | MS_NOEXEC, Some("newinstance,ptmxmode=0666,mode=0620,gid=5"));
    p.push(Step::Symlink { target: cs("pts/ptmx"), link: under(root, "dev/ptmx") });
    p.mkdir(under(root, "dev/shm"), 0o1777);
    p.mount(Some("shm"), under(root, "dev/shm"), Some("tmpfs"), MS_NOSUID | MS_NODEV | MS_NOEXEC, Some("mode=1777,size=65536k"));
    p.mkdir(under(root, "dev/mqueue"), 0o755);
    p.push_optional(Step::Mount { source: Some(cs("mqueue")), target: under(root, "dev/mqueue"), fstype: Some(cs("mqueue")), flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: None });
    for (link, target) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")] {
        p.push(Step::Symlink { target: cs(target), link: under(root, &format!("dev/{}", link)) });
    }
    if let Some(console) = &spec.console {
        p.push(Step::Touch { path: under(root, "dev/console") });
        p.mount(Some(console), under(root, "dev/console"), None, MS_BIND, None);
    }
}

/// Applies the steps in order. On failure returns the index of the step and the errno.
pub fn apply(sys: &dyn Syscall, steps: &[PlannedStep]) -> Result<(), (usize, Errno)> {
    for (i, s) in steps.iter().enumerate() {
        let r = apply_step(sys, &s.step);
        match r {
            Ok(()) => {}
            Err(e) if s.optional && (is_masked_dir(sys, &s.step, e) || e.0 == libc::ENOENT || e.0 == libc::ENOTDIR) => {}
            Err(e) => return Err((i, e)),
        }
    }
    Ok(())
}

/// A masked path that is a directory cannot take /dev/null: cover it with an empty read-only tmpfs instead.
fn is_masked_dir(sys: &dyn Syscall, step: &Step, e: Errno) -> bool {
    if e.0 != libc::ENOTDIR && e.0 != libc::EISDIR {
        return false;
    }
    if let Step::Mount { target, source: Some(src), .. } = step {
        if src.as_bytes() == b"/dev/null" {
            return sys.mount(Some(c"tmpfs"), target, Some(c"tmpfs"), MS_RDONLY, Some(c"size=0")).is_ok();
        }
    }
    false
}

fn apply_step(sys: &dyn Syscall, step: &Step) -> SysResult {
    match step {
        Step::Mount { source, target, fstype, flags, data } => sys.mount(source.as_deref(), target, fstype.as_deref(), *flags, data.as_deref()),
        Step::Mkdir { path, mode } => match sys.mkdir(path, *mode) {
            Err(e) if e.0 == libc::EEXIST => Ok(()),
            r => r,
        },
        Step::Mknod { path, mode, dev } => sys.mknod(path, *mode, *dev),
        Step::Touch { path } => sys.touch(path, 0o644),
        Step::Symlink { target, link } => match sys.symlink(target, link) {
            Err(e) if e.0 == libc::EEXIST => Ok(()),
            r => r,
        },
        Step::Umount { target, flags } => sys.umount2(target, *flags),
        Step::SetOwner { path, uid, gid, mode } => sys.chown(path, *uid, *gid).and_then(|()| sys.chmod(path, *mode)),
        Step::SwitchRoot { root } => switch_root(sys, root),
        Step::Overlay(ov) => overlay::mount(sys, ov),
    }
}

/// pivot_root(".", ".") stacks the old root under the new one, and a lazy
/// unmount then detaches it: no put_old directory is needed inside the image.
fn switch_root(sys: &dyn Syscall, root: &std::ffi::CStr) -> SysResult {
    sys.chdir(root)?;
    match sys.pivot_root(c".", c".") {
        Ok(()) => {
            sys.umount2(c".", libc::MNT_DETACH)?;
            sys.chdir(c"/")
        }
        // EINVAL: the current root is not a mount point (initramfs). Move the
        // new root over / and chroot, as runc does in that case.
        Err(e) if e.0 == libc::EINVAL => {
            sys.mount(Some(root), c"/", None, libc::MS_MOVE as u64, None)?;
            sys.chroot(c".")?;
            sys.chdir(c"/")
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::fake::Recorder;

    fn spec() -> RootfsSpec {
        RootfsSpec {
            rootfs: "/c/merged".into(),
            lower_dirs: vec!["/c/init".into(), "/l/2".into(), "/l/1".into()],
            upper_dir: Some("/c/upper".into()),
            work_dir: Some("/c/work".into()),
            binds: vec![
                BindMount { source: "/host/data".into(), target: "/data".into(), readonly: true, is_file: false, fstype: None, data: None, overlay: None, copy_up: None },
                BindMount { source: "tmpfs".into(), target: "/scratch".into(), readonly: false, is_file: false, fstype: Some("tmpfs".into()), data: Some("size=1m".into()), overlay: None, copy_up: None },
            ],
            console: None,
            bind_devices: false,
            bind_sys: false,
            cgroup2: false,
            mask_paths: true,
            overlay_api: OverlayApi::Legacy,
            userxattr: false,
            volatile_upper: false,
        }
    }

    #[test]
    fn mounts_private_then_overlay_then_switches_root() {
        let rec = Recorder::new();
        apply(&rec, &plan(&spec())).unwrap();
        let calls = rec.calls();
        assert_eq!(calls[0], "mount - / - 0x44000 -");
        assert_eq!(calls[1..6], ["open_path /c/init", "open_path /l/2", "open_path /l/1", "open_path /c/upper", "open_path /c/work"]);
        assert_eq!(calls[7], "mount overlay /c/merged overlay 0x0 lowerdir=100:101:102,upperdir=103,workdir=104,redirect_dir=off,metacopy=off,index=off");
        let pivot = calls.iter().position(|c| c == "pivot_root . .").unwrap();
        assert_eq!(calls[pivot - 1], "chdir /c/merged");
        assert_eq!(calls[pivot + 1], "umount2 . 2");
        assert_eq!(calls[pivot + 2], "chdir /");
        // Everything under the new root is mounted before the switch, masks after.
        let proc_mount = calls.iter().position(|c| c.starts_with("mount proc /c/merged/proc proc")).unwrap();
        let kcore = calls.iter().position(|c| c == "mount /dev/null /proc/kcore - 0x1000 -").unwrap();
        assert!(proc_mount < pivot && pivot < kcore);
        assert!(calls.contains(&"mknod /c/merged/dev/null 20666 1:3".to_string()));
        assert!(calls.contains(&"mount /host/data /c/merged/data - 0x5000 -".to_string()));
        assert!(calls.contains(&"mount - /c/merged/data - 0x1021 -".to_string()));
        assert!(calls.contains(&"mount tmpfs /c/merged/scratch tmpfs 0x6 size=1m".to_string()));
        // Missing parents of a mount target are created first.
        let spec2 = RootfsSpec { binds: vec![BindMount { source: "/s".into(), target: "/var/cache/demo".into(), readonly: false, is_file: false, fstype: None, data: None, overlay: None, copy_up: None }], ..spec() };
        let rec2 = Recorder::new();
        apply(&rec2, &plan(&spec2)).unwrap();
        let c2 = rec2.calls();
        let var = c2.iter().position(|c| c == "mkdir /c/merged/var 755").unwrap();
        let cache = c2.iter().position(|c| c == "mkdir /c/merged/var/cache 755").unwrap();
        let demo = c2.iter().position(|c| c == "mkdir /c/merged/var/cache/demo 755").unwrap();
        assert!(var < cache && cache < demo);
        assert!(calls.contains(&"mount - /proc/sys - 0x102f -".to_string()));
    }

    #[test]
    fn a_copy_up_tmpfs_is_an_overlay_on_the_target_with_its_upper_on_a_tmpfs() {
        let tmpfs = BindMount { source: "tmpfs".into(), target: "/etc".into(), readonly: false, is_file: false, fstype: Some("tmpfs".into()), data: Some("mode=1777,size=1m".into()), overlay: None, copy_up: Some(CopyUpRoot { mode: 0o1777, uid: 0, gid: 0 }) };
        let rec = Recorder::new();
        apply(&rec, &plan(&RootfsSpec { binds: vec![tmpfs], ..spec() })).unwrap();
        let calls = rec.calls();
        let at = |c: &str| calls.iter().position(|x| x == c).unwrap_or_else(|| panic!("no call {c}: {calls:#?}"));
        let dev = at("mount tmpfs /c/merged/dev tmpfs 0x1000002 mode=755,size=65536k");
        let aside = at("mount tmpfs /c/merged/dev/.tsbuild-tmpcopyup-0 tmpfs 0x6 mode=1777,size=1m");
        let upper = at("mkdir /c/merged/dev/.tsbuild-tmpcopyup-0/u 755");
        // The merged root shows the upper's attributes: the target's, set after the umask.
        assert_eq!(calls[upper + 1], "chown /c/merged/dev/.tsbuild-tmpcopyup-0/u 0:0");
        assert_eq!(calls[upper + 2], "chmod /c/merged/dev/.tsbuild-tmpcopyup-0/u 1777");
        let work = at("mkdir /c/merged/dev/.tsbuild-tmpcopyup-0/w 700");
        let overlay = at("mount overlay /c/merged/etc overlay 0x6 lowerdir=/c/merged/etc,upperdir=/c/merged/dev/.tsbuild-tmpcopyup-0/u,workdir=/c/merged/dev/.tsbuild-tmpcopyup-0/w");
        let detach = at("umount2 /c/merged/dev/.tsbuild-tmpcopyup-0 2");
        assert!(dev < aside && aside < upper && upper < work && work < overlay && overlay < detach);
        assert!(detach < at("pivot_root . ."));
        // No plain tmpfs on the target itself.
        assert!(!calls.iter().any(|c| c.starts_with("mount tmpfs /c/merged/etc ")));
    }

    #[test]
    fn falls_back_to_chroot_when_pivot_root_is_refused() {
        let rec = Recorder::new();
        rec.fail_on("pivot_root", libc::EINVAL);
        apply(&rec, &plan(&spec())).unwrap();
        let calls = rec.calls();
        let i = calls.iter().position(|c| c == "pivot_root . .").unwrap();
        assert_eq!(calls[i + 1], "mount /c/merged / - 0x2000 -");
        assert_eq!(calls[i + 2], "chroot .");
    }

    #[test]
    fn in_a_user_namespace_devices_are_bind_mounted() {
        let rec = Recorder::new();
        apply(&rec, &plan(&RootfsSpec { bind_devices: true, ..spec() })).unwrap();
        let calls = rec.calls();
        assert!(!calls.iter().any(|c| c.starts_with("mknod")));
        assert!(calls.contains(&"mount /dev/null /c/merged/dev/null - 0x1000 -".to_string()));
    }

    #[test]
    fn a_user_namespace_overlay_leaves_redirect_dir_alone() {
        let rec = Recorder::new();
        apply(&rec, &plan(&RootfsSpec { bind_devices: true, ..spec() })).unwrap();
        assert!(rec.calls()[7].ends_with(",upperdir=103,workdir=104,metacopy=off,index=off"));
    }

    #[test]
    fn rootless_overlays_keep_their_xattrs_in_the_user_namespace() {
        // mount(2): a bare `userxattr`; the mount API: FSCONFIG_SET_FLAG.
        let rec = Recorder::new();
        apply(&rec, &plan(&RootfsSpec { bind_devices: true, userxattr: true, ..spec() })).unwrap();
        assert!(rec.calls()[7].ends_with(",upperdir=103,workdir=104,metacopy=off,index=off,userxattr"));
        let rec = Recorder::new();
        apply(&rec, &plan(&RootfsSpec { bind_devices: true, userxattr: true, overlay_api: OverlayApi::Auto, ..spec() })).unwrap();
        let calls = rec.calls();
        let flag = calls.iter().position(|c| c == "fsconfig 100 flag userxattr").unwrap();
        let create = calls.iter().position(|c| c == "fsconfig 100 create").unwrap();
        assert!(flag < create);
        assert!(!calls.iter().any(|c| c.contains("fsconfig 100 userxattr")));
    }

    #[test]
    fn a_build_step_root_overlay_is_volatile_and_a_container_root_is_not() {
        let rec = Recorder::new();
        apply(&rec, &plan(&RootfsSpec { volatile_upper: true, ..spec() })).unwrap();
        assert!(rec.calls()[7].ends_with(",upperdir=103,workdir=104,redirect_dir=off,metacopy=off,index=off,volatile"));
        let rec = Recorder::new();
        apply(&rec, &plan(&RootfsSpec { volatile_upper: true, overlay_api: OverlayApi::Auto, ..spec() })).unwrap();
        assert!(rec.calls().contains(&"fsconfig 100 flag volatile".to_string()));
        let rec = Recorder::new();
        apply(&rec, &plan(&spec())).unwrap();
        assert!(!rec.calls().iter().any(|c| c.contains("volatile")));
        // No upper dir (a read-only root): nothing to be volatile about.
        let rec = Recorder::new();
        apply(&rec, &plan(&RootfsSpec { volatile_upper: true, upper_dir: None, work_dir: None, ..spec() })).unwrap();
        assert!(!rec.calls().iter().any(|c| c.contains("volatile")));
    }

    #[test]
    fn a_user_namespace_on_the_host_network_binds_sys() {
        let rec = Recorder::new();
        apply(&rec, &plan(&RootfsSpec { bind_sys: true, ..spec() })).unwrap();
        let calls = rec.calls();
        assert!(!calls.iter().any(|c| c.contains(" sysfs ")));
        assert!(calls.contains(&"mount /sys /c/merged/sys - 0x5000 -".to_string()));
    }

    #[test]
    fn a_cgroup2_host_gets_its_cgroup_namespace_mounted_read_only_after_sysfs() {
        let rec = Recorder::new();
        apply(&rec, &plan(&RootfsSpec { cgroup2: true, ..spec() })).unwrap();
        let calls = rec.calls();
        let sysfs = calls.iter().position(|c| c.starts_with("mount sysfs /c/merged/sys sysfs")).unwrap();
        let cgroup = calls.iter().position(|c| c == "mount cgroup2 /c/merged/sys/fs/cgroup cgroup2 0xf -").unwrap();
        assert!(sysfs < cgroup);
        // Not on a v1 host, and not over a bound host /sys (it has the host's tree already).
        assert!(!rec_calls(&spec()).iter().any(|c| c.contains("cgroup2")));
        assert!(!rec_calls(&RootfsSpec { cgroup2: true, bind_sys: true, ..spec() }).iter().any(|c| c.contains("cgroup2")));
    }

    fn rec_calls(s: &RootfsSpec) -> Vec<String> {
        let rec = Recorder::new();
        apply(&rec, &plan(s)).unwrap();
        rec.calls()
    }

    #[test]
    fn missing_masked_paths_are_skipped_and_directories_get_tmpfs() {
        let rec = Recorder::new();
        rec.fail_on("mount /dev/null /proc/acpi", libc::ENOENT);
        rec.fail_on("mount /dev/null /proc/scsi", libc::ENOTDIR);
        apply(&rec, &plan(&spec())).unwrap();
        assert!(rec.calls().contains(&"mount tmpfs /proc/scsi tmpfs 0x1 size=0".to_string()));
    }

    #[test]
    fn the_root_and_overlay_binds_use_the_mount_api_where_the_kernel_has_it() {
        let layers = OverlayLayers { lower_dirs: vec!["/l/2/out".into(), "/l/1/out".into()], upper_dir: None, work_dir: None };
        let bind = BindMount { source: "overlay".into(), target: "/test".into(), readonly: true, is_file: false, fstype: Some("overlay".into()), data: None, overlay: Some(layers), copy_up: None };
        let rec = Recorder::new();
        apply(&rec, &plan(&RootfsSpec { overlay_api: OverlayApi::Auto, binds: vec![bind], ..spec() })).unwrap();
        let calls = rec.calls();
        assert_eq!(calls[1..4], ["fsopen overlay", "fsconfig 100 lowerdir+ /c/init", "fsconfig 100 lowerdir+ /l/2"]);
        assert!(calls.contains(&"move_mount 101 /c/merged".to_string()));
        let bind_at = calls.iter().position(|c| c == "mkdir /c/merged/test 755").unwrap();
        assert_eq!(calls[bind_at + 1..bind_at + 4], ["fsopen overlay", "fsconfig 102 lowerdir+ /l/2/out", "fsconfig 102 lowerdir+ /l/1/out"]);
        // A read-only overlay bind: nosuid,nodev at fsmount, then the read-only remount.
        assert_eq!(calls[bind_at + 6], "fsmount 102 0x6");
        assert_eq!(calls[bind_at + 7], "move_mount 103 /c/merged/test");
        assert_eq!(calls[bind_at + 10], "mount - /c/merged/test - 0x1021 -");
    }

    #[test]
    fn a_failed_mandatory_step_reports_its_index() {
        let rec = Recorder::new();
        rec.fail_on("mount overlay", libc::EINVAL);
        let err = apply(&rec, &plan(&spec())).unwrap_err();
        assert_eq!(err, (1, Errno(libc::EINVAL)));
    }
}
