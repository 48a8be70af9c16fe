//! Connections on an open port: silent connections are closed after the handshake deadline,
//! caps close new connections at once, and health keeps answering throughout.

use crate::connect;
use cordium_server::connections::ConnectionLimits;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpSocket, TcpStream};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A server on 127.0.0.1 under `limits`, and its address.
async fn serve(limits: ConnectionLimits) -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("data dir");
    let api = cordium_server::server::open(dir.path(), None)
        .await
        .expect("open the server");
    let listener = cordium_server::server::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(cordium_server::server::serve_with(
        api,
        listener,
        limits,
        std::future::pending(),
    ));
    (addr, dir)
}

/// A TCP connection to `server` from the loopback address `from` (127.0.0.x), which sends
/// nothing.
async fn silent(from: [u8; 4], server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback address");
    socket.connect(server).await.expect("connect")
}

/// Whether the server closed `stream` within `within` (reads end, or fail).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // The server may write its own SETTINGS before giving up on us.
            Ok(Ok(_)) => {}
        }
    }
}

async fn healthy(addr: SocketAddr) {
    let mut health = HealthClient::new(connect(addr).await);
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        health.check(HealthCheckRequest::default()),
    )
    .await
    .expect("health answers within 5 s")
    .expect("health check");
    assert_eq!(answer.into_inner().status, ServingStatus::Serving as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_silent_connections_leave_health_answering_and_are_closed() {
    let (addr, _dir) = serve(ConnectionLimits {
        handshake_timeout: Duration::from_secs(2),
        ..ConnectionLimits::default()
    })
    .await;
    // 2,000 connections from four addresses (500 each, under the per-address cap).
    let mut idle = Vec::new();
    for i in 0..2_000u16 {
        let last = 2 + u8::try_from(i % 4).expect("small");
        idle.push(silent([127, 0, 0, last], addr).await);
    }
    healthy(addr).await;
    // None of them spoke HTTP/2: each is closed at the handshake deadline (all watched at
    // once, so a failure takes seconds, not 2,000 timeouts).
    let total = idle.len();
    let mut watching = tokio::task::JoinSet::new();
    for mut stream in idle {
        watching.spawn(async move { closed_within(&mut stream, Duration::from_secs(8)).await });
    }
    let mut closed = 0;
    while let Some(was_closed) = watching.join_next().await {
        closed += usize::from(was_closed.expect("watcher"));
    }
    assert_eq!(closed, total, "every silent connection is closed");
    healthy(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_caps_new_connections_are_closed_at_once() {
    let (addr, _dir) = serve(ConnectionLimits {
        max_connections: 40,
        max_connections_per_peer: 10,
        handshake_timeout: Duration::from_secs(60),
        ..ConnectionLimits::default()
    })
    .await;
    // One address may hold 10: the 11th is closed at once, long before the handshake deadline.
    let mut held: Vec<TcpStream> = Vec::new();
    for _ in 0..10 {
        held.push(silent([127, 0, 0, 2], addr).await);
    }
    let mut eleventh = silent([127, 0, 0, 2], addr).await;
    assert!(
        closed_within(&mut eleventh, Duration::from_secs(5)).await,
        "over the per-address cap"
    );
    // Another address still gets in, and health (from 127.0.0.1) answers.
    healthy(addr).await;
    // 40 in all: once three more addresses hold 10 each (one of those slots is health's
    // own connection's until it closed, so fill to the cap), the next one is closed at once.
    for last in 3..6 {
        for _ in 0..10 {
            held.push(silent([127, 0, 0, last], addr).await);
        }
    }
    let mut over = silent([127, 0, 0, 9], addr).await;
    assert!(
        closed_within(&mut over, Duration::from_secs(5)).await,
        "over the overall cap"
    );
    // Closing some frees their places.
    held.truncate(20);
    tokio::time::sleep(Duration::from_millis(200)).await;
    healthy(addr).await;
}

/// The web console under `limits`, on a loopback port.
async fn serve_console(limits: ConnectionLimits) -> (SocketAddr, tempfile::TempDir) {
    serve_console_with(limits, cordium_server::console::ConsoleOptions::default()).await
}

/// The web console under `limits` with `options`, on a loopback port.
async fn serve_console_with(
    limits: ConnectionLimits,
    options: cordium_server::console::ConsoleOptions,
) -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("data dir");
    let api = cordium_server::server::open(dir.path(), None)
        .await
        .expect("open the server");
    let addr = cordium_server::console::spawn(
        api,
        "127.0.0.1:0".parse().expect("addr"),
        limits,
        options,
        std::future::pending(),
    )
    .await
    .expect("the console");
    (addr, dir)
}

/// A console connection whose peer trickles a request's head, a byte now and then, is closed
/// once the head deadline passes (each byte used to push the idle deadline back, so one address
/// could hold its connections for minutes); a request sent whole is answered on a connection
/// kept alive, and a connection kept alive with no request closes after the same deadline.
#[tokio::test]
async fn a_console_request_head_must_arrive_within_the_deadline() {
    use tokio::io::AsyncWriteExt as _;
    let deadline = Duration::from_secs(1);
    let (addr, _dir) = serve_console(ConnectionLimits {
        handshake_timeout: deadline,
        ..ConnectionLimits::default()
    })
    .await;

    let mut trickling = TcpStream::connect(addr).await.expect("connect");
    trickling
        .write_all(b"GET /api/me HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if trickling.write_all(b"X").await.is_err() {
                return;
            }
        }
    };
    let ended = tokio::time::timeout(Duration::from_secs(6), trickle).await;
    assert!(
        ended.is_ok(),
        "the trickling connection is closed within a few deadlines"
    );

    let mut kept = TcpStream::connect(addr).await.expect("connect");
    for _ in 0..2 {
        kept.write_all(b"GET /api/me HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let answer = one_answer(&mut kept).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        // Less than the deadline between requests: the connection stays.
        tokio::time::sleep(deadline / 2).await;
    }
    assert!(
        closed_within(&mut kept, deadline * 4).await,
        "a kept-alive connection with no request closes"
    );
}

/// Reads one HTTP/1.1 answer with a `content-length` from `stream`, head and body.
async fn one_answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0_u8; 512];
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")?
                        .parse()
                        .ok()
                })
                .expect("a content-length");
            if body.len() >= length {
                return text;
            }
        }
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "the answer is whole: {text}");
        answer.extend_from_slice(&buf[..n]);
    }
}

/// A console request body must arrive whole within the body deadline, however slowly it
/// trickles in: past it the answer is 408 and the connection closes (before, a sign-in body
/// sent a byte every 20 s held its connection for minutes, no sign-in needed); a body past the
/// size limit is 413.
#[tokio::test]
async fn a_console_request_body_must_arrive_in_time_and_within_its_size() {
    use tokio::io::AsyncWriteExt as _;
    let (addr, _dir) = serve_console_with(
        ConnectionLimits::default(),
        cordium_server::console::ConsoleOptions {
            body_timeout: Duration::from_secs(1),
            ..Default::default()
        },
    )
    .await;

    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(
        b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .expect("write");
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow.write_all(b" ").await.is_err() {
                return;
            }
        }
    };
    // The answer comes while the body still trickles.
    let _ = tokio::time::timeout(Duration::from_millis(1500), trickle).await;
    let answer = tokio::time::timeout(Duration::from_secs(5), one_answer(&mut slow))
        .await
        .expect("an answer within a few seconds");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive in time"), "{answer}");
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)).await,
        "and the connection closes"
    );

    let mut large = TcpStream::connect(addr).await.expect("connect");
    let size = cordium_server::console::MAX_BODY + 1;
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    );
    large.write_all(head.as_bytes()).await.expect("write");
    // The server stops reading past the limit: the rest may not be taken.
    let _ = large.write_all(&vec![b' '; size]).await;
    let answer = one_answer(&mut large).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than 1024 KiB"), "{answer}");

    // A body announced past the limit is refused at once, none of it sent (not held open
    // until the body deadline).
    let mut announced = TcpStream::connect(addr).await.expect("connect");
    announced
        .write_all(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999999\r\n\r\n")
        .await
        .expect("write");
    let answer = tokio::time::timeout(Duration::from_millis(500), one_answer(&mut announced))
        .await
        .expect("an answer before the body deadline");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}
