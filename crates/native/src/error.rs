//! The crate's one error type for what reaches JavaScript: a stable code
//! (which TypeScript maps to a TsbuildError of the same code, see
//! src/native/errors.ts), the errno when the kernel said no, and a one-line
//! message naming what was attempted on which path.
//!
//! Plain modules return `NativeError` (or a type that converts into it);
//! only the `napi_*` binding turns it into a `napi::Error` (`to_napi`,
//! `to_napi_async`). The wire format, which src/native/errors.ts parses:
//! `err.code` is the code; an async task cannot set a code (its status is a
//! fixed enum), so there the message starts with `<code>: `; an errno
//! shows as io::Error does, `... (os error N)` at the end of the message.

use crate::syscall::Errno;
use std::fmt;
use std::io;

/// The stable codes. Keep in step with `NativeErrorCode` in src/native/errors.ts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// The caller passed something unusable (a NUL byte, an empty command, an unknown mode).
    Input,
    /// Starting, joining, waiting for or signalling a container process.
    Spawn,
    /// Creating, limiting or removing a cgroup.
    Cgroup,
    /// A seccomp profile that does not parse or compile.
    Seccomp,
    /// Mounting (the /proc view's fuse mount).
    Mount,
    /// Other file and fd work: ptys, pipes, layer scans, xattrs, writeback.
    Io,
    /// A rooted (layer unpack) file operation failed; see `rootedfs::FsError`.
    LayerFs,
    /// A layer entry tried to leave or name its root.
    UnsafePath,
    /// Taking a file lock.
    Lock,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Input => "E_NATIVE_INPUT",
            Code::Spawn => "E_NATIVE_SPAWN",
            Code::Cgroup => "E_NATIVE_CGROUP",
            Code::Seccomp => "E_NATIVE_SECCOMP",
            Code::Mount => "E_NATIVE_MOUNT",
            Code::Io => "E_NATIVE_IO",
            Code::LayerFs => "E_LAYER_FS",
            Code::UnsafePath => "E_UNSAFE_PATH",
            Code::Lock => "E_LOCK",
        }
    }

    pub const ALL: [Code; 9] = [Code::Input, Code::Spawn, Code::Cgroup, Code::Seccomp, Code::Mount, Code::Io, Code::LayerFs, Code::UnsafePath, Code::Lock];
}

#[derive(Debug)]
pub struct NativeError {
    pub code: Code,
    pub errno: Option<i32>,
    /// One line; with an errno it ends in `: <strerror> (os error N)`.
    pub message: String,
}

pub type NativeResult<T> = Result<T, NativeError>;

impl NativeError {
    pub fn new(code: Code, message: impl Into<String>) -> NativeError {
        NativeError { code, errno: None, message: message.into() }
    }

    /// `what: <io error>`, keeping the errno.
    pub fn io(code: Code, what: impl fmt::Display, e: &io::Error) -> NativeError {
        NativeError { code, errno: e.raw_os_error(), message: format!("{}: {}", what, e) }
    }

    /// `what: <strerror> (os error N)`.
    pub fn errno(code: Code, what: impl fmt::Display, e: Errno) -> NativeError {
        NativeError::io(code, what, &io::Error::from_raw_os_error(e.0))
    }

    /// An io::Error that already names what failed (e.g. from a module that formats its own).
    pub fn from_io(code: Code, e: &io::Error) -> NativeError {
        NativeError { code, errno: e.raw_os_error(), message: e.to_string() }
    }

    pub fn input(message: impl Into<String>) -> NativeError {
        NativeError::new(Code::Input, message)
    }
}

impl fmt::Display for NativeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NativeError {}

/// For a sync entry point: the code in `err.code`, the message as is.
pub fn to_napi(e: NativeError) -> napi::Error<String> {
    napi::Error::new(e.code.as_str().to_string(), e.message)
}

/// For an `AsyncTask`, whose error status is napi's fixed enum: the code leads the message.
pub fn to_napi_async(e: NativeError) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, async_reason(&e))
}

/// `<code>: <message>`. (Apart from `to_napi_async` so that `cargo test`,
/// which links no Node, can check it: a test must not make a napi::Error.)
pub fn async_reason(e: &NativeError) -> String {
    format!("{}: {}", e.code.as_str(), e.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_prefixed() {
        let names: Vec<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        for (i, n) in names.iter().enumerate() {
            assert!(n.starts_with("E_"), "{}", n);
            assert!(!names[i + 1..].contains(n), "{} twice", n);
        }
    }

    #[test]
    fn an_errno_is_kept_and_shown_as_io_errors_show_it() {
        let e = NativeError::errno(Code::Spawn, "signal 9 to 5", Errno(libc::ESRCH));
        assert_eq!(e.errno, Some(libc::ESRCH));
        assert_eq!(e.message, format!("signal 9 to 5: No such process (os error {})", libc::ESRCH));
        let n = NativeError::io(Code::Cgroup, "create /x", &io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!((n.code.as_str(), n.errno), ("E_NATIVE_CGROUP", Some(libc::EACCES)));
        assert!(n.message.starts_with("create /x: ") && n.message.ends_with("(os error 13)"), "{}", n);
        assert_eq!(async_reason(&NativeError::new(Code::Lock, "lock /l: busy")), "E_LOCK: lock /l: busy");
    }
}
