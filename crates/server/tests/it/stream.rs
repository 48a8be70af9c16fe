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
            read_only: false,
            mounts: Vec::new(),
            egress: Default::default(),
            recipe: Default::default(),
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

/// Serves `page` with busybox httpd on the container's loopback port 8080, and reads it back
/// through a port connection.
async fn serve_and_fetch(c: &Container, page: &str) -> String {
    c.sh(&format!(
        "mkdir -p /tmp/www && echo {page} > /tmp/www/index.html && httpd -p 127.0.0.1:8080 -h /tmp/www"
    ))
    .await;
    let mut conn = c.podman.connect(&c.key, 8080).await.expect("connect");
    conn.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.expect("read");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_on_the_container_loopback_are_reached() {
    let c = Container::start().await;
    let answer = serve_and_fetch(&c, "hi-from-httpd").await;
    assert!(answer.contains("hi-from-httpd"), "{answer}");
    let err = c.podman.connect(&c.key, 8081).await.err().expect("closed");
    assert!(
        matches!(
            err,
            cordium_provisioner::runtime::RuntimeError::PortClosed { port: 8081, .. }
        ),
        "{err:?}"
    );
    // The backend remembers the namespace it entered; a container run again has another
    // process and another namespace, and the next connection enters the new one.
    let restarted = lab()
        .podman()
        .args(["restart", "-t", "0", &c.key.object_name()])
        .output()
        .expect("podman restart");
    assert!(restarted.status.success(), "{restarted:?}");
    let answer = serve_and_fetch(&c, "hi-after-restart").await;
    assert!(answer.contains("hi-after-restart"), "{answer}");
}

/// An ExecStream call: the request sender (the `open` frame already in it) and the answer.
pub(crate) async fn exec_stream(
    client: &crate::Client,
    name: &str,
    command: &[&str],
) -> (
    tokio::sync::mpsc::Sender<crate::pb::ExecStreamRequest>,
    Result<tonic::Streaming<crate::pb::ExecStreamResponse>, tonic::Status>,
) {
    use crate::pb::exec_stream_request::Frame;
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let open = crate::pb::ExecStreamOpen {
        name: name.to_owned(),
        command: command.iter().map(|c| (*c).to_owned()).collect(),
        ..Default::default()
    };
    tx.send(crate::pb::ExecStreamRequest {
        frame: Some(Frame::Open(open)),
    })
    .await
    .expect("open");
    let answer = client
        .clone()
        .exec_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .map(tonic::Response::into_inner);
    (tx, answer)
}

/// Reads a session to its end: stdout, and the exit code or the status that ended it.
async fn session_end(
    stream: &mut tonic::Streaming<crate::pb::ExecStreamResponse>,
) -> (Vec<u8>, Result<i32, tonic::Status>) {
    use crate::pb::exec_stream_response::Frame;
    let mut out = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(60), stream.message())
            .await
            .expect("the session ends in time");
        match next {
            Ok(Some(message)) => match message.frame {
                Some(Frame::Stdout(data)) => out.extend(data),
                Some(Frame::ExitCode(code)) => return (out, Ok(code)),
                _ => {}
            },
            Ok(None) => panic!("the session ended without an exit code"),
            Err(status) => return (out, Err(status)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_stream_is_for_the_owner_with_deadlines_a_cap_and_the_credential_checked() {
    use crate::pb::exec_stream_request::Frame;
    use cordium_server::service::StreamLimits;
    let limits = StreamLimits {
        idle: Duration::from_secs(3),
        sessions_per_user: 2,
        ..StreamLimits::default()
    };
    let env =
        crate::podman::PodmanEnv::configured("streamer", |api| api.with_stream_limits(limits))
            .await;
    let name = env
        .create(serde_json::json!({"image": {"registry": {"url": lab().image}}}))
        .await;
    env.start(&name).await;

    // The owner: stdin in, stdout and the exit code out.
    let (tx, answer) = exec_stream(&env.user, &name, &["sh", "-c", "cat; exit 4"]).await;
    let mut stream = answer.expect("the owner may");
    for frame in [
        Frame::Stdin(b"abc".to_vec()),
        Frame::CloseStdin(crate::pb::Empty {}),
    ] {
        tx.send(crate::pb::ExecStreamRequest { frame: Some(frame) })
            .await
            .expect("sent");
    }
    let (out, code) = session_end(&mut stream).await;
    assert_eq!(
        (out.as_slice(), code.expect("an exit code")),
        (&b"abc"[..], 4)
    );
    // Half-closing the request stream ends stdin too (probe 7: `cat` waited for the idle
    // deadline).
    let (tx, answer) = exec_stream(&env.user, &name, &["sh", "-c", "cat; exit 5"]).await;
    let mut stream = answer.expect("the owner may");
    tx.send(crate::pb::ExecStreamRequest {
        frame: Some(Frame::Stdin(b"xyz".to_vec())),
    })
    .await
    .expect("sent");
    drop(tx);
    let (out, code) = session_end(&mut stream).await;
    assert_eq!(
        (
            out.as_slice(),
            code.expect("an exit code, not the idle deadline")
        ),
        (&b"xyz"[..], 5)
    );

    // Someone else: the same NotFound as for a workspace that does not exist.
    let other = env.server.client(&env.server.user("stranger", false).await);
    let status = exec_stream(&other, &name, &["true"])
        .await
        .1
        .expect_err("refused");
    let missing = exec_stream(&env.user, "nothere", &["true"])
        .await
        .1
        .expect_err("missing");
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
    assert_eq!(
        status.message().replace(&name, "X"),
        missing.message().replace("nothere", "X")
    );

    // At most two sessions at once; the third is refused.
    let (_a, first) = exec_stream(&env.user, &name, &["sleep", "300"]).await;
    let (_b, second) = exec_stream(&env.user, &name, &["sleep", "300"]).await;
    let (_c, third) = exec_stream(&env.user, &name, &["sleep", "300"]).await;
    assert_eq!(
        third.expect_err("over the cap").code(),
        tonic::Code::ResourceExhausted
    );

    // Quiet sessions end at the idle deadline (and free their places).
    for session in [first, second] {
        let (_, ended) = session_end(&mut session.expect("opened")).await;
        assert_eq!(
            ended.expect_err("idle").code(),
            tonic::Code::DeadlineExceeded
        );
    }
    drop((_a, _b, _c));

    // A session whose credential is rotated away ends UNAUTHENTICATED (checked every 5 s);
    // stdin keeps it from idling meanwhile.
    let (tx, answer) = exec_stream(&env.user, &name, &["sh", "-c", "cat >/dev/null"]).await;
    let mut live = answer.expect("places are free again");
    let new_hash =
        cordium_server::crypto::hash_token(&cordium_server::crypto::new_token().expect("token"));
    env.server
        .store
        .rotate_token(&env.user_name, &new_hash)
        .await
        .expect("rotated");
    let keep_busy = tokio::spawn(async move {
        loop {
            let frame = Frame::Stdin(b"x".to_vec());
            if tx
                .send(crate::pb::ExecStreamRequest { frame: Some(frame) })
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let (_, ended) = session_end(&mut live).await;
    keep_busy.abort();
    assert_eq!(
        ended.expect_err("revoked").code(),
        tonic::Code::Unauthenticated
    );
    // The user's credential is gone: the container is removed directly.
    let container = env.container(&name);
    let _ = env
        .podman()
        .args(["rm", "--force", "-t", "0", &container])
        .output();
    let _ = env
        .podman()
        .args(["volume", "rm", "--force", &format!("{container}-workspace")])
        .output();
    let _ = env
        .podman()
        .args(["secret", "rm", &format!("{container}-env")])
        .output();
}
