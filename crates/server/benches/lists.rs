//! ListWorkspace of a 2-item answer, in a store holding nothing else and in one holding
//! 100,000 other users' workspaces (the issue's target: within 2x). Lists read only the
//! caller's rows, so the two should be close.
//!
//! ```text
//! cargo bench -p cordium-server --bench lists               # SQLite
//! CORDIUM_BENCH_OTHERS=20000 cargo bench -p cordium-server --bench lists
//! ```

mod support;

use cordium_server::pb;
use cordium_server::store::{Store, Write};
use cordium_spec::Kind;
use std::time::{Duration, Instant};
use support::{Auth, Main};

const SECONDS: f64 = 3.0;

/// ListWorkspace calls per second, one at a time, for SECONDS.
async fn lists_per_second(main: &Main) -> f64 {
    let mut client = main.clone();
    let deadline = Instant::now() + Duration::from_secs_f64(SECONDS);
    let started = Instant::now();
    let mut calls = 0u64;
    while Instant::now() < deadline {
        let list = client
            .list_workspace(pb::ListRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert_eq!(list.items.len(), 2);
        calls += 1;
    }
    calls as f64 / started.elapsed().as_secs_f64()
}

/// Copies of one of the caller's workspaces, owned by others in a Space the caller does not
/// reach, written straight to the store in batches.
async fn add_others(store: &Store, others: usize) {
    let mine = store
        .list(Kind::Workspace, Some(""))
        .await
        .expect("list")
        .remove(0);
    let mut written = 0;
    while written < others {
        let batch: Vec<_> = (written..others.min(written + 1000))
            .map(|i| cordium_server::store::Record {
                name: format!("other-{i:06}"),
                owner: format!("user{}", i % 100),
                space: format!("default.user{}", i % 100),
                ..mine.clone()
            })
            .collect();
        let writes: Vec<_> = batch.iter().map(Write::new).collect();
        store.create_all(&writes).await.expect("write");
        written += batch.len();
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let others: usize = std::env::var("CORDIUM_BENCH_OTHERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let api = cordium_server::server::open(dir.path(), None)
            .await
            .expect("open the store");
        let store = api.store().clone();
        let (channel, token) = support::serve(api, false).await;
        let main: Main = pb::main_service_client::MainServiceClient::with_interceptor(
            channel,
            Auth::bearer(&token),
        );
        for _ in 0..2 {
            main.clone()
                .create_workspace(pb::Workspace::default())
                .await
                .expect("create");
        }
        let alone = lists_per_second(&main).await;
        add_others(&store, others).await;
        let crowded = lists_per_second(&main).await;
        println!("== SQLite: ListWorkspace of a 2-item answer, one at a time");
        println!("alone:                   {alone:>8.0}/s");
        println!(
            "with {others} others: {crowded:>8.0}/s ({:.2}x the time of alone; target <= 2x)",
            alone / crowded
        );
    });
}
