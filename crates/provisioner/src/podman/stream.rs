//! Streamed processes and port connections on podman (see [`crate::runtime::stream`]).
//!
//! **Processes: `podman exec --interactive [--tty]`, under a pseudo-terminal this module
//! allocates.** The backend already drives the podman command line (see [`super`]); libpod's
//! exec API would need a `podman system service` socket the backend does not run, and its
//! attach protocol (a multiplexed HTTP hijack) is more to get right than a PTY. With a TTY,
//! `podman exec --tty` runs under `setsid --ctty` on the slave of a PTY opened here (rustix
//! `openpt`): podman puts that terminal in raw mode and copies bytes both ways to the
//! container's own terminal, and a window size set on the master (`TIOCSWINSZ`) reaches podman
//! as SIGWINCH, which it passes on to the container's terminal. Without a TTY the process's
//! stdin, stdout and stderr are podman's pipes.
//!
//! The launcher ([`launcher_script`]) prints its pid inside the container before it runs the
//! command; signals and the end of an abandoned session are a `kill` run by a second
//! `podman exec` as root (killing `podman exec` itself would only detach from the process).
//! Output is read only while the output channel has room, so backpressure reaches the
//! process through podman's pipes.
//!
//! **Ports: the container's network namespace.** A connection is opened by a short-lived
//! thread that enters the network namespace of the container's first process (`setns` on
//! `/proc/PID/ns/net`) and connects to `127.0.0.1:PORT` there; the socket keeps that
//! namespace and is then used from the async runtime like any other. It reaches services that
//! listen on the container's loopback only, needs no program in the image and no process per
//! connection. It needs the right to enter the namespace (root on the host, as this backend's
//! podman runs; a user namespace from `--userns` changes nothing, since the host's root
//! owns it).

use super::env::{add_env, check_env};
use super::user::ProcessUser;
use super::{PRELUDE, Podman, engine, last_line};
use crate::runtime::session::{self, Control, Ends, Reader, Waiter, Writer, read_marker};
use crate::runtime::stream::{launcher_script, signal_script};
use crate::runtime::{
    ContainerState, ExitStatus, PortStream, ProcessStream, Runtime, RuntimeError, Signal,
    StreamSpec, TermSize, WorkspaceKey,
};
use rustix::fd::{AsFd, OwnedFd};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// How long a process may take to start (podman to run the launcher).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a connection to a port inside the container may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A started `podman exec`: its process and its ends.
struct Started {
    child: Child,
    stdout: Reader,
    stderr: Option<Reader>,
    stdin: Option<Writer>,
    /// The PTY's master, for window sizes.
    master: Option<OwnedFd>,
}

fn pty_error(e: impl std::fmt::Display) -> RuntimeError {
    engine("allocating a terminal", e.to_string())
}

/// A PTY of `size`: its master (non-blocking) and its slave.
fn open_pty(size: TermSize) -> Result<(OwnedFd, OwnedFd), RuntimeError> {
    let (master, slave) = crate::pty::open(size).map_err(pty_error)?;
    rustix::fs::fcntl_setfl(
        &master,
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NONBLOCK,
    )
    .map_err(pty_error)?;
    Ok((master, slave))
}

/// `podman` with this backend's environment, run through `setsid --ctty --wait` so the PTY
/// on its stdin becomes its controlling terminal (and window changes reach it as SIGWINCH).
fn under_setsid(podman: &Podman) -> Command {
    let base = podman.command();
    let std = base.as_std();
    let mut command = Command::new("setsid");
    command
        .args(["--ctty", "--wait"])
        .arg(std.get_program())
        .kill_on_drop(true);
    for (key, value) in std.get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    command
}

fn spawn(podman: &Podman, key: &WorkspaceKey, spec: &StreamSpec) -> Result<Started, RuntimeError> {
    let mut command = match spec.tty {
        Some(_) => under_setsid(podman),
        None => podman.command(),
    };
    command.args(["exec", "--interactive"]);
    if spec.tty.is_some() {
        command.arg("--tty");
    }
    // The workspace user unless the session names one (`podman::user`: one rule for every
    // process in a workspace).
    match &spec.user {
        Some(user) => command.arg("--user").arg(user),
        None => command.args(ProcessUser::Workspace.exec_args()),
    };
    if let Some(dir) = &spec.working_dir {
        // One argument: a value never reads as a flag.
        command.arg(format!("--workdir={dir}"));
    }
    add_env(&mut command, &spec.env, true);
    command.arg(key.object_name()).args([
        "/bin/sh",
        "-c",
        &launcher_script(PRELUDE, spec),
        "cordium-stream",
    ]);
    if let Some(argv) = &spec.command {
        command.args(argv);
    }
    let spawn_error = |e: std::io::Error| engine("podman exec", e.to_string());
    match spec.tty {
        Some(size) => {
            let (master, slave) = open_pty(size)?;
            let dup = |fd: &OwnedFd| fd.try_clone().map_err(pty_error);
            command
                .stdin(Stdio::from(dup(&slave)?))
                .stdout(Stdio::from(dup(&slave)?))
                .stderr(Stdio::from(slave));
            let child = command.spawn().map_err(spawn_error)?;
            // The parent's copies of the slave go with the command, so reading the master
            // ends (EIO) once podman exits.
            drop(command);
            let reader = tokio::net::unix::pipe::Receiver::from_owned_fd_unchecked(dup(&master)?)
                .map_err(pty_error)?;
            let writer = tokio::net::unix::pipe::Sender::from_owned_fd_unchecked(dup(&master)?)
                .map_err(pty_error)?;
            Ok(Started {
                child,
                stdout: Box::new(reader),
                stderr: None,
                stdin: Some(Box::new(writer)),
                master: Some(master),
            })
        }
        None => {
            command.stdin(Stdio::piped());
            let mut child = command.spawn().map_err(spawn_error)?;
            let (Some(stdin), Some(stdout), Some(stderr)) =
                (child.stdin.take(), child.stdout.take(), child.stderr.take())
            else {
                return Err(engine("podman exec", "no pipes"));
            };
            Ok(Started {
                child,
                stdout: Box::new(stdout),
                stderr: Some(Box::new(stderr)),
                stdin: Some(Box::new(stdin)),
                master: None,
            })
        }
    }
}

/// Starts `spec` in `key`'s container. See the [module docs](self).
pub(super) async fn stream(
    podman: &Podman,
    key: &WorkspaceKey,
    spec: &StreamSpec,
) -> Result<ProcessStream, RuntimeError> {
    check_env(&spec.env, true)?;
    let mut started = spawn(podman, key, spec)?;
    let marker = tokio::time::timeout(START_TIMEOUT, read_marker(&mut started.stdout)).await;
    let (pid, rest) = match marker {
        Ok((Some(pid), rest)) => (pid, rest),
        Ok((None, seen)) => return Err(start_failure(podman, key, started, seen).await),
        Err(_) => return Err(engine("podman exec", "the process did not start in time")),
    };
    let control = PodmanControl {
        podman: podman.clone(),
        name: key.object_name(),
        pid,
        master: started.master.take(),
    };
    let ends = Ends {
        stdout: started.stdout,
        stderr: started.stderr,
        stdin: started.stdin,
        tty: spec.tty.is_some(),
    };
    Ok(session::spawn(control, started.child, ends, rest))
}

/// Why podman ended before the launcher ran.
async fn start_failure(
    podman: &Podman,
    key: &WorkspaceKey,
    mut started: Started,
    mut seen: Vec<u8>,
) -> RuntimeError {
    if let Some(mut stderr) = started.stderr.take() {
        let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut seen).await;
    }
    let _ = started.child.start_kill();
    let _ = started.child.wait().await;
    match podman.state(key).await {
        Ok(ContainerState::Running) => engine("podman exec", last_line(&seen)),
        Ok(_) => RuntimeError::NotRunning {
            name: key.object_name(),
        },
        Err(e) => e,
    }
}

/// Resizes and signals a `podman exec` process.
struct PodmanControl {
    podman: Podman,
    name: String,
    /// The launcher's pid inside the container.
    pid: u32,
    /// The PTY's master, for window sizes.
    master: Option<OwnedFd>,
}

#[async_trait::async_trait]
impl Control for PodmanControl {
    async fn resize(&self, size: TermSize) {
        if let Some(master) = &self.master {
            let _ = crate::pty::resize(master, size);
        }
    }

    /// A `kill` by a second `podman exec`, as root, of the process and its process group.
    async fn signal(&self, signal: Signal) {
        let script = signal_script(signal, self.pid);
        let mut command = self.podman.command();
        command
            .arg("exec")
            .args(ProcessUser::Root.exec_args())
            .args([self.name.as_str(), "/bin/sh", "-c"])
            .arg(script);
        match self.podman.output(command, None).await {
            Ok(out) if out.status.success() => {}
            // The script always ends in `true`: a failure is podman's (or the container's).
            Ok(out) => tracing::warn!(
                container = %self.name,
                code = ?out.status.code(),
                "cannot signal a streamed process: {}",
                last_line(&out.stderr)
            ),
            Err(e) => {
                tracing::warn!(container = %self.name, error = %e, "cannot signal a streamed process");
            }
        }
    }
}

#[async_trait::async_trait]
impl Waiter for Child {
    async fn wait(&mut self) -> Result<ExitStatus, RuntimeError> {
        Child::wait(self)
            .await
            .map(exit_status)
            .map_err(|e| engine("waiting for podman exec", e.to_string()))
    }

    async fn abandon(&mut self) {
        let _ = self.start_kill();
        let _ = Child::wait(self).await;
    }
}

/// A process's exit status as a shell reports it.
fn exit_status(status: std::process::ExitStatus) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt as _;
    ExitStatus {
        code: status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .unwrap_or(-1),
    }
}

/// Connects to `127.0.0.1:port` inside `key`'s container. See the [module docs](self).
pub(super) async fn connect(
    podman: &Podman,
    key: &WorkspaceKey,
    port: u16,
) -> Result<PortStream, RuntimeError> {
    let namespace = podman.namespaces.open(podman, key).await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A thread of its own: it leaves the host's namespace for good, so it must be no pool's.
    std::thread::Builder::new()
        .name("cordium-netns".to_owned())
        .spawn(move || {
            use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
            let connected =
                move_into_link_name_space(namespace.as_fd(), Some(LinkNameSpaceType::Network))
                    .map_err(std::io::Error::from)
                    .and_then(|()| {
                        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                        std::net::TcpStream::connect_timeout(&address, CONNECT_TIMEOUT)
                    });
            let _ = tx.send(connected);
        })
        .map_err(|e| engine("starting a connection thread", e.to_string()))?;
    let connected = rx
        .await
        .map_err(|_| engine("connecting in the container", "the thread ended"))?;
    let stream = match connected {
        Ok(stream) => stream,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(RuntimeError::PortClosed {
                name: key.object_name(),
                port,
            });
        }
        Err(e) => return Err(engine("connecting in the container", e.to_string())),
    };
    let stream = stream
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpStream::from_std(stream))
        .map_err(|e| engine("connecting in the container", e.to_string()))?;
    Ok(Box::pin(stream))
}

/// Sends what `pipe` yields to `tx` until either ends.
pub(super) async fn forward(
    mut pipe: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
    tx: tokio::sync::mpsc::Sender<Result<Vec<u8>, RuntimeError>>,
) {
    let mut buf = vec![0_u8; 8192];
    loop {
        let read = tokio::select! {
            read = pipe.read(&mut buf) => read,
            () = tx.closed() => return,
        };
        match read {
            Ok(0) => return,
            Ok(n) => {
                if tx.send(Ok(buf[..n].to_vec())).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx
                    .send(Err(super::engine("podman logs", e.to_string())))
                    .await;
                return;
            }
        }
    }
}
