//! One error type for rooted operations: what was attempted, on which path
//! (as the layer names it, never a host path), and the errno.
use crate::error::{Code, NativeError};
use std::fmt;
use std::io;

#[derive(Debug)]
pub struct FsError {
    /// Stable code for JS: `LayerFs`, `UnsafePath` or `Lock`.
    pub code: Code,
    pub op: &'static str,
    pub path: String,
    pub source: io::Error,
}

impl FsError {
    pub fn io(op: &'static str, path: &str, source: io::Error) -> FsError {
        FsError { code: Code::LayerFs, op, path: path.to_string(), source }
    }

    /// A path the layer may not use (e.g. a whiteout or link naming the root).
    pub fn unsafe_path(op: &'static str, path: &str, why: &str) -> FsError {
        FsError {
            code: Code::UnsafePath,
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

impl From<FsError> for NativeError {
    fn from(e: FsError) -> NativeError {
        NativeError { code: e.code, errno: e.errno(), message: e.to_string() }
    }
}

pub type FsResult<T> = Result<T, FsError>;
