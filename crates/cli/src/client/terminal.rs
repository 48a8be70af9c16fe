//! This side's terminal during an interactive session: raw mode (restored when the guard
//! drops, which every way out of a session passes through, a panic's unwinding included;
//! SIGTERM and SIGHUP end the session the same way), its size, and standard input read on a
//! thread of its own.
//!
//! Standard input is read by a plain thread rather than the async runtime's blocking pool: a
//! read waiting on a terminal would otherwise hold the runtime's shutdown until a key is
//! pressed. The thread is left behind when the command ends; the process exits under it.

use std::io::Read as _;
use tokio::sync::mpsc;

/// The most bytes one stdin frame carries.
const CHUNK: usize = 32 * 1024;
/// Chunks read ahead of the stream (so a process that does not read slows the reading here).
const AHEAD: usize = 4;

/// Raw mode on standard input until dropped.
pub(crate) struct RawMode {
    saved: rustix::termios::Termios,
}

impl RawMode {
    /// Puts standard input's terminal in raw mode; `None` when it is not a terminal (or
    /// cannot be set).
    pub(crate) fn enter() -> Option<Self> {
        use rustix::termios::{OptionalActions, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(&stdin, OptionalActions::Now, &raw).ok()?;
        Some(Self { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        use rustix::termios::{OptionalActions, tcsetattr};
        let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// Whether standard input is a terminal.
pub(crate) fn stdin_is_terminal() -> bool {
    rustix::termios::isatty(std::io::stdin())
}

/// The terminal's size (columns, rows), from standard input or output.
pub(crate) fn size() -> Option<(u16, u16)> {
    let size = rustix::termios::tcgetwinsize(std::io::stdin())
        .or_else(|_| rustix::termios::tcgetwinsize(std::io::stdout()))
        .ok()?;
    (size.ws_col > 0 && size.ws_row > 0).then_some((size.ws_col, size.ws_row))
}

/// Standard input as chunks, read on a thread of its own; the channel ends at end of input.
pub(crate) fn stdin_chunks() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(AHEAD);
    let spawned = std::thread::Builder::new()
        .name("stdin".to_owned())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            loop {
                let mut buf = vec![0_u8; CHUNK];
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.blocking_send(buf).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    // Without the thread, standard input reads as empty.
    drop(spawned);
    rx
}

/// Bytes from an async reader (a local `tar`'s output) as chunks.
pub(crate) fn reader_chunks(
    mut reader: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> mpsc::Receiver<Vec<u8>> {
    use tokio::io::AsyncReadExt as _;
    let (tx, rx) = mpsc::channel(AHEAD);
    tokio::spawn(async move {
        loop {
            let Ok(permit) = tx.reserve().await else {
                return;
            };
            let mut buf = vec![0_u8; CHUNK];
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buf.truncate(n);
                    permit.send(buf);
                }
            }
        }
    });
    rx
}
