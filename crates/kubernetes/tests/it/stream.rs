//! Streamed processes on Kubernetes against a fake API server on loopback: tower-test cannot
//! mock the websocket upgrade an exec needs, so this server speaks real HTTP/1.1 (a running
//! Pod for reads) and real websockets (`v4.channel.k8s.io`) for exec, acting as the
//! container: it prints the launcher's pid line, reads the environment line, echoes stdin,
//! answers resizes with the new size, and ends with exit code 7.

use crate::support::{self, SECRET_VALUES, options};
use cordium_kubernetes::KubernetesRuntime;
use cordium_provisioner::runtime::{
    ResolvedValue, Runtime, SecretValue, Signal, StreamInput, StreamOutput, StreamSpec, TermSize,
};
use futures::{SinkExt as _, StreamExt as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// What the fake API server saw.
#[derive(Debug, Default)]
struct Seen {
    /// Every exec's URL (path and query).
    execs: Vec<String>,
    /// The resize frames (channel 4), as sent.
    resizes: Vec<String>,
    /// Everything written to the first exec's stdin (channel 0).
    stdin: Vec<u8>,
}

fn running_pod() -> String {
    serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "cdm-k3x9", "namespace": "cordium"},
        "spec": {"containers": [{"name": "workspace", "image": "x"}]},
        "status": {"phase": "Running", "containerStatuses": [{
            "name": "workspace", "image": "x", "imageID": "", "ready": true, "restartCount": 0,
            "state": {"running": {"startedAt": "2026-11-28T12:00:00Z"}}}]}})
    .to_string()
}

async fn serve(listener: TcpListener, seen: Arc<Mutex<Seen>>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(connection(socket, Arc::clone(&seen)));
    }
}

async fn connection(mut socket: TcpStream, seen: Arc<Mutex<Seen>>) {
    let mut head = vec![0_u8; 8192];
    let n = socket.peek(&mut head).await.expect("peek");
    let text = String::from_utf8_lossy(&head[..n]).into_owned();
    if !text.contains("/exec?") {
        // A read of the Pod: answer it and close.
        let mut request = Vec::new();
        while !request.ends_with(b"\r\n\r\n") {
            let mut byte = [0_u8; 1];
            if socket.read(&mut byte).await.expect("read") == 0 {
                return;
            }
            request.push(byte[0]);
        }
        let body = running_pod();
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(reply.as_bytes()).await.expect("reply");
        return;
    }
    let record = Arc::clone(&seen);
    #[allow(clippy::result_large_err, reason = "tungstenite's callback type")]
    let callback = move |request: &Request, mut response: Response| {
        record
            .lock()
            .expect("lock")
            .execs
            .push(request.uri().to_string());
        response.headers_mut().insert(
            "sec-websocket-protocol",
            "v4.channel.k8s.io".parse().expect("header"),
        );
        Ok(response)
    };
    let mut ws = tokio_tungstenite::accept_hdr_async(socket, callback)
        .await
        .expect("websocket");
    let first = seen.lock().expect("lock").execs.len() == 1;
    if !first {
        // The signal's exec: no streams; it succeeds at once.
        let status = br#"{"status":"Success"}"#;
        let _ = ws
            .send(Message::binary([&[3_u8][..], status].concat()))
            .await;
        let _ = ws.close(None).await;
        return;
    }
    let stdout = |text: &str| Message::binary([&[1_u8][..], text.as_bytes()].concat());
    ws.send(stdout("cordium-pid:42\r\n"))
        .await
        .expect("pid line");
    let mut line = Vec::new();
    while let Some(Ok(message)) = ws.next().await {
        let Message::Binary(data) = message else {
            continue;
        };
        let (channel, payload) = (data[0], &data[1..]);
        match channel {
            0 => {
                seen.lock().expect("lock").stdin.extend_from_slice(payload);
                line.extend_from_slice(payload);
                while let Some(end) = line.iter().position(|&b| b == b'\r' || b == b'\n') {
                    let typed: Vec<u8> = line.drain(..=end).collect();
                    let typed = String::from_utf8_lossy(&typed).trim().to_owned();
                    if typed == "exit" {
                        let status = r#"{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}}"#;
                        let frame = [&[3_u8][..], status.as_bytes()].concat();
                        ws.send(Message::binary(frame)).await.expect("status");
                        let _ = ws.close(None).await;
                        return;
                    }
                    if !typed.starts_with(':') {
                        ws.send(stdout(&format!("echo:{typed}\r\n")))
                            .await
                            .expect("echo");
                    }
                }
            }
            4 => {
                let size = String::from_utf8_lossy(payload).into_owned();
                let parsed: serde_json::Value = serde_json::from_str(&size).expect("JSON");
                seen.lock().expect("lock").resizes.push(size);
                let text = format!("size {} {}\r\n", parsed["Height"], parsed["Width"]);
                ws.send(stdout(&text)).await.expect("size");
            }
            _ => {}
        }
    }
}

async fn read_until(output: &mut tokio::sync::mpsc::Receiver<StreamOutput>, needle: &str) {
    let mut seen = String::new();
    while !seen.contains(needle) {
        match tokio::time::timeout(Duration::from_secs(10), output.recv()).await {
            Ok(Some(StreamOutput::Stdout(data))) => seen.push_str(&String::from_utf8_lossy(&data)),
            other => panic!("waiting for {needle:?}, got {other:?} after {seen:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_session_sends_resizes_stdin_and_signals_and_gets_the_exit_code() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Seen::default()));
    tokio::spawn(serve(listener, Arc::clone(&seen)));
    let config = kube::Config::new(url.parse().expect("url"));
    let client = kube::Client::try_from(config).expect("client");
    let runtime = KubernetesRuntime::new(client, options());

    let mut spec = StreamSpec::shell(TermSize { cols: 80, rows: 24 });
    spec.env = vec![(
        "TOKEN".to_owned(),
        ResolvedValue::Secret(SecretValue::new(SECRET_VALUES[0])),
    )];
    let key = support::persistent().key;
    let mut session = runtime.stream(&key, &spec).await.expect("a session");
    read_until(&mut session.output, "size 24 80").await;
    session
        .input
        .send(StreamInput::Stdin(b"hello\r".to_vec()))
        .await
        .expect("stdin");
    read_until(&mut session.output, "echo:hello").await;
    session
        .input
        .send(StreamInput::Resize(TermSize {
            cols: 132,
            rows: 50,
        }))
        .await
        .expect("resize");
    read_until(&mut session.output, "size 50 132").await;
    session
        .input
        .send(StreamInput::Signal(Signal::Interrupt))
        .await
        .expect("signal");
    session
        .input
        .send(StreamInput::Stdin(b"exit\r".to_vec()))
        .await
        .expect("stdin");
    let mut code = None;
    while let Some(frame) = session.output.recv().await {
        if let StreamOutput::Exit(status) = frame {
            code = Some(status.code);
        }
    }
    assert_eq!(code, Some(7));

    let seen = seen.lock().expect("lock");
    let exec = &seen.execs[0];
    assert!(
        exec.starts_with("/api/v1/namespaces/cordium/pods/cdm-k3x9/exec?"),
        "{exec}"
    );
    for part in [
        "tty=true",
        "stdin=true",
        "stdout=true",
        "container=workspace",
    ] {
        assert!(exec.contains(part), "{part} missing from {exec}");
    }
    assert!(
        !exec.contains("stderr=true"),
        "a terminal has no stderr: {exec}"
    );
    assert!(
        !exec.contains(SECRET_VALUES[0]),
        "the secret is in the URL: {exec}"
    );
    assert_eq!(
        seen.resizes,
        [
            r#"{"Width":80,"Height":24}"#,
            r#"{"Width":132,"Height":50}"#
        ]
    );
    let stdin = String::from_utf8_lossy(&seen.stdin);
    assert!(stdin.starts_with(":; TOKEN=$(printf"), "{stdin}");
    assert!(stdin.ends_with("\nhello\rexit\r"), "{stdin}");
    let signal = seen.execs.get(1).expect("the signal's exec");
    assert!(signal.contains("kill"), "{signal}");
    assert!(signal.contains("INT"), "{signal}");
}
