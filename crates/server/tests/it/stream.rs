//! The stream core on real podman ([`Runtime::stream`] and [`Runtime::connect`]): pipes and
//! exit codes, a terminal that follows resizes and delivers Ctrl-C, signals, an abandoned
//! session's process killed, ports on the container's loopback.

use cordium_provisioner::VolumeSource;
use cordium_provisioner::podman::Podman;
use cordium_provisioner::runtime::{
    ContainerSpec, ProcessStream, Resources, Runtime, Signal, StreamInput, StreamOutput,
    StreamSpec, TermSize, WorkspaceKey,
};
use cordium_testkit::lab;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running busybox container of its own, removed when dropped.
pub(crate) struct Container {
    pub(crate) podman: Podman,
    pub(crate) key: WorkspaceKey,
}

impl Container {
    pub(crate) async fn start() -> Self {
        let podman = Podman::new(lab().podman_options()).expect("podman");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos();
        let key = WorkspaceKey::new("stream", format!("st{}x{nanos}", std::process::id()));
        let spec = ContainerSpec {
            key: key.clone(),
            image: lab().image.clone(),
            entrypoint: None,
            cmd: None,
            env: Vec::new(),
            resources: Resources::default(),
            add_capabilities: Vec::new(),
            drop_capabilities: Vec::new(),
            ports: Vec::new(),
            volume: VolumeSource::New,
            snapshot: None,
        };
        podman
            .pull_image(&key, &spec.image, None)
            .await
            .expect("pull");
        podman.start(&spec).await.expect("start");
        Self { podman, key }
    }

    pub(crate) async fn stream(&self, spec: &StreamSpec) -> ProcessStream {
        self.podman.stream(&self.key, spec).await.expect("stream")
    }

    /// Runs a script and returns its stdout.
    pub(crate) async fn sh(&self, script: &str) -> String {
        let mut session = self.stream(&command(&["sh", "-c", script])).await;
        drop(session.input);
        let (out, _, code) = collect(&mut session.output).await;
        assert_eq!(code, 0, "{script}");
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = lab()
            .podman()
            .args(["rm", "--force", "-t", "0", &self.key.object_name()])
            .output();
        let _ = lab()
            .podman()
            .args(["volume", "rm", "--force"])
            .arg(format!("{}-workspace", self.key.object_name()))
            .output();
        let _ = lab()
            .podman()
            .args(["secret", "rm"])
            .arg(format!("{}-env", self.key.object_name()))
            .output();
    }
}

pub(crate) fn command(argv: &[&str]) -> StreamSpec {
    StreamSpec::command(argv.iter().map(|a| (*a).to_owned()).collect())
}

/// Stdout, stderr and the exit code of a session, read to its end.
pub(crate) async fn collect(
    output: &mut tokio::sync::mpsc::Receiver<StreamOutput>,
) -> (Vec<u8>, Vec<u8>, i32) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut code = None;
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(60), output.recv())
        .await
        .expect("output in time")
    {
        match frame {
            StreamOutput::Stdout(data) => out.extend(data),
            StreamOutput::Stderr(data) => err.extend(data),
            StreamOutput::Exit(status) => code = Some(status.code),
            StreamOutput::Failed(e) => panic!("the session failed: {e}"),
        }
    }
    (out, err, code.expect("an exit status last"))
}

/// Reads terminal output until it contains `needle`; returns everything read.
pub(crate) async fn read_until(
    output: &mut tokio::sync::mpsc::Receiver<StreamOutput>,
    needle: &str,
) -> String {
    let mut seen = String::new();
    while !seen.contains(needle) {
        match tokio::time::timeout(Duration::from_secs(30), output.recv()).await {
            Ok(Some(StreamOutput::Stdout(data))) => seen.push_str(&String::from_utf8_lossy(&data)),
            other => panic!("waiting for {needle:?}, got {other:?} after {seen:?}"),
        }
    }
    seen
}

async fn send(session: &ProcessStream, input: StreamInput) {
    session.input.send(input).await.expect("input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipes_carry_stdin_stdout_stderr_and_the_exit_code() {
    let c = Container::start().await;
    let mut spec = command(&["sh", "-c", "cat; echo \"err $X\" >&2; pwd; exit 3"]);
    spec.env = vec![(
        "X".to_owned(),
        cordium_provisioner::runtime::ResolvedValue::Literal("it's".to_owned()),
    )];
    spec.working_dir = Some("/tmp".to_owned());
    let mut session = c.stream(&spec).await;
    send(&session, StreamInput::Stdin(b"hello ".to_vec())).await;
    send(&session, StreamInput::Stdin(b"world\n".to_vec())).await;
    send(&session, StreamInput::CloseStdin).await;
    let (out, err, code) = collect(&mut session.output).await;
    assert_eq!(String::from_utf8_lossy(&out), "hello world\n/tmp\n");
    assert_eq!(String::from_utf8_lossy(&err), "err it's\n");
    assert_eq!(code, 3);

    // A signal ends a process that ignores its stdin; 128 + 15, as a shell reports it.
    let mut session = c.stream(&command(&["sleep", "300"])).await;
    send(&session, StreamInput::Signal(Signal::Terminate)).await;
    let (_, _, code) = collect(&mut session.output).await;
    assert_eq!(code, 143);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_follows_resizes_and_delivers_ctrl_c() {
    let c = Container::start().await;
    let mut session = c
        .stream(&StreamSpec::shell(TermSize { cols: 80, rows: 24 }))
        .await;
    send(&session, StreamInput::Stdin(b"stty size\n".to_vec())).await;
    read_until(&mut session.output, "24 80").await;
    send(
        &session,
        StreamInput::Resize(TermSize {
            cols: 132,
            rows: 50,
        }),
    )
    .await;
    // The resize travels through podman's SIGWINCH handler: ask until it has arrived.
    let mut resized = false;
    for _ in 0..50 {
        send(
            &session,
            StreamInput::Stdin(b"stty size; echo end-$((6*7))\n".to_vec()),
        )
        .await;
        let seen = read_until(&mut session.output, "end-42").await;
        if seen.contains("50 132") {
            resized = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resized, "stty size never followed the resize");
    send(
        &session,
        StreamInput::Stdin(b"sleep 300; echo sl''ept\n".to_vec()),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(&session, StreamInput::Stdin(vec![3])).await;
    send(
        &session,
        StreamInput::Stdin(b"echo after-$((1+1))\n".to_vec()),
    )
    .await;
    let seen = read_until(&mut session.output, "after-2").await;
    assert!(!seen.contains("slept"), "{seen}");
    send(&session, StreamInput::Stdin(b"exit 7\n".to_vec())).await;
    let (_, err, code) = collect(&mut session.output).await;
    assert!(err.is_empty(), "a terminal has no stderr");
    assert_eq!(code, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_session_is_killed_and_a_stopped_container_refused() {
    let c = Container::start().await;
    let mut session = c
        .stream(&command(&["sh", "-c", "echo started; exec sleep 313"]))
        .await;
    read_until(&mut session.output, "started").await;
    drop(session);
    let mut gone = false;
    for _ in 0..100 {
        if !c.sh("ps").await.contains("sleep 313") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the abandoned process still runs");

    let err = c
        .podman
        .stream(
            &WorkspaceKey::new("stream", "no-such-workspace"),
            &command(&["true"]),
        )
        .await
        .expect_err("no container");
    assert!(
        matches!(
            err,
            cordium_provisioner::runtime::RuntimeError::NotRunning { .. }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_on_the_container_loopback_are_reached() {
    let c = Container::start().await;
    c.sh(
        "mkdir -p /www && echo hi-from-httpd > /www/index.html && httpd -p 127.0.0.1:8080 -h /www",
    )
    .await;
    let mut conn = c.podman.connect(&c.key, 8080).await.expect("connect");
    conn.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.expect("read");
    assert!(answer.contains("hi-from-httpd"), "{answer}");
    let err = c.podman.connect(&c.key, 8081).await.err().expect("closed");
    assert!(
        matches!(
            err,
            cordium_provisioner::runtime::RuntimeError::PortClosed { port: 8081, .. }
        ),
        "{err:?}"
    );
}
