//! A minimal FUSE server for a flat, read-only directory of generated
//! files: the kernel protocol (include/uapi/linux/fuse.h, 7.x) spoken
//! directly over /dev/fuse, without libfuse (which the runtime would
//! otherwise need installed) and without a crate that brings its own
//! threads. `Server::handle` turns one request into one reply and is pure,
//! so the protocol is unit-tested with byte buffers; `serve` is the loop.
//!
//! Each open snapshots the file's text (as seq_file does for real /proc
//! files), so a reader that reads in pieces sees one consistent version.
//!
//! Sizes are real, not /proc's 0: sendfile (busybox cat) goes through the
//! page cache even for FOPEN_DIRECT_IO files and stops at i_size. Attributes
//! are valid for 0 s, so the kernel asks again (GETATTR, from its
//! default_permissions check) at every open; that rendering is kept as the
//! open's snapshot, so the size the kernel holds is the snapshot's.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;

const LOOKUP: u32 = 1;
const FORGET: u32 = 2;
const GETATTR: u32 = 3;
const OPEN: u32 = 14;
const READ: u32 = 15;
const STATFS: u32 = 17;
const RELEASE: u32 = 18;
const FLUSH: u32 = 25;
const INIT: u32 = 26;
const OPENDIR: u32 = 27;
const READDIR: u32 = 28;
const RELEASEDIR: u32 = 29;
const ACCESS: u32 = 34;
const INTERRUPT: u32 = 36;
const DESTROY: u32 = 38;
const BATCH_FORGET: u32 = 42;

const IN_HEADER: usize = 40;
const ROOT: u64 = 1;
/// Kernel replies may be read by pieces at any offset: tell it not to cache.
const FOPEN_DIRECT_IO: u32 = 1;
const MAX_WRITE: u32 = 4096;
/// The kernel refuses reads into buffers smaller than this (FUSE_MIN_READ_BUFFER).
pub const READ_BUFFER: usize = 8192 + MAX_WRITE as usize + 4096;

/// What the server serves: file names (inode = index + 2) and their text.
pub trait Files {
    fn names(&self) -> &[&'static str];
    fn render(&mut self, index: usize) -> Vec<u8>;
}

pub struct Server<F: Files> {
    pub files: F,
    open: HashMap<u64, Vec<u8>>,
    /// Text rendered for a GETATTR/LOOKUP, by inode: the next OPEN's snapshot.
    pending: HashMap<u64, (std::time::Instant, Vec<u8>)>,
    next_fh: u64,
    pub destroyed: bool,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).map(|s| u32::from_ne_bytes(s.try_into().unwrap())).unwrap_or(0)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map(|s| u64::from_ne_bytes(s.try_into().unwrap())).unwrap_or(0)
}

/// A reply under construction: the out header is patched in at the end.
struct Reply(Vec<u8>);

impl Reply {
    fn new(unique: u64) -> Reply {
        let mut v = Vec::with_capacity(256);
        v.extend_from_slice(&[0u8; 8]);
        v.extend_from_slice(&unique.to_ne_bytes());
        Reply(v)
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn done(mut self, error: i32) -> Vec<u8> {
        if error != 0 {
            self.0.truncate(16);
        }
        let len = self.0.len() as u32;
        self.0[0..4].copy_from_slice(&len.to_ne_bytes());
        self.0[4..8].copy_from_slice(&(-error).to_ne_bytes());
        self.0
    }
    /// struct fuse_attr (88 bytes): times 0, as in /proc.
    fn attr(self, ino: u64, size: u64) -> Self {
        let (mode, nlink) = if ino == ROOT { (libc::S_IFDIR | 0o555, 2) } else { (libc::S_IFREG | 0o444, 1) };
        self.u64(ino).u64(size).u64(size.div_ceil(512)).u64(0).u64(0).u64(0).u32(0).u32(0).u32(0).u32(mode).u32(nlink).u32(0).u32(0).u32(0).u32(4096).u32(0)
    }
}

fn error(unique: u64, errno: i32) -> Vec<u8> {
    Reply::new(unique).done(errno)
}

impl<F: Files> Server<F> {
    pub fn new(files: F) -> Server<F> {
        Server { files, open: HashMap::new(), pending: HashMap::new(), next_fh: 1, destroyed: false }
    }

    /// Renders a file for its attributes and keeps the text for the next open.
    fn size(&mut self, nodeid: u64) -> u64 {
        match self.ino(nodeid) {
            Some(i) => {
                let text = self.files.render(i);
                let n = text.len() as u64;
                self.pending.insert(nodeid, (std::time::Instant::now(), text));
                n
            }
            None => 0,
        }
    }

    fn ino(&self, nodeid: u64) -> Option<usize> {
        let i = nodeid.checked_sub(2)? as usize;
        (i < self.files.names().len()).then_some(i)
    }

    /// One request in, at most one reply out (FORGET and INTERRUPT get none).
    pub fn handle(&mut self, req: &[u8]) -> Option<Vec<u8>> {
        if req.len() < IN_HEADER {
            return None;
        }
        let opcode = u32_at(req, 4);
        let unique = u64_at(req, 8);
        let nodeid = u64_at(req, 16);
        let body = &req[IN_HEADER..req.len().min(u32_at(req, 0) as usize).max(IN_HEADER)];
        Some(match opcode {
            INIT => {
                let (major, minor, readahead) = (u32_at(body, 0), u32_at(body, 4), u32_at(body, 8));
                if major < 7 {
                    return Some(error(unique, libc::EPROTO));
                }
                let minor = if major > 7 { 31 } else { minor.min(31) };
                let r = Reply::new(unique).u32(7).u32(minor).u32(readahead).u32(0);
                if minor < 23 {
                    // The 7.5 layout the kernel expects from older servers.
                    r.u16(16).u16(12).u32(MAX_WRITE).done(0)
                } else {
                    r.u16(16).u16(12).u32(MAX_WRITE).u32(1).u16(0).u16(0).u32(0).bytes(&[0u8; 28]).done(0)
                }
            }
            LOOKUP => {
                let name = body.split(|b| *b == 0).next().unwrap_or(&[]);
                let found = (nodeid == ROOT).then(|| self.files.names().iter().position(|n| n.as_bytes() == name)).flatten();
                match found {
                    Some(i) => {
                        let ino = i as u64 + 2;
                        let size = self.size(ino);
                        Reply::new(unique).u64(ino).u64(0).u64(3600).u64(0).u32(0).u32(0).attr(ino, size).done(0)
                    }
                    None => error(unique, libc::ENOENT),
                }
            }
            GETATTR => {
                if nodeid != ROOT && self.ino(nodeid).is_none() {
                    return Some(error(unique, libc::ENOENT));
                }
                let size = self.size(nodeid);
                Reply::new(unique).u64(0).u32(0).u32(0).attr(nodeid, size).done(0)
            }
            OPEN => match self.ino(nodeid) {
                Some(i) => {
                    // Read-only: O_ACCMODE other than O_RDONLY is refused.
                    if u32_at(body, 0) as i32 & libc::O_ACCMODE != libc::O_RDONLY {
                        return Some(error(unique, libc::EACCES));
                    }
                    let fh = self.next_fh;
                    self.next_fh += 1;
                    // A rendering older than a second is some stat's, not this open's.
                    let fresh = self.pending.remove(&nodeid).filter(|(t, _)| t.elapsed().as_millis() < 1000);
                    let text = fresh.map(|(_, t)| t).unwrap_or_else(|| self.files.render(i));
                    self.open.insert(fh, text);
                    Reply::new(unique).u64(fh).u32(FOPEN_DIRECT_IO).u32(0).done(0)
                }
                None => error(unique, if nodeid == ROOT { libc::EISDIR } else { libc::ENOENT }),
            },
            READ => {
                let (fh, offset, size) = (u64_at(body, 0), u64_at(body, 8), u32_at(body, 16) as usize);
                match self.open.get(&fh) {
                    Some(text) => {
                        let start = (offset as usize).min(text.len());
                        let end = start.saturating_add(size).min(text.len());
                        Reply::new(unique).bytes(&text[start..end]).done(0)
                    }
                    None => error(unique, libc::EBADF),
                }
            }
            RELEASE => {
                self.open.remove(&u64_at(body, 0));
                Reply::new(unique).done(0)
            }
            OPENDIR => {
                if nodeid != ROOT {
                    return Some(error(unique, libc::ENOTDIR));
                }
                Reply::new(unique).u64(0).u32(0).u32(0).done(0)
            }
            READDIR => {
                let (offset, size) = (u64_at(body, 8) as usize, u32_at(body, 16) as usize);
                let mut entries: Vec<(u64, &str, u32)> = vec![(ROOT, ".", libc::DT_DIR as u32), (ROOT, "..", libc::DT_DIR as u32)];
                for (i, n) in self.files.names().iter().enumerate() {
                    entries.push((i as u64 + 2, n, libc::DT_REG as u32));
                }
                let mut r = Reply::new(unique);
                let mut used = 0;
                for (k, (ino, name, kind)) in entries.into_iter().enumerate().skip(offset) {
                    // struct fuse_dirent: ino, off (of the next entry), namelen, type, name padded to 8.
                    let len = (24 + name.len() + 7) & !7;
                    if used + len > size {
                        break;
                    }
                    used += len;
                    r = r.u64(ino).u64(k as u64 + 1).u32(name.len() as u32).u32(kind).bytes(name.as_bytes()).bytes(&[0u8; 8][..len - 24 - name.len()]);
                }
                r.done(0)
            }
            // struct fuse_kstatfs: blocks..ffree 0, bsize, namelen, frsize, padding, spare[6].
            STATFS => Reply::new(unique).bytes(&[0u8; 40]).u32(4096).u32(255).u32(4096).bytes(&[0u8; 28]).done(0),
            FLUSH | RELEASEDIR | ACCESS => Reply::new(unique).done(0),
            DESTROY => {
                self.destroyed = true;
                Reply::new(unique).done(0)
            }
            FORGET | BATCH_FORGET | INTERRUPT => return None,
            _ => error(unique, libc::ENOSYS),
        })
    }
}

/// Opens /dev/fuse and mounts a connection on `target`. `allow_other`
/// because the container's processes are not the mounter (another uid in
/// a user namespace); `default_permissions` lets the kernel apply the
/// read-only modes itself.
pub fn mount(target: &str) -> io::Result<i32> {
    let fd = unsafe { libc::open(c"/dev/fuse".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::new(io::Error::last_os_error().kind(), format!("open /dev/fuse: {}", io::Error::last_os_error())));
    }
    let data = CString::new(format!("fd={},rootmode=40555,user_id=0,group_id=0,allow_other,default_permissions", fd)).unwrap();
    let t = CString::new(target).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // No nosuid/nodev/noexec/ro here: flags of a mount made outside a user
    // namespace are locked inside it, and the runtime's read-only remount of
    // each bound file (without them) would fail with EPERM. The files are
    // mode 0444 regular files whatever the flags say: the server decides.
    let flags: libc::c_ulong = 0;
    if unsafe { libc::mount(c"tsbuild-proc".as_ptr(), t.as_ptr(), c"fuse".as_ptr(), flags, data.as_ptr() as *const libc::c_void) } < 0 {
        let e = io::Error::last_os_error();
        unsafe { libc::close(fd) };
        return Err(io::Error::new(e.kind(), format!("mount fuse on {}: {}", target, e)));
    }
    Ok(fd)
}

/// Serves requests until the connection ends (ENODEV: the last mount of
/// it is gone, i.e. the container's mount namespace died). `tick` runs
/// every `tick_ms` between requests.
pub fn serve<F: Files>(fd: i32, server: &mut Server<F>, tick_ms: i32, mut tick: impl FnMut(&mut F)) {
    let mut buf = vec![0u8; READ_BUFFER];
    let mut last = std::time::Instant::now();
    while !server.destroyed {
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        let waited = tick_ms.saturating_sub(last.elapsed().as_millis() as i32).max(0);
        let r = unsafe { libc::poll(&mut pfd, 1, waited) };
        if r == 0 || last.elapsed().as_millis() as i32 >= tick_ms {
            tick(&mut server.files);
            last = std::time::Instant::now();
            if r == 0 {
                continue;
            }
        }
        if r < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break;
        }
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n < 0 {
            match io::Error::last_os_error().raw_os_error() {
                // ENOENT: the request was interrupted before we read it.
                Some(libc::EINTR) | Some(libc::EAGAIN) | Some(libc::ENOENT) => continue,
                _ => break,
            }
        }
        if let Some(reply) = server.handle(&buf[..n as usize]) {
            // A write fails with ENOENT when the request was interrupted meanwhile: nothing to do.
            unsafe { libc::write(fd, reply.as_ptr() as *const libc::c_void, reply.len()) };
        }
    }
    unsafe { libc::close(fd) };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Two;
    impl Files for Two {
        fn names(&self) -> &[&'static str] {
            &["meminfo", "loadavg"]
        }
        fn render(&mut self, index: usize) -> Vec<u8> {
            [&b"MemTotal: 1 kB\n"[..], b"0.00 0.00 0.00 1/1 0\n"][index].to_vec()
        }
    }

    fn req(opcode: u32, unique: u64, nodeid: u64, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((IN_HEADER + body.len()) as u32).to_ne_bytes());
        v.extend_from_slice(&opcode.to_ne_bytes());
        v.extend_from_slice(&unique.to_ne_bytes());
        v.extend_from_slice(&nodeid.to_ne_bytes());
        v.extend_from_slice(&[0u8; 16]);
        v.extend_from_slice(body);
        v
    }

    fn header(reply: &[u8]) -> (u32, i32, u64) {
        (u32_at(reply, 0), u32_at(reply, 4) as i32, u64_at(reply, 8))
    }

    fn read_body(fh: u64, offset: u64, size: u32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&fh.to_ne_bytes());
        b.extend_from_slice(&offset.to_ne_bytes());
        b.extend_from_slice(&size.to_ne_bytes());
        b.extend_from_slice(&[0u8; 20]);
        b
    }

    #[test]
    fn init_answers_with_the_full_layout() {
        let mut s = Server::new(Two);
        let body = [7u32.to_ne_bytes(), 38u32.to_ne_bytes(), 65536u32.to_ne_bytes(), 0u32.to_ne_bytes()].concat();
        let r = s.handle(&req(INIT, 1, 0, &body)).unwrap();
        assert_eq!(header(&r), (16 + 64, 0, 1));
        assert_eq!((u32_at(&r, 16), u32_at(&r, 20), u32_at(&r, 36)), (7, 31, MAX_WRITE));
        let old = [7u32.to_ne_bytes(), 22u32.to_ne_bytes(), 0u32.to_ne_bytes(), 0u32.to_ne_bytes()].concat();
        assert_eq!(header(&s.handle(&req(INIT, 2, 0, &old)).unwrap()).0, 16 + 24);
    }

    #[test]
    fn lookup_open_read_release() {
        let mut s = Server::new(Two);
        let r = s.handle(&req(LOOKUP, 3, ROOT, b"loadavg\0")).unwrap();
        assert_eq!(header(&r), (16 + 128, 0, 3));
        assert_eq!(u64_at(&r, 16), 3);
        assert_eq!(u32_at(&r, 16 + 40 + 60), libc::S_IFREG | 0o444);
        assert_eq!(header(&s.handle(&req(LOOKUP, 4, ROOT, b"uptime\0")).unwrap()).1, -libc::ENOENT);
        let o = s.handle(&req(OPEN, 5, 2, &[0u8; 8])).unwrap();
        assert_eq!(header(&o).1, 0);
        let fh = u64_at(&o, 16);
        assert_eq!(u32_at(&o, 24), FOPEN_DIRECT_IO);
        let r = s.handle(&req(READ, 6, 2, &read_body(fh, 0, 8))).unwrap();
        assert_eq!(&r[16..], b"MemTotal");
        let r = s.handle(&req(READ, 7, 2, &read_body(fh, 8, 4096))).unwrap();
        assert_eq!(&r[16..], b": 1 kB\n");
        let r = s.handle(&req(READ, 8, 2, &read_body(fh, 100, 4096))).unwrap();
        assert_eq!(r.len(), 16);
        assert_eq!(header(&s.handle(&req(RELEASE, 9, 2, &read_body(fh, 0, 0))).unwrap()), (16, 0, 9));
        assert_eq!(header(&s.handle(&req(READ, 10, 2, &read_body(fh, 0, 8))).unwrap()).1, -libc::EBADF);
    }

    /// Renders a counter, so each rendering differs in length from the last.
    struct Growing(usize);
    impl Files for Growing {
        fn names(&self) -> &[&'static str] {
            &["n"]
        }
        fn render(&mut self, _: usize) -> Vec<u8> {
            self.0 += 1;
            vec![b'x'; self.0]
        }
    }

    #[test]
    fn an_open_serves_the_text_whose_size_getattr_reported() {
        let mut s = Server::new(Growing(0));
        let a = s.handle(&req(GETATTR, 1, 2, &[0u8; 16])).unwrap();
        assert_eq!(u64_at(&a, 16), 0, "attributes are valid for 0 s");
        assert_eq!(u64_at(&a, 16 + 16 + 8), 1, "size");
        let o = s.handle(&req(OPEN, 2, 2, &[0u8; 8])).unwrap();
        let r = s.handle(&req(READ, 3, 2, &read_body(u64_at(&o, 16), 0, 4096))).unwrap();
        assert_eq!(&r[16..], b"x");
        let o = s.handle(&req(OPEN, 4, 2, &[0u8; 8])).unwrap();
        let r = s.handle(&req(READ, 5, 2, &read_body(u64_at(&o, 16), 0, 4096))).unwrap();
        assert_eq!(&r[16..], b"xx", "no getattr in between: rendered afresh");
    }

    #[test]
    fn refuses_writes_and_unknown_ops() {
        let mut s = Server::new(Two);
        let wr = (libc::O_WRONLY as u32).to_ne_bytes();
        assert_eq!(header(&s.handle(&req(OPEN, 1, 2, &[&wr[..], &[0u8; 4]].concat())).unwrap()).1, -libc::EACCES);
        assert_eq!(header(&s.handle(&req(16 /* WRITE */, 2, 2, &[0u8; 40])).unwrap()).1, -libc::ENOSYS);
        assert!(s.handle(&req(FORGET, 3, 2, &[0u8; 8])).is_none());
    }

    #[test]
    fn readdir_lists_files_and_resumes_at_offset() {
        let mut s = Server::new(Two);
        let r = s.handle(&req(READDIR, 1, ROOT, &read_body(0, 0, 4096))).unwrap();
        let names: Vec<String> = {
            let mut out = Vec::new();
            let mut at = 16;
            while at < r.len() {
                let len = u32_at(&r, at + 16) as usize;
                out.push(String::from_utf8(r[at + 24..at + 24 + len].to_vec()).unwrap());
                at += (24 + len + 7) & !7;
            }
            out
        };
        assert_eq!(names, [".", "..", "meminfo", "loadavg"]);
        let r = s.handle(&req(READDIR, 2, ROOT, &read_body(0, 3, 4096))).unwrap();
        assert_eq!(&r[16 + 24..16 + 31], b"loadavg");
        let r = s.handle(&req(READDIR, 3, ROOT, &read_body(0, 4, 4096))).unwrap();
        assert_eq!(r.len(), 16);
    }
}
