//! Scanning a layer directory (an overlay upperdir or an unpacked layer):
//! every entry with the metadata a tar header needs, including xattrs,
//! which Node cannot read. Depth-first with names sorted at each level, so
//! the tar the caller writes from it is the same for the same content.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    Char,
    Block,
    Fifo,
    Socket,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Dir => "dir",
            Kind::File => "file",
            Kind::Symlink => "symlink",
            Kind::Char => "char",
            Kind::Block => "block",
            Kind::Fifo => "fifo",
            Kind::Socket => "socket",
        }
    }
}

#[derive(Debug)]
pub struct Entry {
    /// Relative to the scanned root, `/`-separated, no leading slash.
    pub path: String,
    pub kind: Kind,
    /// Permission bits including setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime_sec: i64,
    pub mtime_nsec: u32,
    pub rdev_major: u32,
    pub rdev_minor: u32,
    pub nlink: u64,
    pub ino: u64,
    pub link_target: Option<String>,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

pub fn scan(root: &Path) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    walk(root, "", &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("read {}: {}", dir.display(), e)))?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|e| e.file_name())
        .collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let full = dir.join(&name);
        let rel = format!("{}{}", prefix, name.to_string_lossy());
        let md = fs::symlink_metadata(&full)?;
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_char_device() {
            Kind::Char
        } else if ft.is_block_device() {
            Kind::Block
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_socket() {
            Kind::Socket
        } else {
            Kind::File
        };
        let link_target = if kind == Kind::Symlink { Some(fs::read_link(&full)?.to_string_lossy().into_owned()) } else { None };
        let rdev = md.rdev();
        out.push(Entry {
            path: rel.clone(),
            kind,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            size: if kind == Kind::File { md.size() } else { 0 },
            mtime_sec: md.mtime(),
            mtime_nsec: md.mtime_nsec() as u32,
            rdev_major: libc::major(rdev),
            rdev_minor: libc::minor(rdev),
            nlink: md.nlink(),
            ino: md.ino(),
            link_target,
            xattrs: xattrs(&full)?,
        });
        if kind == Kind::Dir {
            walk(&full, &format!("{}/", rel), out)?;
        }
    }
    Ok(())
}

/// All xattrs of a path, not following a final symlink. Filesystems
/// without xattr support simply have none.
pub fn xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let size = unsafe { libc::llistxattr(c.as_ptr(), std::ptr::null_mut(), 0) };
    if size <= 0 {
        let e = io::Error::last_os_error();
        return if size == 0 || e.raw_os_error() == Some(libc::ENOTSUP) { Ok(Vec::new()) } else { Err(e) };
    }
    let mut names = vec![0u8; size as usize];
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr() as *mut libc::c_char, names.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    names.truncate(n as usize);
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let cname = CString::new(name).unwrap();
        let len = unsafe { libc::lgetxattr(c.as_ptr(), cname.as_ptr(), std::ptr::null_mut(), 0) };
        if len < 0 {
            continue; // removed meanwhile, or not readable: skip
        }
        let mut value = vec![0u8; len as usize];
        let got = unsafe { libc::lgetxattr(c.as_ptr(), cname.as_ptr(), value.as_mut_ptr() as *mut libc::c_void, value.len()) };
        if got < 0 {
            continue;
        }
        value.truncate(got as usize);
        out.push((String::from_utf8_lossy(name).into_owned(), value));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::v1::tempdir::TempDir;

    #[test]
    fn scans_depth_first_in_name_order_with_metadata() {
        let t = TempDir::new();
        fs::create_dir_all(t.path().join("b/sub")).unwrap();
        fs::write(t.path().join("b/sub/f"), b"hello").unwrap();
        fs::write(t.path().join("a"), b"").unwrap();
        std::os::unix::fs::symlink("../a", t.path().join("b/link")).unwrap();
        fs::hard_link(t.path().join("a"), t.path().join("c")).unwrap();
        let e = scan(t.path()).unwrap();
        let paths: Vec<_> = e.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(paths, vec!["a", "b", "b/link", "b/sub", "b/sub/f", "c"]);
        let f = e.iter().find(|x| x.path == "b/sub/f").unwrap();
        assert_eq!((f.kind, f.size), (Kind::File, 5));
        let l = e.iter().find(|x| x.path == "b/link").unwrap();
        assert_eq!(l.link_target.as_deref(), Some("../a"));
        assert_eq!(xattr(&t.path().join("a"), "user.tsbuild.absent").unwrap(), None);
        let a = e.iter().find(|x| x.path == "a").unwrap();
        let c = e.iter().find(|x| x.path == "c").unwrap();
        assert_eq!((a.ino, a.nlink), (c.ino, 2));
    }
}

/// One xattr of a path (not following a final symlink): `None` when the
/// path has no such attribute (or the filesystem has no xattrs).
pub fn xattr(path: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf = vec![0u8; 256];
    loop {
        let n = unsafe { libc::lgetxattr(c.as_ptr(), cname.as_ptr(), buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(Some(buf));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => return Ok(None),
            Some(libc::ERANGE) => buf.resize(buf.len() * 4, 0),
            _ => return Err(e),
        }
    }
}
