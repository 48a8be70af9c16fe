//! Streamed processes and port connections inside a workspace: the one mechanism every access
//! channel (the gRPC `ExecStream` and `PortForward`, the CLI's `shell`/`exec -it`/`cp`/
//! `port-forward`, the SSH server, the web console) is built on.
//!
//! [`Runtime::stream`](super::Runtime::stream) starts a [`StreamSpec`] and returns a
//! [`ProcessStream`]: a bounded sender of [`StreamInput`] (stdin bytes, close-stdin, window
//! size changes, signals) and a bounded receiver of [`StreamOutput`] (stdout and stderr
//! frames, then exactly one [`StreamOutput::Exit`], then the end of the channel).
//!
//! **Backpressure, end to end.** Both channels hold at most [`STREAM_QUEUE`] frames of at most
//! [`MAX_FRAME`] bytes. A backend reads the process's output only while the output channel has
//! room, so a reader that stops reading stops the process at its next write once the pipe or
//! terminal buffer between them is full; a process that does not read its stdin makes
//! [`ProcessStream::input`]'s `send` wait. Memory per session is bounded by the two queues.
//!
//! **Ending.** Dropping the input sender closes stdin (like [`StreamInput::CloseStdin`]).
//! Dropping the output receiver ends the session: the backend kills the process (and, with a
//! TTY, its process group) inside the container and frees everything. After the process has
//! exited the backend sends the remaining output, then [`StreamOutput::Exit`], then closes the
//! channel.

use super::{ResolvedEnv, RuntimeError};
use std::pin::Pin;
use tokio::sync::mpsc;

/// Frames each direction of a [`ProcessStream`] may hold.
pub const STREAM_QUEUE: usize = 8;
/// The most bytes one [`StreamOutput::Stdout`]/[`StreamOutput::Stderr`] frame carries (input
/// frames larger than this are accepted and written whole).
pub const MAX_FRAME: usize = 32 * 1024;

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermSize {
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
}

/// What to run and how. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// The program and its arguments (no shell in between); `None`: the user's login shell
    /// (from `/etc/passwd` in the container, else `bash`, else `sh`), started with `-l`.
    pub command: Option<Vec<String>>,
    /// Variables set on top of the container's environment (secret-valued ones travel as
    /// secrets: never on a command line).
    pub env: ResolvedEnv,
    /// The working directory; `None`: the user's home.
    pub working_dir: Option<String>,
    /// The user (name or uid) to run as; `None`: the container's user.
    pub user: Option<String>,
    /// A terminal of this initial size; `None`: plain pipes (stdout and stderr apart).
    pub tty: Option<TermSize>,
}

impl StreamSpec {
    /// Runs `command` without a terminal, in the user's home, as the container's user.
    pub fn command(command: Vec<String>) -> Self {
        Self {
            command: Some(command),
            env: Vec::new(),
            working_dir: None,
            user: None,
            tty: None,
        }
    }

    /// The login shell on a terminal of `size`.
    pub fn shell(size: TermSize) -> Self {
        Self {
            command: None,
            tty: Some(size),
            ..Self::command(Vec::new())
        }
    }
}

/// A signal delivered to the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGHUP.
    Hangup,
    /// SIGINT (a terminal's Ctrl-C already arrives as the byte 0x03 in stdin).
    Interrupt,
    /// SIGQUIT.
    Quit,
    /// SIGKILL.
    Kill,
    /// SIGUSR1.
    User1,
    /// SIGUSR2.
    User2,
    /// SIGTERM.
    Terminate,
}

impl Signal {
    /// The name `kill -s` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hangup => "HUP",
            Self::Interrupt => "INT",
            Self::Quit => "QUIT",
            Self::Kill => "KILL",
            Self::User1 => "USR1",
            Self::User2 => "USR2",
            Self::Terminate => "TERM",
        }
    }

    /// Every signal, for parsing names.
    pub const ALL: [Signal; 7] = [
        Self::Hangup,
        Self::Interrupt,
        Self::Quit,
        Self::Kill,
        Self::User1,
        Self::User2,
        Self::Terminate,
    ];

    /// The signal named `name` (`TERM` or `SIGTERM`, any case).
    pub fn from_name(name: &str) -> Option<Self> {
        let upper = name.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        Self::ALL.into_iter().find(|s| s.name() == bare)
    }
}

/// A frame from the client to the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamInput {
    /// Bytes for stdin.
    Stdin(Vec<u8>),
    /// End of stdin (with a TTY: the terminal's EOF character, Ctrl-D).
    CloseStdin,
    /// The terminal's new size (ignored without a TTY).
    Resize(TermSize),
    /// A signal for the process.
    Signal(Signal),
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// The exit code; a process killed by signal N reports `128 + N`, as a shell does.
    pub code: i32,
}

/// A frame from the process to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOutput {
    /// Bytes the process wrote to stdout (with a TTY: everything it wrote to the terminal).
    Stdout(Vec<u8>),
    /// Bytes the process wrote to stderr (never with a TTY).
    Stderr(Vec<u8>),
    /// The last frame: the process ended.
    Exit(ExitStatus),
    /// The last frame: the session broke (the engine or the connection to it failed).
    Failed(RuntimeError),
}

/// A running streamed process. See the [module docs](self).
#[derive(Debug)]
pub struct ProcessStream {
    /// Stdin, resizes and signals.
    pub input: mpsc::Sender<StreamInput>,
    /// Output, then one [`StreamOutput::Exit`] or [`StreamOutput::Failed`].
    pub output: mpsc::Receiver<StreamOutput>,
}

/// A byte stream both ways: one TCP connection to a port inside a workspace.
pub trait Duplex: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Duplex for T {}

/// A connection returned by [`Runtime::connect`](super::Runtime::connect).
pub type PortStream = Pin<Box<dyn Duplex>>;

/// The shell script that starts a [`StreamSpec`] given as `sh -c SCRIPT cordium-stream
/// [ARGS...]`: it first prints [`PID_MARKER`], its pid (as seen inside the container) and a
/// newline on stdout, so the backend can signal it, then runs the command (`"$@"`) or the
/// login shell. `prelude` runs first (a backend's environment setup).
pub fn launcher_script(prelude: &str, spec: &StreamSpec) -> String {
    let mut script = format!("printf '{PID_MARKER}%d\\n' \"$$\"; {prelude}; ");
    if spec.working_dir.is_none() {
        script.push_str("cd \"${HOME:-/}\" 2>/dev/null || cd /; ");
    }
    match spec.command {
        Some(_) => script.push_str("exec \"$@\""),
        None => script.push_str(LOGIN_SHELL),
    }
    script
}

/// Finds the user's login shell in `/etc/passwd` (no `getent` needed) and runs it as a login
/// shell.
const LOGIN_SHELL: &str = "u=$(id -u); s=; \
while IFS=: read -r _ _ id _ _ _ sh; do [ \"$id\" = \"$u\" ] && s=$sh && break; done </etc/passwd; \
for c in \"$s\" /bin/bash /bin/sh; do [ -n \"$c\" ] && [ -x \"$c\" ] && exec \"$c\" -l; done; \
echo 'cordium: no shell found' >&2; exit 127";

/// The shell script (run as root inside the container) that delivers `signal` to the
/// launcher `pid` and its process group. [`Signal::Kill`], which also ends every abandoned
/// session, goes to every descendant as well, found through `/proc` (no `ps` needed): a
/// process started without a terminal is not a group leader, so its children would outlive
/// it (`sh -c 'sleep 600'` keeps its `sleep`). The walk starts at the launcher: children
/// forked between the walk and the kill, and orphans of a launcher that already exited, are
/// not found (a session whose process ended has nothing left to kill but those).
pub fn signal_script(signal: Signal, pid: u32) -> String {
    let name = signal.name();
    if signal != Signal::Kill {
        return format!("kill -s {name} -- -{pid} {pid} 2>/dev/null; true");
    }
    // Every generation below `pid`, then all at once (killed first, a parent's children
    // would be handed to init and no longer be found). `${l##*) }` skips `comm`, which may
    // hold spaces; then come the state and the parent's pid.
    format!(
        "all={pid}; gen={pid}; \
         while [ -n \"$gen\" ]; do next=; \
         for s in /proc/[0-9]*/stat; do read -r l < \"$s\" 2>/dev/null || continue; \
         set -- ${{l##*) }}; for p in $gen; do [ \"$2\" = \"$p\" ] && \
         {{ q=${{s#/proc/}}; next=\"$next ${{q%/stat}}\"; }}; done; done; \
         all=\"$all$next\"; gen=$next; done; \
         kill -s {name} -- -{pid} $all 2>/dev/null; true"
    )
}

/// What [`launcher_script`] prints before the pid.
pub const PID_MARKER: &str = "cordium-pid:";

#[cfg(test)]
mod tests {
    use super::*;

    /// The kill reaches grandchildren: `sh -c` forks its commands, and they are in the
    /// launcher's process group only when it leads one.
    #[test]
    #[allow(
        clippy::disallowed_methods,
        reason = "the test runs the script with sh"
    )]
    fn a_kill_reaches_every_descendant() {
        use std::process::Command;
        let mut tree = Command::new("sh")
            // Durations no other process on the machine is likely to sleep (the search below
            // is machine-wide, since killed descendants leave the tree).
            .args(["-c", "sleep 3017 & (sleep 3018 & wait) & wait"])
            .spawn()
            .expect("sh");
        let pid = tree.id();
        let descendants = || -> Vec<String> {
            let out = Command::new("sh")
                .args([
                    "-c",
                    &format!("ps -o pid= --ppid {pid}; pgrep -f 'sleep 301[78]'"),
                ])
                .output()
                .expect("ps");
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while descendants().len() < 4 {
            assert!(std::time::Instant::now() < deadline, "{:?}", descendants());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let status = Command::new("sh")
            .args(["-c", &signal_script(Signal::Kill, pid)])
            .status()
            .expect("kill");
        assert!(status.success());
        let _ = tree.wait();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !descendants().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "left: {:?}",
                descendants()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn signals_are_parsed_by_name() {
        assert_eq!(Signal::from_name("SIGterm"), Some(Signal::Terminate));
        assert_eq!(Signal::from_name("int"), Some(Signal::Interrupt));
        assert_eq!(Signal::from_name("STOP"), None);
    }

    #[test]
    fn the_launcher_prints_its_pid_first() {
        let script = launcher_script("true", &StreamSpec::command(vec!["ls".to_owned()]));
        assert!(script.starts_with("printf 'cordium-pid:%d\\n'"), "{script}");
        assert!(script.ends_with("exec \"$@\""));
        let shell = launcher_script("true", &StreamSpec::shell(TermSize { cols: 80, rows: 24 }));
        assert!(shell.contains("-l"));
    }
}
