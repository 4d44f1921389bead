//! Early writeback: ask the kernel to start writing a file's dirty pages
//! now, without waiting for them. The store flushes everything it publishes
//! (fsync of a blob, syncfs of a layer); with the default dirty thresholds
//! (10% of RAM) nothing is written before that flush, so a pull would
//! download and unpack first and then wait for the whole image to reach the
//! disk. Starting writeback while the bytes arrive lets the disk work during
//! the download, and the final flush only waits for the tail.
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `sync_file_range(SYNC_FILE_RANGE_WRITE)` over the whole file: queue the
/// dirty pages for writing and return. Durability still comes from the
/// later fsync/syncfs; this only moves the work earlier.
pub fn start(fd: BorrowedFd) -> io::Result<()> {
    // SAFETY: plain syscall on a borrowed, open fd.
    let rc = unsafe { libc::sync_file_range(fd.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    #[test]
    fn starts_writeback_of_a_written_file_and_refuses_a_pipe() {
        let dir = std::env::temp_dir().join(format!("tsbuild-writeback-{}", std::process::id()));
        let mut f = std::fs::File::create(&dir).unwrap();
        f.write_all(&vec![7u8; 1 << 20]).unwrap();
        start(f.as_fd()).unwrap();
        std::fs::remove_file(&dir).unwrap();
        // A pipe has no pages to write back: the kernel says ESPIPE, and we pass that on.
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let err = start(unsafe { BorrowedFd::borrow_raw(fds[0]) }).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESPIPE));
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }
}
