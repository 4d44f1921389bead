//! One error type for rooted operations: what was attempted, on which path
//! (as the layer names it, never a host path), and the errno.
use std::fmt;
use std::io;

#[derive(Debug)]
pub struct FsError {
    /// Stable code for JS (`E_LAYER_FS`, `E_UNSAFE_PATH`, `E_LOCK`).
    pub code: &'static str,
    pub op: &'static str,
    pub path: String,
    pub source: io::Error,
}

impl FsError {
    pub fn io(op: &'static str, path: &str, source: io::Error) -> FsError {
        FsError { code: "E_LAYER_FS", op, path: path.to_string(), source }
    }

    /// A path the layer may not use (e.g. a whiteout or link naming the root).
    pub fn unsafe_path(op: &'static str, path: &str, why: &str) -> FsError {
        FsError {
            code: "E_UNSAFE_PATH",
            op,
            path: path.to_string(),
            source: io::Error::new(io::ErrorKind::InvalidInput, why.to_string()),
        }
    }

    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.op, self.path, self.source)
    }
}

impl std::error::Error for FsError {}

pub type FsResult<T> = Result<T, FsError>;
