//! Pseudo-terminals for `run -t` and `exec -t`. The parent keeps the master
//! and relays it; the child gets the slave as its controlling terminal.

use crate::error::{Code, NativeError, NativeResult};
use std::ffi::CStr;
use std::io;

pub struct Pty {
    pub master: i32,
    pub slave: i32,
    pub slave_path: String,
}

fn os_err(what: &str) -> NativeError {
    NativeError::io(Code::Io, what, &io::Error::last_os_error())
}

pub fn open(cols: u16, rows: u16) -> NativeResult<Pty> {
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if master < 0 {
        return Err(os_err("open /dev/ptmx"));
    }
    let fail = |what: &str| {
        let e = os_err(what);
        unsafe { libc::close(master) };
        Err(e)
    };
    if unsafe { libc::grantpt(master) } < 0 || unsafe { libc::unlockpt(master) } < 0 {
        return fail("unlock pty");
    }
    let mut buf = [0 as libc::c_char; 128];
    if unsafe { libc::ptsname_r(master, buf.as_mut_ptr(), buf.len()) } != 0 {
        return fail("ptsname");
    }
    let slave_path = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned();
    let slave = unsafe { libc::open(buf.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if slave < 0 {
        return fail("open pty slave");
    }
    if cols > 0 && rows > 0 {
        resize(master, cols, rows)?;
    }
    Ok(Pty { master, slave, slave_path })
}

pub fn resize(fd: i32, cols: u16, rows: u16) -> NativeResult<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(os_err("set window size"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn opens_a_pty_with_its_size() {
        let p = super::open(100, 30).unwrap();
        assert!(p.slave_path.starts_with("/dev/pts/"));
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::ioctl(p.slave, libc::TIOCGWINSZ, &mut ws) }, 0);
        assert_eq!((ws.ws_col, ws.ws_row), (100, 30));
        unsafe {
            libc::close(p.master);
            libc::close(p.slave);
        }
    }
}
