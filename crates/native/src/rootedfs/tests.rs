//! Rooted operations against hostile names, without root: a temp dir holds
//! `root/` (the layer) and `outside/` (a canary that must stay untouched).
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, FromRawFd, IntoRawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{clean_components, lock, Metadata, Root};

pub(super) struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

static N: AtomicU32 = AtomicU32::new(0);

/// A fresh `{root, outside}` pair with a canary file in `outside`.
pub(super) fn setup() -> (TempDir, Root, PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!("rootedfs-test-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    let _ = fs::remove_dir_all(&base);
    let root = base.join("root");
    let outside = base.join("outside");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("canary"), b"canary").unwrap();
    let r = Root::open(root.to_str().unwrap(), false).unwrap();
    (TempDir(base), r, root, outside)
}

pub(super) fn assert_outside_untouched(outside: &PathBuf) {
    let names: Vec<_> = fs::read_dir(outside).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("canary")], "outside dir changed");
    assert_eq!(fs::read(outside.join("canary")).unwrap(), b"canary");
}

fn write_file(r: &Root, path: &str, data: &[u8]) {
    let fd = r.create_file(path).unwrap();
    let mut f = unsafe { fs::File::from_raw_fd(fd.into_raw_fd()) };
    f.write_all(data).unwrap();
    let fd: std::os::fd::OwnedFd = f.into();
    r.finish_file(fd, &Metadata { mode: 0o644, uid: 0, gid: 0, mtime_sec: 1_000_000, ..Default::default() }).unwrap();
}

#[test]
fn cleaning_clamps_dotdot_and_absolute_paths_at_the_root() {
    assert_eq!(clean_components("../../evil"), vec!["evil"]);
    assert_eq!(clean_components("/abs/./x//y/"), vec!["abs", "x", "y"]);
    assert_eq!(clean_components("a/../../b"), vec!["b"]);
    assert!(clean_components("./").is_empty());
    assert!(clean_components("..").is_empty());
}

#[test]
fn dotdot_and_absolute_names_land_inside_the_root() {
    let (_t, r, root, outside) = setup();
    write_file(&r, "../evil", b"x");
    write_file(&r, "/abs/evil", b"y");
    write_file(&r, "../outside/canary", b"overwritten?");
    assert_eq!(fs::read(root.join("evil")).unwrap(), b"x");
    assert_eq!(fs::read(root.join("abs/evil")).unwrap(), b"y");
    assert_eq!(fs::read(root.join("outside/canary")).unwrap(), b"overwritten?");
    assert_outside_untouched(&outside);
}

#[test]
fn absolute_symlink_parents_resolve_inside_the_root() {
    let (_t, r, root, outside) = setup();
    r.symlink("a", outside.to_str().unwrap()).unwrap();
    r.symlink("s", "/").unwrap();
    // `a` points at a host dir that does not exist inside the root: refused.
    assert!(r.create_file("a/file").is_err());
    write_file(&r, "s/through-slash", b"z");
    assert_eq!(fs::read(root.join("through-slash")).unwrap(), b"z");
    assert_eq!(fs::read_link(root.join("a")).unwrap(), outside);
    assert_outside_untouched(&outside);
}

#[test]
fn relative_symlink_escapes_are_clamped() {
    let (_t, r, root, outside) = setup();
    r.symlink("b", "../../..").unwrap();
    write_file(&r, "b/etc/x", b"clamped");
    assert_eq!(fs::read(root.join("etc/x")).unwrap(), b"clamped");
    r.symlink("c", "../outside").unwrap();
    // ../outside from the root is root/outside, which does not exist: refused.
    assert!(r.create_file("c/canary").is_err());
    assert_outside_untouched(&outside);
}

#[test]
fn an_existing_symlink_is_replaced_not_written_through() {
    let (_t, r, root, outside) = setup();
    r.symlink("f", outside.join("canary").to_str().unwrap()).unwrap();
    write_file(&r, "f", b"new inode");
    assert_eq!(fs::read(root.join("f")).unwrap(), b"new inode");
    assert!(!fs::symlink_metadata(root.join("f")).unwrap().file_type().is_symlink());
    // metadata on a symlink never follows it
    r.symlink("g", outside.join("canary").to_str().unwrap()).unwrap();
    let before = fs::metadata(outside.join("canary")).unwrap().permissions().mode();
    r.set_metadata("g", &Metadata { mode: 0o777, mtime_sec: 5, ..Default::default() }).unwrap();
    assert_eq!(fs::metadata(outside.join("canary")).unwrap().permissions().mode(), before);
    assert_outside_untouched(&outside);
}

#[test]
fn hard_links_only_reach_entries_inside_the_root() {
    let (_t, r, root, outside) = setup();
    let host_links = fs::metadata("/etc/passwd").unwrap().nlink();
    assert!(r.hardlink("p", "/etc/passwd").is_err());
    assert!(r.hardlink("q", "../outside/canary").is_err());
    assert!(r.hardlink("q", &format!("{}", outside.join("canary").display())).is_err());
    assert_eq!(fs::metadata("/etc/passwd").unwrap().nlink(), host_links);
    assert!(!root.join("p").exists() && !root.join("q").exists());
    // A link through a symlinked directory resolves inside too.
    r.symlink("etc", "/inner").unwrap();
    write_file(&r, "inner/data", b"d");
    r.hardlink("l", "etc/data").unwrap();
    assert_eq!(fs::metadata(root.join("l")).unwrap().ino(), fs::metadata(root.join("inner/data")).unwrap().ino());
    assert_eq!(fs::metadata(outside.join("canary")).unwrap().nlink(), 1);
    assert_outside_untouched(&outside);
}

#[test]
fn kinds_replace_each_other() {
    let (_t, r, root, _outside) = setup();
    write_file(&r, "d/sub/file", b"1");
    write_file(&r, "d", b"file now");
    assert!(fs::symlink_metadata(root.join("d")).unwrap().is_file());
    r.mkdir("d").unwrap();
    assert!(fs::symlink_metadata(root.join("d")).unwrap().is_dir());
    r.mkdir("d").unwrap(); // idempotent
    r.mknod("d/fifo", super::NodeKind::Fifo, 0, 0).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&fs::symlink_metadata(root.join("d/fifo")).unwrap().file_type()));
    assert!(r.create_file(".").is_err());
    assert!(r.create_file("..").is_err());
}

#[test]
fn metadata_sets_mode_and_mtime_on_the_entry() {
    let (_t, r, root, _outside) = setup();
    r.mkdir("dir").unwrap();
    r.set_metadata("dir", &Metadata { mode: 0o1750, mtime_sec: 1234, mtime_nsec: 5, ..Default::default() }).unwrap();
    let m = fs::symlink_metadata(root.join("dir")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o1750);
    assert_eq!(m.mtime(), 1234);
    r.set_metadata(".", &Metadata { mode: 0o755, mtime_sec: 99, ..Default::default() }).unwrap();
    assert_eq!(fs::metadata(&root).unwrap().mtime(), 99);
    write_file(&r, "f", b"");
    assert_eq!(fs::metadata(root.join("f")).unwrap().mtime(), 1_000_000);
    r.sync().unwrap();
}

#[test]
fn flock_excludes_a_second_holder_until_released() {
    let (_t, _r, root, _outside) = setup();
    let p = root.join("lockfile");
    let p = p.to_str().unwrap();
    let held = lock::lock(p, true, true).unwrap().unwrap();
    assert!(lock::lock(p, false, false).unwrap().is_none());
    drop(held);
    let a = lock::lock(p, false, false).unwrap().unwrap();
    let b = lock::lock(p, false, false).unwrap().unwrap();
    assert!(lock::lock(p, true, false).unwrap().is_none());
    let _ = (a.as_fd(), b.as_fd());
}
