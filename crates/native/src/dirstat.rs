//! One directory's entries with each one's lstat, in a single call: the
//! context check (COPY's cache key) walks the whole build context on every
//! build, cached or not, and through Node each entry costs a binding
//! crossing and a Stats object; here a directory costs one crossing and its
//! entries come back as compact records. Plain std::fs reads (no kernel
//! state is changed), like layerscan.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Numbers per entry in `Listing::stats`, in this order: st_mode (type and
/// permission bits), nlink, uid, gid, size, dev, ino, rdev, mtime and ctime
/// in milliseconds. All as f64, the way Node's Stats holds them (dev and
/// ino included), with times computed as Node does (sec * 1e3 + nsec / 1e6)
/// so that keys made from them equal keys made from a Node lstat.
pub const FIELDS: usize = 10;

#[derive(Debug, Default)]
pub struct Listing {
    /// Each entry's name followed by a NUL, in readdir order (the caller sorts).
    pub names: String,
    pub stats: Vec<f64>,
}

/// Node's milliseconds from a timespec.
pub fn millis(sec: i64, nsec: i64) -> f64 {
    sec as f64 * 1e3 + nsec as f64 / 1e6
}

/// `dir`'s entries and their lstat records. None when a name is not UTF-8
/// (the caller then lists the directory its own way, which decodes names
/// as it always has). An entry whose lstat fails (removed meanwhile) is
/// left out, as a walk that stats after reading the directory would.
pub fn list(dir: &Path) -> io::Result<Option<Listing>> {
    let mut out = Listing::default();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { return Ok(None) };
        // DirEntry::metadata does not follow a final symlink (fstatat with the dir's fd).
        let Ok(md) = entry.metadata() else { continue };
        out.names.push_str(name);
        out.names.push('\0');
        out.stats.extend_from_slice(&[
            md.mode() as f64,
            md.nlink() as f64,
            md.uid() as f64,
            md.gid() as f64,
            md.size() as f64,
            md.dev() as f64,
            md.ino() as f64,
            md.rdev() as f64,
            millis(md.mtime(), md.mtime_nsec()),
            millis(md.ctime(), md.ctime_nsec()),
        ]);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn lists_entries_with_lstat_records() {
        let dir = std::env::temp_dir().join(format!("tsb-dirstat-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("f"), b"hello").unwrap();
        symlink("sub", dir.join("l")).unwrap();
        let l = list(&dir).unwrap().unwrap();
        let names: Vec<&str> = l.names.split('\0').filter(|n| !n.is_empty()).collect();
        assert_eq!(names.len(), 3);
        assert_eq!(l.stats.len(), 3 * FIELDS);
        for (i, name) in names.iter().enumerate() {
            let rec = &l.stats[i * FIELDS..(i + 1) * FIELDS];
            let md = fs::symlink_metadata(dir.join(name)).unwrap();
            assert_eq!(rec[0], md.mode() as f64, "{name}");
            assert_eq!(rec[4], md.size() as f64, "{name}");
            assert_eq!(rec[6], md.ino() as f64, "{name}");
            assert_eq!(rec[8], millis(md.mtime(), md.mtime_nsec()), "{name}");
            // The link is itself, not its target.
            if *name == "l" {
                assert_eq!(rec[0] as u32 & libc::S_IFMT, libc::S_IFLNK);
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_dir_is_an_error() {
        assert!(list(Path::new("/no/such/dir/tsb-dirstat")).is_err());
    }

    #[test]
    fn millis_matches_node() {
        // Node: sec * 1e3 + nsec / 1e6.
        assert_eq!(millis(1_764_640_260, 123_456_789), 1_764_640_260.0 * 1e3 + 123_456_789.0 / 1e6);
    }
}
