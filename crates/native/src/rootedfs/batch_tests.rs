//! Batches against real temp dirs, without root: the encoding round-trips
//! into the same rooted calls, a file may span batches, hostile entries in
//! a batch stay inside the root, and malformed batches are refused.
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use super::batch::{self, BatchState};
use super::tests::{assert_outside_untouched, setup};

/// A test-side encoder, the mirror of src/store/codec/entry-batch.ts.
#[derive(Default)]
struct Ops(Vec<u8>);

impl Ops {
    fn op(&mut self, code: u8) -> &mut Self {
        self.0.push(code);
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.0.extend_from_slice(b);
        self
    }
    fn meta(&mut self, mode: u32, mtime: i64) -> &mut Self {
        for v in [0u32, 0, mode] {
            self.0.extend_from_slice(&v.to_le_bytes());
        }
        self.0.extend_from_slice(&mtime.to_le_bytes());
        self.0.extend_from_slice(&0u32.to_le_bytes()); // nsec
        self.0.extend_from_slice(&0u32.to_le_bytes()); // no xattrs
        self
    }
    fn file(&mut self, path: &str, data: &[u8], mode: u32) -> &mut Self {
        self.op(batch::FILE_OPEN).str(path).op(batch::FILE_DATA).bytes(data).op(batch::FILE_CLOSE).meta(mode, 1_000)
    }
}

#[test]
fn a_batch_creates_dirs_files_links_and_fifos_with_their_metadata() {
    let (_t, r, root, outside) = setup();
    let mut o = Ops::default();
    o.op(batch::MKDIR).str("usr/share/doc");
    o.file("usr/share/doc/a", b"alpha", 0o640);
    o.op(batch::SYMLINK).str("usr/link").str("share/doc/a").meta(0o777, 7);
    o.op(batch::HARDLINK).str("usr/hard").str("usr/share/doc/a");
    o.op(batch::MKNOD).str("run/fifo").op(0).0.extend_from_slice(&[0u8; 8]);
    o.meta(0o600, 9);
    o.op(batch::SET_META).str("usr/share/doc").meta(0o750, 42);
    let mut st = BatchState::default();
    batch::apply(&r, &mut st, &o.0).unwrap();
    assert_eq!(fs::read(root.join("usr/share/doc/a")).unwrap(), b"alpha");
    let a = fs::metadata(root.join("usr/share/doc/a")).unwrap();
    assert_eq!((a.mode() & 0o7777, a.mtime()), (0o640, 1_000));
    assert_eq!(fs::read_link(root.join("usr/link")).unwrap().to_str(), Some("share/doc/a"));
    assert_eq!(fs::symlink_metadata(root.join("usr/link")).unwrap().mtime(), 7);
    assert_eq!(fs::metadata(root.join("usr/hard")).unwrap().ino(), a.ino());
    assert!(fs::symlink_metadata(root.join("run/fifo")).unwrap().file_type().is_fifo());
    let d = fs::metadata(root.join("usr/share/doc")).unwrap();
    assert_eq!((d.mode() & 0o7777, d.mtime()), (0o750, 42));
    assert_outside_untouched(&outside);
}

#[test]
fn a_file_spans_batches_and_discard_closes_a_file_left_open() {
    let (_t, r, root, _outside) = setup();
    let mut st = BatchState::default();
    let mut first = Ops::default();
    first.op(batch::FILE_OPEN).str("big").op(batch::FILE_DATA).bytes(b"part one, ");
    batch::apply(&r, &mut st, &first.0).unwrap();
    let mut second = Ops::default();
    second.op(batch::FILE_DATA).bytes(b"part two").op(batch::FILE_CLOSE).meta(0o644, 5);
    batch::apply(&r, &mut st, &second.0).unwrap();
    assert_eq!(fs::read(root.join("big")).unwrap(), b"part one, part two");
    // A batch that stops mid-file (an aborted unpack): discard closes it, and a new file can start.
    batch::apply(&r, &mut st, &first.0.clone()).unwrap();
    st.discard();
    batch::apply(&r, &mut st, &Ops::default().file("after", b"x", 0o600).0).unwrap();
    assert_eq!(fs::read(root.join("after")).unwrap(), b"x");
}

#[test]
fn hostile_entries_in_a_batch_stay_inside_the_root() {
    let (_t, r, root, outside) = setup();
    let mut o = Ops::default();
    o.file("../../escape", b"1", 0o644);
    o.op(batch::SYMLINK).str("up").str("../../..").meta(0o777, 0);
    o.file("up/through-link", b"2", 0o644);
    o.op(batch::SYMLINK).str("abs").str("/").meta(0o777, 0);
    o.file("abs/etc/abs-file", b"3", 0o644);
    // An existing symlink at the name is replaced, never written through.
    o.op(batch::SYMLINK).str("canary").str(outside.join("canary").to_str().unwrap()).meta(0o777, 0);
    o.file("canary", b"new inode", 0o644);
    let mut st = BatchState::default();
    batch::apply(&r, &mut st, &o.0).unwrap();
    assert_eq!(fs::read(root.join("escape")).unwrap(), b"1");
    assert_eq!(fs::read(root.join("through-link")).unwrap(), b"2");
    assert_eq!(fs::read(root.join("etc/abs-file")).unwrap(), b"3");
    assert_eq!(fs::read(root.join("canary")).unwrap(), b"new inode");
    // A hard link to a host file fails, and names the entry.
    let mut l = Ops::default();
    l.op(batch::HARDLINK).str("p").str(outside.join("canary").to_str().unwrap());
    let err = batch::apply(&r, &mut st, &l.0).unwrap_err();
    assert_eq!((err.code, err.op, err.path.as_str()), (crate::error::Code::LayerFs, "link", outside.join("canary").to_str().unwrap()));
    assert!(err.to_string().starts_with("p: link "), "{err}");
    assert_eq!(fs::metadata(outside.join("canary")).unwrap().nlink(), 1);
    assert_outside_untouched(&outside);
}

#[test]
fn malformed_batches_are_refused() {
    let (_t, r, _root, _outside) = setup();
    let mut st = BatchState::default();
    let cases: Vec<Vec<u8>> = vec![
        vec![batch::MKDIR, 10, 0, 0, 0, b'a'],          // a name longer than the batch
        vec![batch::FILE_DATA, 1, 0, 0, 0, b'x'],        // data with no open file
        vec![batch::FILE_CLOSE],                         // close with no open file
        vec![200],                                       // unknown operation
        Ops::default().op(batch::MKDIR).bytes(&[0xff, 0xfe]).0.clone(), // not UTF-8
    ];
    for c in cases {
        assert_eq!(batch::apply(&r, &mut st, &c).unwrap_err().code, crate::error::Code::Input, "{c:?}");
    }
    let mut twice = Ops::default();
    twice.op(batch::FILE_OPEN).str("a").op(batch::FILE_OPEN).str("b");
    assert_eq!(batch::apply(&r, &mut st, &twice.0).unwrap_err().code, crate::error::Code::Input);
}

#[test]
fn a_parent_replaced_mid_batch_is_resolved_again() {
    let (_t, r, root, outside) = setup();
    let mut o = Ops::default();
    o.op(batch::MKDIR).str("e");
    o.file("d/a", b"in d", 0o644); // d's handle is now cached
    o.file("d/b", b"in d too", 0o644);
    // d becomes a symlink to e: the next d/ file must follow it, not land in the removed d.
    o.op(batch::SYMLINK).str("d").str("e").meta(0o777, 0);
    o.file("d/c", b"through the link", 0o644);
    let mut st = BatchState::default();
    batch::apply(&r, &mut st, &o.0).unwrap();
    assert_eq!(fs::read(root.join("e/c")).unwrap(), b"through the link");
    assert!(fs::symlink_metadata(root.join("d")).unwrap().file_type().is_symlink());
    // A file replacing the directory above the cached parent.
    let mut o = Ops::default();
    o.file("e/sub/x", b"1", 0o644);
    o.file("e", b"now a file", 0o644);
    o.file("e2/y", b"2", 0o644);
    batch::apply(&r, &mut st, &o.0).unwrap();
    assert_eq!(fs::read(root.join("e")).unwrap(), b"now a file");
    assert_eq!(fs::read(root.join("e2/y")).unwrap(), b"2");
    assert_outside_untouched(&outside);
}

#[test]
fn an_existing_entry_is_replaced_by_a_batched_file() {
    let (_t, r, root, outside) = setup();
    let mut o = Ops::default();
    o.file("x", b"old", 0o644);
    o.file("x", b"new", 0o600);
    o.op(batch::MKDIR).str("dir/sub");
    o.file("dir", b"file over a tree", 0o644);
    o.op(batch::SYMLINK).str("ln").str(outside.join("canary").to_str().unwrap()).meta(0o777, 0);
    o.file("ln", b"not through the link", 0o644);
    let mut st = BatchState::default();
    batch::apply(&r, &mut st, &o.0).unwrap();
    assert_eq!(fs::read(root.join("x")).unwrap(), b"new");
    assert_eq!(fs::metadata(root.join("x")).unwrap().mode() & 0o777, 0o600);
    assert_eq!(fs::read(root.join("dir")).unwrap(), b"file over a tree");
    assert_eq!(fs::read(root.join("ln")).unwrap(), b"not through the link");
    assert_outside_untouched(&outside);
}

#[test]
fn a_copied_file_gets_the_source_bytes_and_the_given_metadata_and_a_link_source_is_refused() {
    let (_t, r, root, outside) = setup();
    let src_dir = root.parent().unwrap().join("src");
    fs::create_dir_all(&src_dir).unwrap();
    let big: Vec<u8> = (0..(3u32 << 20)).map(|i| (i % 251) as u8).collect();
    fs::write(src_dir.join("big"), &big).unwrap();
    fs::write(src_dir.join("empty"), b"").unwrap();
    std::os::unix::fs::symlink(outside.join("canary"), src_dir.join("link")).unwrap();
    let mut o = Ops::default();
    o.op(batch::FILE_COPY).str("a/big").str(src_dir.join("big").to_str().unwrap()).meta(0o751, 1_234);
    o.op(batch::FILE_COPY).str("a/empty").str(src_dir.join("empty").to_str().unwrap()).meta(0o600, 5);
    let mut st = BatchState::default();
    batch::apply(&r, &mut st, &o.0).unwrap();
    assert_eq!(fs::read(root.join("a/big")).unwrap(), big);
    let m = fs::metadata(root.join("a/big")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.mtime()), (0o751, 1_234));
    assert_eq!(fs::read(root.join("a/empty")).unwrap(), b"");
    assert_eq!(fs::metadata(root.join("a/empty")).unwrap().mode() & 0o7777, 0o600);

    let mut o = Ops::default();
    o.op(batch::FILE_COPY).str("a/linked").str(src_dir.join("link").to_str().unwrap()).meta(0o644, 0);
    let err = batch::apply(&r, &mut st, &o.0).unwrap_err();
    assert_eq!(err.error.errno(), Some(libc::ELOOP), "{err}");
    assert!(err.to_string().starts_with("a/linked: "), "{err}");
    assert!(!root.join("a/linked").exists());
    assert_outside_untouched(&outside);
}
