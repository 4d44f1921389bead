//! Docker's seccomp profile format, and the rule selection docker applies to
//! it before compiling: which entries hold for this architecture, kernel and
//! capability set. Pure data in, data out, so that "which syscalls are
//! allowed for which capabilities" is unit-tested without loading anything.
//!
//! The format (moby/profiles seccomp/default.json, and what users pass to
//! `--security-opt seccomp=FILE`): `defaultAction`, `defaultErrnoRet`,
//! `architectures` or `archMap`, and `syscalls[]` entries with `names`,
//! `action`, `errnoRet`, `args[]` and `includes`/`excludes` on `caps`,
//! `arches` and `minKernel`.

use crate::caps;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    #[serde(default)]
    pub arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    pub syscalls: Option<Vec<SyscallRule>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default)]
    pub sub_architectures: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    #[serde(default)]
    pub names: Vec<String>,
    /// The pre-`names` spelling of a single entry, still accepted by docker.
    #[serde(default)]
    pub name: Option<String>,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    #[serde(default)]
    pub includes: Option<Filter>,
    #[serde(default)]
    pub excludes: Option<Filter>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// What the compiler needs to know about the target process and machine.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The process's capability mask (see `caps`).
    pub caps: u64,
    /// Go's name for the machine, as profiles spell it: `amd64` or `arm64`.
    pub arch: &'static str,
    /// The running kernel's (major, minor).
    pub kernel: (u32, u32),
}

/// An action as libseccomp names it, with its errno already resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Allow,
    Errno(u32),
    KillThread,
    KillProcess,
    Trap,
    Log,
    Trace(u32),
}

/// One entry that holds for the target: names, action and argument conditions.
#[derive(Clone, Debug)]
pub struct Selected<'a> {
    pub names: Vec<&'a str>,
    pub action: Action,
    pub args: &'a [Arg],
}

pub fn parse(json: &str) -> Result<Profile, String> {
    serde_json::from_str(json).map_err(|e| format!("invalid seccomp profile: {}", e))
}

/// Docker's default: EPERM when an ERRNO action names no errno.
pub fn action(name: &str, errno: Option<u32>) -> Result<Action, String> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_ERRNO" => Action::Errno(errno.unwrap_or(libc::EPERM as u32)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_TRACE" => Action::Trace(errno.unwrap_or(libc::EPERM as u32)),
        other => return Err(format!("unsupported seccomp action {}", other)),
    })
}

fn kernel_at_least(have: (u32, u32), want: &str) -> Result<bool, String> {
    let mut parts = want.split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => Ok(have >= (major, minor)),
        (Some(Ok(major)), None) => Ok(have >= (major, 0)),
        _ => Err(format!("invalid minKernel {:?} in seccomp profile", want)),
    }
}

fn has_cap(mask: u64, name: &str) -> Result<bool, String> {
    Ok(mask & caps::mask_from_names(&[name.to_string()])? != 0)
}

/// Docker's rule: every `includes` condition must hold, and no `excludes` one.
fn applies(rule: &SyscallRule, t: &Target) -> Result<bool, String> {
    if let Some(inc) = &rule.includes {
        if let Some(arches) = &inc.arches {
            if !arches.is_empty() && !arches.iter().any(|a| a == t.arch) {
                return Ok(false);
            }
        }
        for c in inc.caps.iter().flatten() {
            if !has_cap(t.caps, c)? {
                return Ok(false);
            }
        }
        if let Some(k) = &inc.min_kernel {
            if !kernel_at_least(t.kernel, k)? {
                return Ok(false);
            }
        }
    }
    if let Some(exc) = &rule.excludes {
        if exc.arches.iter().flatten().any(|a| a == t.arch) {
            return Ok(false);
        }
        for c in exc.caps.iter().flatten() {
            if has_cap(t.caps, c)? {
                return Ok(false);
            }
        }
        if let Some(k) = &exc.min_kernel {
            if kernel_at_least(t.kernel, k)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// The entries of `p` that hold for `t`, in profile order.
pub fn select<'a>(p: &'a Profile, t: &Target) -> Result<Vec<Selected<'a>>, String> {
    let mut out = Vec::new();
    for rule in p.syscalls.iter().flatten() {
        if !applies(rule, t)? {
            continue;
        }
        let names: Vec<&str> = rule.names.iter().map(String::as_str).chain(rule.name.as_deref()).collect();
        out.push(Selected { names, action: action(&rule.action, rule.errno_ret)?, args: rule.args.as_deref().unwrap_or(&[]) });
    }
    Ok(out)
}

/// The libseccomp architecture names the filter covers on `native`
/// (e.g. `SCMP_ARCH_X86_64`): the native one and its archMap sub-architectures.
pub fn arches(p: &Profile, native: &str) -> Vec<String> {
    let mut v = vec![native.to_string()];
    let mut extra: Vec<String> = Vec::new();
    if let Some(map) = &p.arch_map {
        for m in map.iter().filter(|m| m.architecture == native) {
            extra.extend(m.sub_architectures.iter().flatten().cloned());
        }
    } else if let Some(list) = &p.architectures {
        extra.extend(list.iter().cloned());
    }
    for a in extra {
        if !v.contains(&a) {
            v.push(a);
        }
    }
    v
}

/// The profile tsbuild applies when none is given: docker's default, as data
/// in docker's own format, so it goes through the same path as a user's file.
pub const DEFAULT_PROFILE: &str = include_str!("default.json");

#[cfg(test)]
mod tests {
    use super::*;

    fn target(caps: u64) -> Target {
        Target { caps, arch: "amd64", kernel: (6, 1) }
    }

    /// The action the selected rules give `name` when no argument condition is involved.
    fn unconditional(p: &Profile, t: &Target, name: &str) -> Option<Action> {
        select(p, t).unwrap().into_iter().find(|s| s.names.contains(&name) && s.args.is_empty()).map(|s| s.action)
    }

    fn conditional(p: &Profile, t: &Target, name: &str) -> usize {
        select(p, t).unwrap().into_iter().filter(|s| s.names.contains(&name) && !s.args.is_empty()).count()
    }

    #[test]
    fn the_default_profile_allows_ordinary_calls_and_denies_the_dangerous_ones() {
        let p = parse(DEFAULT_PROFILE).unwrap();
        assert_eq!(action(&p.default_action, p.default_errno_ret).unwrap(), Action::Errno(1));
        let t = target(caps::default_mask());
        for ok in ["read", "openat", "execve", "mkdir", "chroot", "arch_prctl", "ptrace", "close_range", "seccomp"] {
            assert_eq!(unconditional(&p, &t, ok), Some(Action::Allow), "{}", ok);
        }
        for denied in ["unshare", "setns", "mount", "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "kexec_load", "init_module", "finit_module", "reboot", "settimeofday", "clock_settime", "open_by_handle_at", "syslog", "iopl"] {
            assert_eq!(unconditional(&p, &t, denied), None, "{}", denied);
        }
    }

    #[test]
    fn namespace_creation_needs_cap_sys_admin() {
        let p = parse(DEFAULT_PROFILE).unwrap();
        let plain = target(caps::default_mask());
        // clone only with no CLONE_NEW* flag (a masked condition), clone3 ENOSYS so glibc falls back.
        assert_eq!(unconditional(&p, &plain, "clone"), None);
        assert_eq!(conditional(&p, &plain, "clone"), 1);
        assert_eq!(unconditional(&p, &plain, "clone3"), Some(Action::Errno(38)));
        let admin = target(caps::default_mask() | (1 << 21));
        for name in ["unshare", "setns", "mount", "clone", "clone3"] {
            assert_eq!(unconditional(&p, &admin, name), Some(Action::Allow), "{}", name);
        }
        assert_eq!(conditional(&p, &admin, "clone"), 0);
        assert!(select(&p, &admin).unwrap().iter().all(|s| !s.names.contains(&"clone3") || s.action == Action::Allow));
    }

    #[test]
    fn capabilities_open_their_syscalls() {
        let p = parse(DEFAULT_PROFILE).unwrap();
        let none = target(0);
        assert_eq!(unconditional(&p, &none, "chroot"), None);
        let time = target(caps::mask_from_names(&["CAP_SYS_TIME".into()]).unwrap());
        assert_eq!(unconditional(&p, &time, "settimeofday"), Some(Action::Allow));
        let module = target(caps::mask_from_names(&["CAP_SYS_MODULE".into()]).unwrap());
        assert_eq!(unconditional(&p, &module, "finit_module"), Some(Action::Allow));
    }

    #[test]
    fn arches_and_kernels_select_entries() {
        let p = parse(DEFAULT_PROFILE).unwrap();
        let arm = Target { arch: "arm64", ..target(caps::default_mask()) };
        assert_eq!(unconditional(&p, &arm, "arch_prctl"), None);
        assert_eq!(unconditional(&p, &arm, "set_tls"), Some(Action::Allow));
        let old = Target { kernel: (4, 4), ..target(caps::default_mask()) };
        assert_eq!(unconditional(&p, &old, "ptrace"), None);
        assert_eq!(arches(&p, "SCMP_ARCH_X86_64"), vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
        assert_eq!(arches(&p, "SCMP_ARCH_AARCH64"), vec!["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    }

    #[test]
    fn a_user_profile_parses_with_old_and_new_spellings() {
        let p = parse(r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO"},{"names":["mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#).unwrap();
        let t = target(caps::default_mask());
        assert_eq!(unconditional(&p, &t, "mkdir"), Some(Action::Errno(1)));
        assert_eq!(unconditional(&p, &t, "mkdirat"), Some(Action::Errno(13)));
        assert_eq!(arches(&p, "SCMP_ARCH_X86_64"), vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
        assert!(parse("{").is_err());
        assert!(parse(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).is_ok_and(|p| action(&p.default_action, None).is_err()));
    }
}
