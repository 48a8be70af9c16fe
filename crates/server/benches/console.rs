//! Web console bench: how fast a workspace change reaches an open page's event stream, and
//! what 500 open event streams cost the server, against the gRPC watch as the baseline
//! measured in the same run.
//!
//! ```text
//! cargo bench -p cordium-server --bench console    # CHANGES=100 STREAMS=500 HOLD_SECS=60
//! ```
//!
//! - **Change to page**: 100 UpdateWorkspace calls (a new displayName; a state change takes
//!   the same path: one store write with its watch event), each timed from just before the
//!   write until the console's `GET /api/events` stream (what the page's EventSource reads)
//!   delivers it, and until a gRPC WatchWorkspace delivers it. Median and p90 of each, and the
//!   ratio. Target: median under 200 ms.
//! - **500 streams**: 500 event streams held open for HOLD_SECS (16 users, up to 32 streams
//!   each: the per-user watch cap); the server's RSS (this process: the server runs in it)
//!   before and after, per stream; then one change per user, and every stream must deliver it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "bench"
)]

mod support;

use cordium_server::connections::ConnectionLimits;
use cordium_server::console::{self, ConsoleOptions};
use cordium_server::crypto::{hash_token, new_token};
use cordium_server::pb;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::{Auth, Main};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// Signs in with `token`; returns the session's request headers (its cookie and its token,
/// which every `/api` request carries), `\r\n`-separated.
async fn sign_in(console: SocketAddr, token: &str) -> String {
    let body = format!("{{\"token\":\"{token}\"}}");
    let mut tcp = TcpStream::connect(console).await.expect("connect");
    let request = format!(
        "POST /api/login HTTP/1.1\r\nHost: {console}\r\nOrigin: http://{console}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut lines = BufReader::new(tcp).lines();
    let (mut cookie, mut csrf) = (None, None);
    while let Some(line) = lines.next_line().await.expect("read") {
        if let Some(set) = line.strip_prefix("set-cookie: ") {
            cookie = set.split(';').next().map(str::to_owned);
        } else if let Ok(body) = serde_json::from_str::<serde_json::Value>(&line) {
            csrf = body["csrf"].as_str().map(str::to_owned);
        }
    }
    match (cookie, csrf) {
        (Some(cookie), Some(csrf)) => format!("Cookie: {cookie}\r\nX-CSRF-Token: {csrf}"),
        other => panic!("no session: {other:?}"),
    }
}

/// An open `GET /api/events` stream, its headers read.
async fn events(console: SocketAddr, session: &str) -> tokio::io::Lines<BufReader<TcpStream>> {
    let mut tcp = TcpStream::connect(console).await.expect("connect");
    let request = format!(
        "GET /api/events HTTP/1.1\r\nHost: {console}\r\n{session}\r\nAccept: text/event-stream\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    // A small reader: the client's buffers live in this process too, beside the server's.
    let mut lines = BufReader::with_capacity(1024, tcp).lines();
    let status = lines.next_line().await.expect("read").expect("status");
    assert!(status.contains("200"), "{status}");
    while let Some(line) = lines.next_line().await.expect("read") {
        if line.is_empty() {
            break;
        }
    }
    lines
}

/// Reads until a `data:` line containing `needle`.
async fn until_data(lines: &mut tokio::io::Lines<BufReader<TcpStream>>, needle: &str) {
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("an event in time")
            .expect("read")
            .expect("open");
        if line.starts_with("data:") && line.contains(needle) {
            return;
        }
    }
}

fn stats(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    (ms[ms.len() / 2], ms[ms.len() * 9 / 10])
}

async fn rename(client: &Main, ws: &pb::Workspace, display: &str) {
    let mut ws = ws.clone();
    if let Some(m) = ws.metadata.as_mut() {
        m.display_name = display.to_owned();
        m.resource_version = 0;
    }
    ws.status = None;
    client.clone().update_workspace(ws).await.expect("update");
}

async fn create(client: &Main) -> pb::Workspace {
    client
        .clone()
        .create_workspace(pb::Workspace {
            metadata: None,
            spec: Some(pb::Spec::default()),
            status: None,
        })
        .await
        .expect("create")
        .into_inner()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("dir");
    let api = cordium_server::server::open(dir.path(), None)
        .await
        .expect("open");
    // The console as `serve --http-listen` runs it, on a free loopback port.
    let (limits, options) = (ConnectionLimits::default(), ConsoleOptions::default());
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let pending = std::future::pending();
    let console = console::spawn(api.clone(), loopback, limits, options, pending).await;
    let console = console.expect("the console");
    let store = api.store().clone();
    let (channel, token) = support::serve(api, false).await;
    let client: Main = pb::main_service_client::MainServiceClient::with_interceptor(
        channel.clone(),
        Auth::bearer(&token),
    );

    // Change to page.
    let changes = env_number("CHANGES", 100);
    let ws = create(&client).await;
    let cookie = sign_in(console, &token).await;
    let mut page = events(console, &cookie).await;
    let mut watch = client
        .clone()
        .watch_workspace(pb::WatchWorkspaceRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let (mut sse_ms, mut grpc_ms) = (Vec::new(), Vec::new());
    for i in 0..changes {
        let marker = format!("change-{i}-mark");
        let started = Instant::now();
        rename(&client, &ws, &marker).await;
        let (sse, grpc) = tokio::join!(
            async {
                until_data(&mut page, &marker).await;
                started.elapsed()
            },
            async {
                loop {
                    let event = watch.message().await.expect("watch").expect("open");
                    if format!("{event:?}").contains(&marker) {
                        return started.elapsed();
                    }
                }
            }
        );
        sse_ms.push(sse.as_secs_f64() * 1e3);
        grpc_ms.push(grpc.as_secs_f64() * 1e3);
    }
    let (sse_median, sse_p90) = stats(sse_ms);
    let (grpc_median, grpc_p90) = stats(grpc_ms);
    println!(
        "change to page ({changes} changes): console SSE median {sse_median:.1} ms (p90 {sse_p90:.1}), \
         gRPC watch median {grpc_median:.1} ms (p90 {grpc_p90:.1}); ratio {:.2}; target median < 200 ms: {}",
        sse_median / grpc_median.max(0.001),
        if sse_median < 200.0 { "met" } else { "MISSED" }
    );
    drop(page);
    drop(watch);

    // 500 streams held open.
    let streams = env_number("STREAMS", 500) as usize;
    let hold = Duration::from_secs(env_number("HOLD_SECS", 60));
    let per_user = cordium_server::service::MAX_WATCHES_PER_USER;
    let users = streams.div_ceil(per_user);
    let mut sessions = Vec::new();
    for u in 0..users {
        let user_token = new_token().expect("token");
        store
            .add_user(&format!("load{u}"), &hash_token(&user_token), false)
            .await
            .expect("user");
        let user: Main = pb::main_service_client::MainServiceClient::with_interceptor(
            channel.clone(),
            Auth::bearer(&user_token),
        );
        let ws = create(&user).await;
        let cookie = sign_in(console, &user_token).await;
        sessions.push((user, ws, cookie));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib();
    let mut open = Vec::new();
    for i in 0..streams {
        let (_, _, cookie) = &sessions[i % users];
        open.push((i % users, events(console, cookie).await));
    }
    let opened = rss_kib();
    tokio::time::sleep(hold).await;
    let held = rss_kib();
    for (u, (user, ws, _)) in sessions.iter().enumerate() {
        rename(user, ws, &format!("after-hold-{u}")).await;
    }
    let mut delivered = 0;
    for (u, lines) in &mut open {
        until_data(lines, &format!("after-hold-{u}")).await;
        delivered += 1;
    }
    println!(
        "{streams} event streams held {} s: server RSS {before} KiB before, {opened} KiB opened, \
         {held} KiB after the hold; {:.1} KiB per stream; {delivered}/{streams} streams delivered \
         the change after the hold",
        hold.as_secs(),
        held.saturating_sub(before) as f64 / streams as f64,
    );
    assert_eq!(delivered, streams);
}
