//! Compiles a docker-format profile into a classic BPF program with
//! libseccomp (as runc does), in the parent, so that the cloned child only
//! has to hand the finished instructions to the kernel.
//!
//! Programs are cached per (profile text, capability mask) for the life of
//! the process, so a build compiles the default profile once, not once per
//! RUN step; and on disk under the store (`cache/seccomp`), because covering
//! x86_64's 32-bit sub-architectures makes one compile cost ~30 ms, a tenth
//! of a `tsbuild run`. A disk entry holds its whole key (profile, caps,
//! kernel, libseccomp version) and is used only when that key matches.

use super::profile::{self, Action, Arg, Target};
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// A compiled filter: what `seccomp(SECCOMP_SET_MODE_FILTER)` takes.
pub type Program = Arc<Vec<libc::sock_filter>>;

/// The kernel's limit on one filter program (BPF_MAXINSNS).
const MAX_INSNS: usize = 4096;

/// (libseccomp's name, Go's name as profiles use it in `arches`) of this build's target.
fn native_arch() -> Result<(&'static str, &'static str), String> {
    if cfg!(target_arch = "x86_64") {
        Ok(("SCMP_ARCH_X86_64", "amd64"))
    } else if cfg!(target_arch = "aarch64") {
        Ok(("SCMP_ARCH_AARCH64", "arm64"))
    } else {
        Err("seccomp: this architecture has no profile support (x86_64 and aarch64 only)".into())
    }
}

fn kernel_version() -> (u32, u32) {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return (0, 0);
    }
    let release = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }.to_string_lossy().into_owned();
    let mut it = release.split(|c: char| !c.is_ascii_digit()).map(|s| s.parse().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

fn scmp_action(a: &Action) -> ScmpAction {
    match a {
        Action::Allow => ScmpAction::Allow,
        Action::Errno(e) => ScmpAction::Errno(*e as i32),
        Action::KillThread => ScmpAction::KillThread,
        Action::KillProcess => ScmpAction::KillProcess,
        Action::Trap => ScmpAction::Trap,
        Action::Log => ScmpAction::Log,
        Action::Trace(m) => ScmpAction::Trace(*m as u16),
    }
}

fn condition(a: &Arg) -> Result<ScmpArgCompare, String> {
    let (op, datum) = match a.op.as_str() {
        "SCMP_CMP_NE" => (ScmpCompareOp::NotEqual, a.value),
        "SCMP_CMP_LT" => (ScmpCompareOp::Less, a.value),
        "SCMP_CMP_LE" => (ScmpCompareOp::LessOrEqual, a.value),
        "SCMP_CMP_EQ" => (ScmpCompareOp::Equal, a.value),
        "SCMP_CMP_GE" => (ScmpCompareOp::GreaterEqual, a.value),
        "SCMP_CMP_GT" => (ScmpCompareOp::Greater, a.value),
        // Docker's spelling: `value` is the mask, `valueTwo` what the masked argument must equal.
        "SCMP_CMP_MASKED_EQ" => (ScmpCompareOp::MaskedEqual(a.value), a.value_two),
        other => return Err(format!("unsupported seccomp operator {}", other)),
    };
    if a.index > 5 {
        return Err(format!("seccomp argument index {} is out of range (0-5)", a.index));
    }
    Ok(ScmpArgCompare::new(a.index, op, datum))
}

fn err(what: &str) -> impl Fn(libseccomp::error::SeccompError) -> String + '_ {
    move |e| format!("seccomp: {}: {}", what, e)
}

/// Builds the libseccomp filter for `json` and exports it as BPF.
pub fn compile_uncached(json: &str, caps: u64) -> Result<Vec<libc::sock_filter>, String> {
    let p = profile::parse(json)?;
    let (native, go_arch) = native_arch()?;
    let target = Target { caps, arch: go_arch, kernel: kernel_version() };
    let default = profile::action(&p.default_action, p.default_errno_ret)?;
    let mut ctx = ScmpFilterContext::new(scmp_action(&default)).map_err(err("creating the filter"))?;
    // no_new_privs is the child's job (it sets it itself, before loading).
    ctx.set_ctl_nnp(false).map_err(err("setting the filter attributes"))?;
    // A binary tree of syscall numbers: the docker profile's ~350 entries cost a few comparisons, not hundreds.
    let _ = ctx.set_ctl_optimize(2);
    for name in profile::arches(&p, native).iter().skip(1) {
        // Architectures libseccomp does not know are skipped, as docker does.
        if let Ok(arch) = name.parse::<ScmpArch>() {
            ctx.add_arch(arch).map_err(err(&format!("adding architecture {}", name)))?;
        }
    }
    for sel in profile::select(&p, &target)? {
        if sel.action == default {
            continue; // libseccomp refuses rules that repeat the default
        }
        let action = scmp_action(&sel.action);
        let conds = sel.args.iter().map(condition).collect::<Result<Vec<_>, _>>()?;
        for name in &sel.names {
            // A name this libseccomp does not know (a newer syscall) is skipped, as docker does.
            let Ok(sc) = ScmpSyscall::from_name(name) else { continue };
            let what = format!("adding a rule for {}", name);
            if conds.is_empty() {
                ctx.add_rule(action, sc).map_err(err(&what))?;
            } else if distinct_indices(sel.args) {
                ctx.add_rule_conditional(action, sc, &conds).map_err(err(&what))?;
            } else {
                // Two conditions on one argument can't be ANDed in one libseccomp rule:
                // like runc, each becomes its own rule.
                for c in &conds {
                    ctx.add_rule_conditional(action, sc, std::slice::from_ref(c)).map_err(err(&what))?;
                }
            }
        }
    }
    let prog = export(&ctx)?;
    if prog.len() > MAX_INSNS {
        return Err(format!("seccomp: the profile compiles to {} instructions, more than the kernel's {}", prog.len(), MAX_INSNS));
    }
    Ok(prog)
}

fn distinct_indices(args: &[Arg]) -> bool {
    let mut seen = 0u8;
    args.iter().all(|a| {
        let bit = 1u8 << (a.index.min(7));
        let fresh = seen & bit == 0;
        seen |= bit;
        fresh
    })
}

/// libseccomp 2.5 exports only to an fd: a memfd, read back.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, String> {
    let fd = unsafe { libc::memfd_create(c"tsbuild-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!("seccomp: memfd_create: {}", std::io::Error::last_os_error()));
    }
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    ctx.export_bpf(&file).map_err(err("exporting the filter"))?;
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).and_then(|_| file.read_to_end(&mut bytes)).map_err(|e| format!("seccomp: reading the filter: {}", e))?;
    Ok(from_bytes(&bytes))
}

/// Instructions from libseccomp's export format (struct sock_filter, native endian).
fn from_bytes(bytes: &[u8]) -> Vec<libc::sock_filter> {
    bytes
        .chunks_exact(INSN)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

type Cache = Mutex<HashMap<(String, u64), Program>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn disk_dir() -> &'static Mutex<Option<PathBuf>> {
    static DIR: OnceLock<Mutex<Option<PathBuf>>> = OnceLock::new();
    DIR.get_or_init(|| Mutex::new(None))
}

/// Where compiled programs are kept across processes (`None`: memory only).
pub fn set_cache_dir(dir: Option<PathBuf>) {
    *disk_dir().lock().unwrap_or_else(|e| e.into_inner()) = dir;
}

/// Everything a compiled program depends on.
fn disk_key(json: &str, caps: u64) -> Vec<u8> {
    let v = libseccomp::ScmpVersion::current().map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro)).unwrap_or_default();
    let (major, minor) = kernel_version();
    format!("tsbuild-seccomp 1\nlibseccomp {}\nkernel {}.{}\narch {}\ncaps {:x}\n{}", v, major, minor, std::env::consts::ARCH, caps, json).into_bytes()
}

fn disk_path(dir: &Path, key: &[u8]) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    dir.join(format!("{:016x}.bpf", h.finish()))
}

const INSN: usize = std::mem::size_of::<libc::sock_filter>();

/// Layout: key length (u64 LE), key, instructions as the kernel takes them.
fn read_disk(path: &Path, key: &[u8]) -> Option<Vec<libc::sock_filter>> {
    let bytes = std::fs::read(path).ok()?;
    let klen = u64::from_le_bytes(bytes.get(0..8)?.try_into().ok()?) as usize;
    let stored_key = bytes.get(8..8usize.checked_add(klen)?)?;
    let prog = &bytes[8 + klen..];
    if stored_key != key || prog.is_empty() || prog.len() % INSN != 0 || prog.len() / INSN > MAX_INSNS {
        return None;
    }
    Some(from_bytes(prog))
}

fn write_disk(path: &Path, key: &[u8], prog: &[libc::sock_filter]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let mut bytes = (key.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(key);
    for i in prog {
        bytes.extend_from_slice(&i.code.to_ne_bytes());
        bytes.extend_from_slice(&[i.jt, i.jf]);
        bytes.extend_from_slice(&i.k.to_ne_bytes());
    }
    // A temp file and a rename: a concurrent reader sees the old entry or the whole new one.
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    if std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, path)).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// The compiled program for `json` and `caps`: from this process's memory,
/// else from the disk cache, else compiled (and remembered in both).
pub fn compile(json: &str, caps: u64) -> Result<Program, String> {
    let key = (json.to_string(), caps);
    if let Some(p) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(p.clone());
    }
    let dir = disk_dir().lock().unwrap_or_else(|e| e.into_inner()).clone();
    let disk = dir.map(|d| {
        let k = disk_key(json, caps);
        (disk_path(&d, &k), k)
    });
    let prog = match disk.as_ref().and_then(|(path, k)| read_disk(path, k)) {
        Some(p) => Arc::new(p),
        None => {
            let p = Arc::new(compile_uncached(json, caps)?);
            if let Some((path, k)) = &disk {
                write_disk(path, k, &p);
            }
            p
        }
    };
    cache().lock().unwrap_or_else(|e| e.into_inner()).insert(key, prog.clone());
    Ok(prog)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps;
    use crate::syscall::{linux::Linux, Syscall};

    /// Loads `prog` in a forked child (no_new_privs first, no root needed),
    /// runs `probe` there and returns the errno it reports (0: success).
    fn errno_under(prog: &Program, probe: fn() -> i64) -> i32 {
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = if Linux.set_no_new_privs().is_err() || Linux.seccomp_load(prog).is_err() {
                200
            } else if probe() < 0 {
                unsafe { *libc::__errno_location() }
            } else {
                0
            };
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "child died: status {:#x}", status);
        libc::WEXITSTATUS(status)
    }

    fn new_userns() -> i64 {
        unsafe { libc::unshare(libc::CLONE_NEWUSER) as i64 }
    }

    fn mkdir_tmp() -> i64 {
        unsafe { libc::mkdir(c"/proc/self/no-such-dir/x".as_ptr(), 0o755) as i64 }
    }

    fn clone3_probe() -> i64 {
        unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 88usize) }
    }

    fn getpid_probe() -> i64 {
        unsafe { libc::getpid() as i64 }
    }

    #[test]
    fn the_default_profile_denies_namespaces_without_sys_admin() {
        let prog = compile(profile::DEFAULT_PROFILE, caps::default_mask()).unwrap();
        assert!(prog.len() > 50 && prog.len() <= MAX_INSNS, "{} instructions", prog.len());
        assert_eq!(errno_under(&prog, getpid_probe), 0);
        assert_eq!(errno_under(&prog, new_userns), libc::EPERM);
        assert_eq!(errno_under(&prog, clone3_probe), libc::ENOSYS);
        // Compiled once: the second request is the same program.
        assert!(Arc::ptr_eq(&prog, &compile(profile::DEFAULT_PROFILE, caps::default_mask()).unwrap()));
    }

    #[test]
    fn with_sys_admin_the_same_profile_lets_unshare_through_to_the_kernel() {
        let prog = compile(profile::DEFAULT_PROFILE, caps::default_mask() | (1 << 21)).unwrap();
        // Unprivileged user namespaces may still be refused by the kernel, but not with our EPERM-by-filter
        // alone: clone3 now reaches the kernel, which rejects the null argument with EFAULT.
        assert_eq!(errno_under(&prog, clone3_probe), libc::EFAULT);
    }

    #[test]
    fn a_user_profile_denies_what_it_names() {
        let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#;
        let prog = compile(json, caps::default_mask()).unwrap();
        assert_eq!(errno_under(&prog, mkdir_tmp), libc::EACCES);
        assert_eq!(errno_under(&prog, getpid_probe), 0);
    }

    #[test]
    fn the_disk_cache_returns_what_was_compiled_and_ignores_a_foreign_entry() {
        let dir = std::env::temp_dir().join(format!("tsbuild-seccomp-cache-{}", std::process::id()));
        let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO"}]}"#;
        let key = disk_key(json, 5);
        let path = disk_path(&dir, &key);
        let prog = compile_uncached(json, 5).unwrap();
        write_disk(&path, &key, &prog);
        let back = read_disk(&path, &key).unwrap();
        assert_eq!(back.len(), prog.len());
        assert!(back.iter().zip(&prog).all(|(a, b)| (a.code, a.jt, a.jf, a.k) == (b.code, b.jt, b.jf, b.k)));
        // Same file, another key (a hash collision, another libseccomp): not used.
        assert!(read_disk(&path, &disk_key(json, 6)).is_none());
        std::fs::write(&path, b"junk").unwrap();
        assert!(read_disk(&path, &key).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_profiles_are_refused_with_a_reason() {
        assert!(compile("{}", 0).unwrap_err().contains("invalid seccomp profile"));
        let bad_op = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_SOMETIMES"}]}]}"#;
        assert!(compile(bad_op, 0).unwrap_err().contains("SCMP_CMP_SOMETIMES"));
    }
}
