//! WatchWorkspace under pressure: the credential re-checked, dropped watches freed, a stuck
//! watcher disconnected with a bounded buffer, a cap per user, events pruned and resumed, one
//! body kept per event, and only the events after a watch was opened.

use crate::{Backend, Env, name_of, next_within, ok, rotate_token_with_binary, workspace};
use cordium_server::pb;
use cordium_server::pb::workspace_event::Event;
use std::time::{Duration, Instant};
use tonic::Code;

crate::on_both_backends!(
    a_watch_ends_when_its_token_is_rotated,
    dropped_watches_are_freed,
    a_stuck_watcher_is_disconnected_with_a_bounded_buffer,
    watches_per_user_are_capped,
    events_are_pruned_and_resumable_within_the_window,
    events_keep_one_body,
    a_watch_shows_only_what_follows_it,
);

const WAIT: Duration = Duration::from_secs(20);

fn watch_all() -> pb::WatchWorkspaceRequest {
    pb::WatchWorkspaceRequest::default()
}

/// The status a stream ends with (within `WAIT`), and how many events came before it.
async fn end_of(stream: &mut tonic::Streaming<pb::WorkspaceEvent>) -> (tonic::Status, usize) {
    let mut events = 0;
    loop {
        match tokio::time::timeout(WAIT, stream.message()).await {
            Ok(Ok(Some(_))) => events += 1,
            Ok(Ok(None)) => panic!("the stream ended without a status after {events} events"),
            Ok(Err(status)) => return (status, events),
            Err(_) => panic!("the stream neither ended nor sent within {WAIT:?}"),
        }
    }
}

/// Waits (up to `WAIT`) until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_watch_ends_when_its_token_is_rotated(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let mut watch = alice
        .watch_workspace(watch_all())
        .await
        .expect("watch")
        .into_inner();
    let before = ok(
        "CreateWorkspace",
        alice.create_workspace(workspace("", "", None)).await,
    );
    let first = next_within(&mut watch, WAIT).await.expect("an event");
    assert!(
        matches!(first.event, Some(Event::Created(ws)) if name_of(&ws.metadata) == name_of(&before.metadata))
    );

    // `cordium-server user token alice`: a new token, the old one revoked.
    let dir = env.data.dir.path().to_owned();
    let url = env.data.database_url().map(str::to_owned);
    let token = tokio::task::spawn_blocking(move || {
        rotate_token_with_binary(&dir, url.as_deref(), "alice")
    })
    .await
    .expect("user add");
    // An event alice may see: the watch checks its token before sending it, and ends.
    let mut renewed = env.server.client(&token);
    ok(
        "CreateWorkspace (new token)",
        renewed.create_workspace(workspace("", "", None)).await,
    );
    let (status, events) = end_of(&mut watch).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(events, 0, "an event was sent after the token was rotated");

    // Without any event, the periodic check ends a watch too.
    let mut quiet = renewed
        .watch_workspace(watch_all())
        .await
        .expect("watch")
        .into_inner();
    let dir = env.data.dir.path().to_owned();
    let url = env.data.database_url().map(str::to_owned);
    tokio::task::spawn_blocking(move || rotate_token_with_binary(&dir, url.as_deref(), "alice"))
        .await
        .expect("user add");
    let (status, events) = end_of(&mut quiet).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(events, 0);
}

async fn dropped_watches_are_freed(backend: Backend) {
    let env = Env::new(backend).await;
    let store = env.server.store.clone();
    let baseline = store.subscribers();
    let mut watches = Vec::new();
    for _ in 0..20 {
        let mut alice = env.alice.clone();
        watches.push(
            alice
                .watch_workspace(watch_all())
                .await
                .expect("watch")
                .into_inner(),
        );
    }
    eventually("20 watches subscribed", || {
        store.subscribers() == baseline + 20
    })
    .await;
    // The clients go away; no event follows, yet every watch's task ends.
    drop(watches);
    eventually("dropped watches freed", || store.subscribers() == baseline).await;
}

/// Annotations making a workspace about `bytes` large.
fn bulky(bytes: usize) -> pb::Workspace {
    let mut ws = workspace("", "", None);
    // The longest annotation value, 64 of them at most: up to 256 KB.
    let chunk = 4096;
    let annotations = (0..bytes / chunk)
        .map(|i| (format!("example.com/bulk-{i}"), "x".repeat(chunk)))
        .collect();
    ws.metadata = Some(pb::Metadata {
        annotations,
        ..Default::default()
    });
    ws
}

async fn a_stuck_watcher_is_disconnected_with_a_bounded_buffer(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let body = 256 * 1024;
    let ws = ok("CreateWorkspace", alice.create_workspace(bulky(body)).await);
    let name = name_of(&ws.metadata);
    // A watcher that reads nothing while the workspace changes 64 times (16 MB of events).
    let mut stuck = alice
        .watch_workspace(watch_all())
        .await
        .expect("watch")
        .into_inner();
    let updates = 64;
    for _ in 0..updates {
        ok(
            "ReportWorkspaceActivity",
            alice
                .report_workspace_activity(pb::ReportActivityRequest { name: name.clone() })
                .await,
        );
    }
    let (status, delivered) = end_of(&mut stuck).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("fell behind; watch again"),
        "{status:?}"
    );
    // What reached the client is what the server's buffer and the HTTP/2 windows held: at
    // most the buffer's bytes (plus one window's worth), never every update.
    let window = 1024 * 1024;
    assert!(
        delivered * body <= cordium_server::service::BUFFER_BYTES + window,
        "{delivered} events of {body} bytes passed a buffer of {} bytes",
        cordium_server::service::BUFFER_BYTES
    );
    assert!(delivered < updates);
    // The stuck watch's task is gone.
    let store = env.server.store.clone();
    let baseline = store.subscribers();
    drop(stuck);
    eventually("the stuck watch freed", || store.subscribers() <= baseline).await;
}

async fn watches_per_user_are_capped(backend: Backend) {
    let env = Env::new(backend).await;
    let max = cordium_server::service::MAX_WATCHES_PER_USER;
    let mut open = Vec::new();
    for _ in 0..max {
        let mut alice = env.alice.clone();
        open.push(
            alice
                .watch_workspace(watch_all())
                .await
                .expect("watch")
                .into_inner(),
        );
    }
    let mut alice = env.alice.clone();
    let refused = alice
        .watch_workspace(watch_all())
        .await
        .expect_err("one watch too many");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("open watches"), "{refused:?}");
    // Someone else is not affected.
    let mut bob = env.bob.clone();
    bob.watch_workspace(watch_all()).await.expect("bob's watch");
    // Closing one frees its place.
    open.pop();
    let deadline = Instant::now() + WAIT;
    loop {
        match alice.watch_workspace(watch_all()).await {
            Ok(_) => break,
            Err(s) if s.code() == Code::ResourceExhausted && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(s) => panic!("a watch after closing one: {s:?}"),
        }
    }
}

/// The id and workspace name of the next event of `stream`.
async fn next_event(stream: &mut tonic::Streaming<pb::WorkspaceEvent>) -> (i64, String) {
    let event = next_within(stream, WAIT).await.expect("an event");
    let name = match event.event.expect("an event") {
        Event::Created(ws) | Event::Deleted(ws) => name_of(&ws.metadata),
        Event::Updated(u) => name_of(&u.new.expect("new").metadata),
    };
    (event.id, name)
}

async fn events_are_pruned_and_resumable_within_the_window(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let mut watch = alice
        .watch_workspace(watch_all())
        .await
        .expect("watch")
        .into_inner();
    let one = ok(
        "Create one",
        alice.create_workspace(workspace("", "", None)).await,
    );
    let two = ok(
        "Create two",
        alice.create_workspace(workspace("", "", None)).await,
    );
    let (first, name) = next_event(&mut watch).await;
    assert_eq!(name, name_of(&one.metadata));
    let (second, name) = next_event(&mut watch).await;
    assert_eq!(name, name_of(&two.metadata));
    assert!(second > first);

    // Within the window: resuming after the first sends the second, then what follows.
    let mut resumed = alice
        .watch_workspace(pb::WatchWorkspaceRequest {
            resume_after: first,
            ..Default::default()
        })
        .await
        .expect("resume")
        .into_inner();
    assert_eq!(
        next_event(&mut resumed).await,
        (second, name_of(&two.metadata))
    );
    let three = ok(
        "Create three",
        alice.create_workspace(workspace("", "", None)).await,
    );
    let (third, name) = next_event(&mut resumed).await;
    assert_eq!(name, name_of(&three.metadata));

    // Bad positions are the caller's mistake.
    for bad in [-1, third + 1000] {
        let refused = alice
            .watch_workspace(pb::WatchWorkspaceRequest {
                resume_after: bad,
                ..Default::default()
            })
            .await
            .expect_err("a bad resume_after");
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert!(refused.message().contains("resume_after"), "{refused:?}");
    }

    // Past the window: pruned, and resuming before the prune is told to start again.
    let pruned = env
        .server
        .store
        .prune_events(Duration::ZERO)
        .await
        .expect("prune");
    assert!(pruned >= 3, "{pruned} events pruned");
    let refused = alice
        .watch_workspace(pb::WatchWorkspaceRequest {
            resume_after: first,
            ..Default::default()
        })
        .await
        .expect_err("resume after a pruned event");
    assert_eq!(refused.code(), Code::OutOfRange, "{refused:?}");
    assert!(
        refused.message().contains(&format!("follows {third}"))
            && refused.message().contains("from scratch"),
        "{refused:?}"
    );
    // Resuming at the prune's edge is fine, and the next event comes.
    let mut edge = alice
        .watch_workspace(pb::WatchWorkspaceRequest {
            resume_after: third,
            ..Default::default()
        })
        .await
        .expect("resume at the edge")
        .into_inner();
    let four = ok(
        "Create four",
        alice.create_workspace(workspace("", "", None)).await,
    );
    let (_, name) = next_event(&mut edge).await;
    assert_eq!(name, name_of(&four.metadata));
}

async fn events_keep_one_body(backend: Backend) {
    use sqlx::Row as _;
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let ws = ok("Create", alice.create_workspace(bulky(64 * 1024)).await);
    let name = name_of(&ws.metadata);
    for _ in 0..3 {
        ok(
            "ReportWorkspaceActivity",
            alice
                .report_workspace_activity(pb::ReportActivityRequest { name: name.clone() })
                .await,
        );
    }
    let pool = env.data.raw_pool().await;
    let count = |sql: &'static str| {
        let (pool, name) = (pool.clone(), name.clone());
        async move {
            sqlx::query(sql)
                .bind(name)
                .fetch_one(&pool)
                .await
                .expect("count")
                .get::<i64, _>(0)
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM events WHERE name = $1").await,
        4
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM events WHERE name = $1 AND old IS NOT NULL AND new IS NOT NULL"
        )
        .await,
        0,
        "an event row keeps both bodies"
    );
}

async fn a_watch_shows_only_what_follows_it(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    for _ in 0..10 {
        let before = ok(
            "Create",
            alice.create_workspace(workspace("", "", None)).await,
        );
        let mut watch = alice
            .watch_workspace(watch_all())
            .await
            .expect("watch")
            .into_inner();
        let after = ok(
            "Create",
            alice.create_workspace(workspace("", "", None)).await,
        );
        let (_, name) = next_event(&mut watch).await;
        assert_ne!(
            name,
            name_of(&before.metadata),
            "a watch showed an earlier creation"
        );
        assert_eq!(name, name_of(&after.metadata));
    }
}
