//! Allocation-free helpers for code that runs between clone and exec:
//! decimal formatting, whole-buffer writes, and small file writes.

use crate::syscall::Errno;

/// A number formatted in decimal on the stack.
pub struct Dec {
    buf: [u8; 24],
    start: usize,
}

impl Dec {
    pub fn new(mut n: u64) -> Dec {
        let mut buf = [0u8; 24];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Dec { buf, start: i }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// A path such as `/proc/<pid>/uid_map`, built on the stack (NUL-terminated).
pub struct StackPath {
    buf: [u8; 128],
    len: usize,
}

impl StackPath {
    pub fn new() -> StackPath {
        StackPath { buf: [0u8; 128], len: 0 }
    }
    pub fn push(mut self, bytes: &[u8]) -> StackPath {
        let n = bytes.len().min(self.buf.len() - 1 - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        self
    }
    pub fn as_ptr(&self) -> *const libc::c_char {
        self.buf.as_ptr() as *const libc::c_char
    }
}

pub fn write_all(fd: i32, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        let n = unsafe { libc::write(fd, data.as_ptr() as *const libc::c_void, data.len()) };
        if n < 0 {
            let e = Errno::last();
            if e.0 == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// Reads until `buf` is full or EOF; returns the number of bytes read.
pub fn read_full(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut got = 0;
    while got < buf.len() {
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr() as *mut libc::c_void, buf.len() - got) };
        if n < 0 {
            let e = Errno::last();
            if e.0 == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            break;
        }
        got += n as usize;
    }
    Ok(got)
}

/// Writes `data` to an existing file in one write (/proc files need that).
fn write_file_ptr(path: *const libc::c_char, data: &[u8]) -> Result<(), Errno> {
    let fd = unsafe { libc::open(path, libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    let r = write_all(fd, data);
    unsafe { libc::close(fd) };
    r
}

pub fn write_proc_file(pid: i32, name: &[u8], data: &[u8]) -> Result<(), Errno> {
    let path = StackPath::new().push(b"/proc/").push(Dec::new(pid as u64).as_bytes()).push(b"/").push(name);
    write_file_ptr(path.as_ptr(), data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_decimal() {
        assert_eq!(Dec::new(0).as_bytes(), b"0");
        assert_eq!(Dec::new(4194304).as_bytes(), b"4194304");
        assert_eq!(Dec::new(u64::MAX).as_bytes(), b"18446744073709551615");
    }

    #[test]
    fn writes_and_reads_through_a_pipe() {
        let mut fds = [0i32; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        write_all(fds[1], b"hello").unwrap();
        unsafe { libc::close(fds[1]) };
        let mut buf = [0u8; 16];
        assert_eq!(read_full(fds[0], &mut buf).unwrap(), 5);
        unsafe { libc::close(fds[0]) };
    }
}
