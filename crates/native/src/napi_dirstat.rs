//! napi entry point for listing a directory with its entries' lstat (see `dirstat`).
use crate::dirstat;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

/// A directory's entries: `names` NUL-terminated, `stats` the records
/// (dirstat::FIELDS little-endian f64 per entry, in the same order).
#[napi(object)]
pub struct DirListing {
    pub names: String,
    pub stats: Buffer,
}

/// The entries of `dir` with their lstat records in one call, or null when
/// the directory cannot be read or holds a name that is not UTF-8 (the
/// caller then reads it the ordinary way, which reports the error).
#[napi]
pub fn lstat_dir(dir: String) -> Option<DirListing> {
    let listing = dirstat::list(std::path::Path::new(&dir)).ok()??;
    let mut bytes = Vec::with_capacity(listing.stats.len() * 8);
    for v in &listing.stats {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    Some(DirListing { names: listing.names, stats: bytes.into() })
}
