//! Crash: the real binary is killed (SIGKILL) in the middle of a burst of writes and started
//! again on the same data; every acknowledged write is there and readable, nothing is
//! half-written.

use crate::{
    Backend, Data, Process, add_user_with_binary, client, connect, name_of, ok, r, secret, space,
    workspace,
};
use cordium_server::crypto::SecretBox;
use cordium_server::pb;
use prost::Message as _;
use sqlx::Row as _;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

crate::on_both_backends!(acknowledged_writes_survive_kill_9);

/// Kill once this many writes were acknowledged (of at most `BURST`).
const KILL_AFTER: usize = 200;
const BURST: usize = 20_000;
const IN_FLIGHT: usize = 32;

#[derive(Debug, Clone)]
enum Ack {
    Workspace { name: String, marker: String },
    Secret { name: String, value: String },
}

async fn acknowledged_writes_survive_kill_9(backend: Backend) {
    let data = Data::new(backend).await;
    let dir = data.dir.path().to_owned();
    let url = data.database_url().map(str::to_owned);
    let token = {
        let (dir, url) = (dir.clone(), url.clone());
        tokio::task::spawn_blocking(move || {
            add_user_with_binary(&dir, url.as_deref(), "alice", false)
        })
        .await
        .expect("user add")
    };
    let spawn = |dir: std::path::PathBuf, url: Option<String>| {
        tokio::task::spawn_blocking(move || Process::spawn(&dir, url.as_deref()))
    };
    let mut server = spawn(dir.clone(), url.clone()).await.expect("spawn");
    let mut alice = client(&connect(server.addr).await, &token);
    ok(
        "CreateSpace",
        alice.create_space(space("crash.alice", None)).await,
    );
    let tag = crate::random_suffix();

    let acked: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (mut alice, acked, next, tag) = (
            alice.clone(),
            Arc::clone(&acked),
            Arc::clone(&next),
            tag.clone(),
        );
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= BURST {
                    return;
                }
                let ack = if i % 2 == 0 {
                    let marker = format!("m{i}");
                    let ws = workspace(
                        "crash.alice",
                        "",
                        Some(serde_json::json!({"vars": [{"name": "MARKER", "value": marker}]})),
                    );
                    match alice.create_workspace(ws).await {
                        Ok(resp) => Ack::Workspace {
                            name: name_of(&resp.into_inner().metadata),
                            marker,
                        },
                        Err(_) => return,
                    }
                } else {
                    let (name, value) = (format!("s{i}"), format!("crash-{tag}-{i}"));
                    match alice
                        .create_secret(secret("crash.alice", &name, &value))
                        .await
                    {
                        Ok(_) => Ack::Secret { name, value },
                        Err(_) => return,
                    }
                };
                acked.lock().expect("acks").push(ack);
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().expect("acks").len() < KILL_AFTER {
        assert!(
            Instant::now() < deadline,
            "the burst made too little progress"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill();
    let attempted = next.load(Ordering::Relaxed).min(BURST);
    while let Some(done) = tasks.join_next().await {
        done.expect("a client task");
    }
    let acked = acked.lock().expect("acks").clone();
    eprintln!(
        "{backend:?}: killed with {} writes acknowledged, {attempted} attempted",
        acked.len()
    );
    assert!(
        acked.len() < attempted,
        "the kill came mid-burst, with calls in flight"
    );

    // Restart on the same data, and read everything back.
    let server = spawn(dir.clone(), url.clone()).await.expect("respawn");
    let mut alice = client(&connect(server.addr).await, &token);
    let workspaces: HashMap<String, pb::Workspace> = ok(
        "ListWorkspace",
        alice
            .list_workspace(pb::ListRequest {
                space: "crash.alice".into(),
                template: String::new(),
                // The most a page holds (the default is 100).
                page_size: 1000,
                ..Default::default()
            })
            .await,
    )
    .items
    .into_iter()
    .map(|w| (name_of(&w.metadata), w))
    .collect();
    let secrets: HashSet<String> = ok(
        "ListSecret",
        alice
            .list_secret(pb::ListRequest {
                space: "crash.alice".into(),
                template: String::new(),
                // The most a page holds (the default is 100).
                page_size: 1000,
                ..Default::default()
            })
            .await,
    )
    .items
    .iter()
    .map(|s| name_of(&s.metadata))
    .collect();
    let key = SecretBox::load_or_create(&dir.join("secret.key")).expect("key");
    let pool = data.raw_pool().await;
    for ack in &acked {
        match ack {
            Ack::Workspace { name, marker } => {
                let got = ok(
                    "GetWorkspace after the crash",
                    alice.get_workspace(r("", name)).await,
                );
                let vars = crate::json(got.spec.as_ref().expect("spec"));
                assert_eq!(
                    vars["vars"][0]["value"],
                    marker.as_str(),
                    "{name} kept its spec"
                );
                assert!(
                    workspaces.contains_key(name),
                    "ListWorkspace lacks the acknowledged {name}"
                );
            }
            Ack::Secret { name, value } => {
                ok(
                    "GetSecret after the crash",
                    alice.get_secret(r("crash.alice", name)).await,
                );
                assert!(
                    secrets.contains(name),
                    "ListSecret lacks the acknowledged {name}"
                );
                let row = sqlx::query("SELECT ciphertext FROM secret_values WHERE kind = 'Secret' AND scope = 'crash.alice' AND name = $1").bind(name).fetch_one(&pool).await.expect("its sealed value");
                let sealed: Vec<u8> = row.try_get(0).expect("ciphertext");
                assert_eq!(
                    key.open(&sealed, &format!("Secret/crash.alice/{name}"))
                        .expect("opens"),
                    value.as_bytes()
                );
            }
        }
    }

    // Nothing half-written: every row decodes as its kind, under its own name; every sealed
    // value has its resource and every Secret its sealed value.
    let rows = sqlx::query("SELECT kind, scope, name, body FROM resources")
        .fetch_all(&pool)
        .await
        .expect("resources");
    for row in &rows {
        let (kind, scope, name, body): (String, String, String, Vec<u8>) = (
            row.try_get(0).expect("kind"),
            row.try_get(1).expect("scope"),
            row.try_get(2).expect("name"),
            row.try_get(3).expect("body"),
        );
        let decoded_name = match kind.as_str() {
            "Space" => pb::Space::decode(body.as_slice()).map(|m| name_of(&m.metadata)),
            "Template" => pb::Template::decode(body.as_slice()).map(|m| name_of(&m.metadata)),
            "Workspace" => pb::Workspace::decode(body.as_slice()).map(|m| name_of(&m.metadata)),
            "Secret" => pb::Secret::decode(body.as_slice()).map(|m| name_of(&m.metadata)),
            "UserSecret" => pb::UserSecret::decode(body.as_slice()).map(|m| name_of(&m.metadata)),
            "GitProvider" => pb::GitProvider::decode(body.as_slice()).map(|m| name_of(&m.metadata)),
            "UserConfig" => pb::UserConfig::decode(body.as_slice()).map(|m| name_of(&m.metadata)),
            "ClusterConfig" => {
                pb::ClusterConfig::decode(body.as_slice()).map(|m| name_of(&m.metadata))
            }
            other => panic!("unknown kind {other}"),
        };
        assert_eq!(
            decoded_name.unwrap_or_else(|e| panic!("{kind} {scope}/{name} does not decode: {e}")),
            name
        );
    }
    let orphans: i64 = sqlx::query("SELECT COUNT(*) FROM secret_values s WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.kind = s.kind AND r.scope = s.scope AND r.name = s.name)")
        .fetch_one(&pool)
        .await
        .expect("orphans")
        .try_get(0)
        .expect("count");
    assert_eq!(orphans, 0, "sealed values without a resource");
    let bare: i64 = sqlx::query("SELECT COUNT(*) FROM resources r WHERE r.kind = 'Secret' AND NOT EXISTS (SELECT 1 FROM secret_values s WHERE r.kind = s.kind AND r.scope = s.scope AND r.name = s.name)")
        .fetch_one(&pool)
        .await
        .expect("bare secrets")
        .try_get(0)
        .expect("count");
    assert_eq!(bare, 0, "Secrets without a sealed value");
    let stored_workspaces = rows
        .iter()
        .filter(|r| r.try_get::<String, _>(0).expect("kind") == "Workspace")
        .count();
    assert_eq!(
        stored_workspaces,
        workspaces.len(),
        "ListWorkspace shows every stored workspace"
    );
    let acked_workspaces = acked
        .iter()
        .filter(|a| matches!(a, Ack::Workspace { .. }))
        .count();
    assert!(workspaces.len() >= acked_workspaces);

    // And the restarted server takes writes again.
    ok(
        "CreateWorkspace after the crash",
        alice
            .create_workspace(workspace("crash.alice", "", Some(serde_json::json!({}))))
            .await,
    );
    drop(server);
}
