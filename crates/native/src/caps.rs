//! Capabilities: the default set a container process keeps, as docker's
//! default profile has it. Everything else is dropped from the bounding set
//! so that not even a setuid binary can regain it.

/// Capability numbers from linux/capability.h.
pub const DEFAULT_CAPS: &[(&str, u32)] = &[
    ("CHOWN", 0), ("DAC_OVERRIDE", 1), ("FOWNER", 3), ("FSETID", 4), ("KILL", 5),
    ("SETGID", 6), ("SETUID", 7), ("SETPCAP", 8), ("NET_BIND_SERVICE", 10), ("NET_RAW", 13),
    ("SYS_CHROOT", 18), ("MKNOD", 27), ("AUDIT_WRITE", 29), ("SETFCAP", 31),
];

/// All capability names the kernel may know, by number, for parsing `--cap-add` style lists.
const ALL_CAPS: &[&str] = &[
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
];

pub fn default_mask() -> u64 {
    DEFAULT_CAPS.iter().fold(0u64, |m, (_, n)| m | (1u64 << n))
}

/// Parses names such as `CAP_NET_ADMIN` or `net_admin` into a bit mask.
pub fn mask_from_names(names: &[String]) -> Result<u64, String> {
    let mut mask = 0u64;
    for name in names {
        let upper = name.to_ascii_uppercase();
        let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
        if bare == "ALL" {
            mask |= (1u64 << ALL_CAPS.len()) - 1;
            continue;
        }
        let n = ALL_CAPS.iter().position(|c| *c == bare).ok_or_else(|| format!("unknown capability {}", name))?;
        mask |= 1u64 << n;
    }
    Ok(mask)
}

/// The capabilities this process holds (CapPrm): a child can keep no more.
/// `ALL` means these, as docker's privileged mode gives what the runtime has.
pub fn permitted() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("CapPrm:").map(|v| v.trim().to_string())))
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(u64::MAX)
}

/// The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap).
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_matches_docker() {
        let m = default_mask();
        assert_eq!(m.count_ones(), 14);
        assert!(m & (1 << 21) == 0, "SYS_ADMIN must not be in the default set");
        assert!(m & (1 << 12) == 0, "NET_ADMIN must not be in the default set");
    }

    #[test]
    fn names_parse_with_or_without_prefix() {
        assert_eq!(mask_from_names(&["CAP_NET_ADMIN".into(), "sys_admin".into()]).unwrap(), (1 << 12) | (1 << 21));
        assert!(mask_from_names(&["FLY".into()]).is_err());
    }
}
