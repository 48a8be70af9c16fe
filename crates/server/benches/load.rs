//! Load generator: throughput of the gRPC API, measured against a no-op RPC on the same server.
//!
//! ```text
//! cargo bench -p cordium-server --bench load            # SQLite only
//! CORDIUM_TEST_POSTGRES_URL=postgres://... cargo bench -p cordium-server --bench load
//! ```
//!
//! Scenarios, each for a few seconds, at concurrency 1 and 64 over one HTTP/2 channel:
//! the health check (the floor: a no-op RPC), CompileWorkspace of a stored workspace (target: at
//! least half the health check's throughput), and CreateWorkspace on SQLite and PostgreSQL.

mod support;

use cordium_server::pb;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{Auth, Main};
use tonic::transport::Channel;

const SECONDS: f64 = 3.0;

async fn start(data_dir: &std::path::Path, database_url: Option<&str>) -> (Channel, String) {
    let api = cordium_server::server::open(data_dir, database_url)
        .await
        .expect("open the store");
    support::serve(api, true).await
}

/// Runs `call` from `concurrency` tasks for SECONDS and returns calls per second.
async fn throughput<F, Fut>(concurrency: usize, call: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(SECONDS);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (call, done) = (call.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if call().await {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn spec() -> prost_types::Struct {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/examples/workspace.yaml"
    ))
    .expect("example");
    let mut sources = cordium_spec::SourceMap::new();
    let id = sources.add("workspace.yaml", text.as_str());
    let doc = cordium_spec::load(&text, id).documents.remove(0);
    let json = doc
        .root
        .get("spec")
        .map(cordium_spec::Node::to_json)
        .unwrap_or_default();
    to_struct(&json)
}

fn to_struct(j: &serde_json::Value) -> prost_types::Struct {
    cordium_api::json::json_to_struct(j)
}

async fn scenario(label: &str, database_url: Option<&str>, with_health_and_compile: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (channel, token) = start(dir.path(), database_url).await;
    let auth = Auth::bearer(&token);
    let main: Main =
        pb::main_service_client::MainServiceClient::with_interceptor(channel.clone(), auth.clone());
    let mut management = pb::management_service_client::ManagementServiceClient::with_interceptor(
        channel.clone(),
        auth.clone(),
    );
    let quota = serde_json::json!({"workspace": {"limit": {"maxPerUser": 999_999}}});
    management
        .update_cluster_config(pb::ClusterConfig {
            spec: Some(to_struct(&quota)),
            ..Default::default()
        })
        .await
        .expect("raise the quota");
    let mut setup = main.clone();
    let created = setup
        .create_workspace(pb::Workspace {
            spec: Some(spec()),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner();
    let name = created.metadata.map(|m| m.name).unwrap_or_default();
    // The example references the Secret `my-api-key`; compiling checks that it exists.
    setup
        .create_secret(pb::Secret {
            metadata: Some(pb::Metadata {
                name: "my-api-key".into(),
                ..Default::default()
            }),
            data: Some(pb::SecretData {
                value: Some(pb::secret_data::Value::Text("bench-value".into())),
            }),
            status: Some(pb::SecretStatus {
                space: "default.bench".into(),
                owner: String::new(),
            }),
        })
        .await
        .expect("create the secret");
    setup
        .compile_workspace(pb::CompileWorkspaceRequest {
            target: Some(pb::compile_workspace_request::Target::Name(name.clone())),
            ..Default::default()
        })
        .await
        .expect("the workspace compiles");
    println!("== {label}");
    for concurrency in [1usize, 64] {
        let mut health_rate = 0.0;
        if with_health_and_compile {
            let ch = channel.clone();
            health_rate = throughput(concurrency, move || {
                let mut client = tonic_health::pb::health_client::HealthClient::new(ch.clone());
                async move {
                    client
                        .check(tonic_health::pb::HealthCheckRequest {
                            service: String::new(),
                        })
                        .await
                        .is_ok()
                }
            })
            .await;
            let (m, n) = (main.clone(), name.clone());
            let compile_rate = throughput(concurrency, move || {
                let (mut client, name) = (m.clone(), n.clone());
                async move {
                    client
                        .compile_workspace(pb::CompileWorkspaceRequest {
                            target: Some(pb::compile_workspace_request::Target::Name(name)),
                            ..Default::default()
                        })
                        .await
                        .is_ok()
                }
            })
            .await;
            println!(
                "concurrency {concurrency:>2}: health {health_rate:>8.0}/s  compile {compile_rate:>8.0}/s  compile/health = {:.2}",
                compile_rate / health_rate
            );
        }
        let m = main.clone();
        let create_rate = throughput(concurrency, move || {
            let mut client = m.clone();
            async move {
                client
                    .create_workspace(pb::Workspace {
                        spec: Some(spec()),
                        ..Default::default()
                    })
                    .await
                    .is_ok()
            }
        })
        .await;
        let ratio = if health_rate > 0.0 {
            format!("  create/health = {:.2}", create_rate / health_rate)
        } else {
            String::new()
        };
        println!("concurrency {concurrency:>2}: create {create_rate:>8.0}/s{ratio}");
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing we need.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        scenario("SQLite", None, true).await;
        match std::env::var("CORDIUM_TEST_POSTGRES_URL") {
            Ok(url) => {
                let db = format!("cordium_bench_{}", std::process::id());
                let admin = sqlx_admin(&url, &db).await;
                scenario("PostgreSQL", Some(&admin), false).await;
            }
            Err(_) => println!(
                "== PostgreSQL: skipped (set CORDIUM_TEST_POSTGRES_URL; scripts/postgres.sh start)"
            ),
        }
    });
}

/// Creates a fresh database next to `url` and returns its URL.
async fn sqlx_admin(url: &str, db: &str) -> String {
    use sqlx::Executor as _;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("postgres");
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .await
        .expect("create database");
    match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{db}"),
        None => url.to_owned(),
    }
}
