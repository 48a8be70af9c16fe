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
