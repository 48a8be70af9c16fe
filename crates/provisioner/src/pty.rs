//! Pseudo-terminals: a PTY pair of a given size, and window size changes. The podman backend
//! runs `podman exec --tty` on one ([`crate::podman`]); tests drive the `cordium` binary
//! through one as a person's terminal would.

use crate::runtime::TermSize;
use rustix::fd::OwnedFd;

/// A new PTY of `size`: its master and its slave (both blocking, close-on-exec).
pub fn open(size: TermSize) -> std::io::Result<(OwnedFd, OwnedFd)> {
    use rustix::fs::{Mode, OFlags};
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let path = ptsname(&master, Vec::new())?;
    let slave = rustix::fs::open(
        path.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    resize(&master, size)?;
    Ok((master, slave))
}

/// Sets the terminal's size (the processes in its foreground get SIGWINCH).
pub fn resize(master: &OwnedFd, size: TermSize) -> std::io::Result<()> {
    rustix::termios::tcsetwinsize(
        master,
        rustix::termios::Winsize {
            ws_row: size.rows,
            ws_col: size.cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )?;
    Ok(())
}
