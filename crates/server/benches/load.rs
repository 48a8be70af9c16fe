//! Load generator: throughput of the gRPC API, measured against a no-op RPC on the same server.
//!
//! ```text
//! cargo bench -p cordium-server --bench load            # SQLite only
//! CORDIUM_TEST_POSTGRES_URL=postgres://... cargo bench -p cordium-server --bench load
//! ```
//!
//! Scenarios, each for a few seconds, at concurrency 1 and 64 over one HTTP/2 channel:
//! the health check (the floor: a no-op RPC), GetWorkspace (target: at least 0.7x the health
//! check), CompileWorkspace of a stored workspace whose layers did not change (target: at least
//! half the health check's throughput), and CreateWorkspace on SQLite and PostgreSQL (target:
//! at least 0.3x the health check at concurrency 64 on SQLite).
//!
//! The server runs on a runtime of its own, so its CPU time per call is measured apart from the
//! clients' (the scheduler's count of its threads' time): the changed-layer CompileWorkspace
//! target is in those terms, the server's CPU per call at most 1.3x an in-process
//! `merge::compile` of the same layers plus the server's CPU for one GetWorkspace.
//!
//! `LOAD_CALLS=get,health` runs only the named calls (`health`, `get`, `compile`, `changed`,
//! `create`), for profiling one of them; ratios to a call left out print as NaN.
//!
//! The clients read every answer as bytes and do not decode it (see [`Answer`]): they share the
//! server's two cores, and decoding a Workspace costs the client more CPU than serving it costs
//! the server, so a decoding client would count prost's client-side decode against the server.
//! `LOAD_DECODE=1` decodes every answer into its message, as a typed client does; the
//! independent client (`scripts/bench-grpc.sh`, Python grpcio) always decodes.

mod support;

use cordium_server::pb;
use prost::Message;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use support::{Auth, Main};
use tonic::codec::{DecodeBuf, Decoder};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The allocator `cordium-server` ships with (see its `main.rs`), so the bench measures it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECONDS: f64 = 3.0;

const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";
const GET_WORKSPACE: &str = "/cordium.v1.MainService/GetWorkspace";
const COMPILE_WORKSPACE: &str = "/cordium.v1.MainService/CompileWorkspace";
const CREATE_WORKSPACE: &str = "/cordium.v1.MainService/CreateWorkspace";

/// The prefixes of the server's threads' names: its runtime's (see [`server_runtime`]) and
/// SQLite's workers (`sqlx-sqlite-worker-N`, cut to 15 bytes by the kernel).
const SERVER_THREADS: [&str; 2] = ["cordium-server", "sqlx-sqlite"];

/// The runtime the server runs on, apart from the clients'.
fn server_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("cordium-server")
            .enable_all()
            .build()
            .expect("the server's runtime")
    })
}

/// Opens a store and serves it on the server's runtime; the channel is driven by the caller's.
async fn start(data_dir: &std::path::Path, database_url: Option<&str>) -> (Channel, String) {
    let (dir, url) = (data_dir.to_owned(), database_url.map(str::to_owned));
    let (addr, token) = server_runtime()
        .spawn(async move {
            let api = cordium_server::server::open(&dir, url.as_deref())
                .await
                .expect("open the store");
            support::listen(api, true).await
        })
        .await
        .expect("the server starts");
    (support::connect(addr).await, token)
}

/// Nanoseconds on a CPU of this process's threads whose names start with one of `prefixes`
/// (the first field of `/proc/self/task/*/schedstat`).
fn cpu_ns_of_threads(prefixes: &[&str]) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|name| prefixes.iter().any(|p| name.starts_with(p)))
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .map(|stat| first_number(&stat))
        .sum()
}

/// Nanoseconds on a CPU of the calling thread.
fn cpu_ns_of_this_thread() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat").map_or(0, |stat| first_number(&stat))
}

fn first_number(text: &str) -> u64 {
    text.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// What a run of one call measured.
#[derive(Clone, Copy)]
struct Rate {
    /// Calls answered per second.
    per_second: f64,
    /// The server's CPU time per call, in microseconds.
    server_us: f64,
}

/// The bench's codec: requests encoded as `Q` by the service's own codec
/// ([`cordium_api::codec::Codec`]), answers read as bytes, or decoded as `A` when `LOAD_DECODE`
/// is set.
struct Answer<Q, A> {
    decode: bool,
    _messages: PhantomData<(Q, A)>,
}

impl<Q, A> Answer<Q, A> {
    fn new() -> Self {
        static DECODE: OnceLock<bool> = OnceLock::new();
        Self {
            decode: *DECODE
                .get_or_init(|| std::env::var_os("LOAD_DECODE").is_some_and(|v| v != "0")),
            _messages: PhantomData,
        }
    }
}

impl<Q, A> tonic::codec::Codec for Answer<Q, A>
where
    Q: Message + Send + 'static,
    A: Message + Default + Send + 'static,
{
    type Encode = Q;
    type Decode = ();
    type Encoder = <cordium_api::codec::Codec<Q, A> as tonic::codec::Codec>::Encoder;
    type Decoder = Self;

    fn encoder(&mut self) -> Self::Encoder {
        tonic::codec::Codec::encoder(&mut cordium_api::codec::Codec::<Q, A>::default())
    }

    fn decoder(&mut self) -> Self {
        Self::new()
    }
}

impl<Q, A: Message + Default> Decoder for Answer<Q, A> {
    type Item = ();
    type Error = tonic::Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<()>, tonic::Status> {
        use prost::bytes::Buf as _;
        if self.decode {
            A::decode(buf).map_err(|e| tonic::Status::internal(e.to_string()))?;
        } else {
            buf.advance(buf.remaining());
        }
        Ok(Some(()))
    }
}

/// A client of any of the server's services, sending the user's token.
#[derive(Clone)]
struct Caller(tonic::client::Grpc<InterceptedService<Channel, Auth>>);

impl Caller {
    fn new(channel: Channel, auth: Auth) -> Self {
        Self(tonic::client::Grpc::new(InterceptedService::new(
            channel, auth,
        )))
    }

    /// Whether the call of `path` (`/package.Service/Method`) with `request` was answered OK;
    /// the answer is an `A`.
    async fn answered<Q, A>(mut self, path: &'static str, request: Q) -> bool
    where
        Q: Message + Send + 'static,
        A: Message + Default + Send + 'static,
    {
        if self.0.ready().await.is_err() {
            return false;
        }
        let path = http::uri::PathAndQuery::from_static(path);
        self.0
            .unary(tonic::Request::new(request), path, Answer::<Q, A>::new())
            .await
            .is_ok()
    }
}

/// Whether `LOAD_CALLS` (a comma-separated list; every call when unset) names `call`.
fn wanted(call: &str) -> bool {
    std::env::var("LOAD_CALLS").map_or(true, |calls| calls.split(',').any(|c| c.trim() == call))
}

/// Runs `call` from `concurrency` tasks for SECONDS: calls per second and the server's CPU
/// per call (NaN when `LOAD_CALLS` leaves out `name`).
async fn throughput<F, Fut>(name: &str, concurrency: usize, call: F) -> Rate
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    if !wanted(name) {
        return Rate {
            per_second: f64::NAN,
            server_us: f64::NAN,
        };
    }
    let call = Arc::new(call);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(SECONDS);
    let started = Instant::now();
    let server_before = cpu_ns_of_threads(&SERVER_THREADS);
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
    let calls = done.load(Ordering::Relaxed) as f64;
    let server_ns = cpu_ns_of_threads(&SERVER_THREADS).saturating_sub(server_before) as f64;
    Rate {
        per_second: calls / started.elapsed().as_secs_f64(),
        server_us: server_ns / 1000.0 / calls,
    }
}

/// The example Workspace's spec, loaded once: the clients' calls pay a clone, not a YAML parse,
/// so the figures measure the server.
fn spec() -> cordium_api::Spec {
    static SPEC: std::sync::OnceLock<cordium_api::Spec> = std::sync::OnceLock::new();
    SPEC.get_or_init(load_spec).clone()
}

fn load_spec() -> cordium_api::Spec {
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
    to_struct(&json).into()
}

/// `merge::compile` of the layers the server compiles for the bench's workspace (the
/// example Workspace, its Space and the Space's default Template, which carry no spec), with
/// provenance, in this thread: CPU microseconds per compile.
fn in_process_compile_us() -> f64 {
    use cordium_merge::{Inputs, Options, compile};
    use cordium_spec::{SourceId, SourceMap, load};
    let workspace = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/examples/workspace.yaml"
    ))
    .expect("the example");
    let space = "apiVersion: cordium/v1\nkind: Space\nmetadata: {name: default.bench}\n";
    let template = "apiVersion: cordium/v1\nkind: Template\nmetadata: {name: default}\n";
    let deadline = Instant::now() + Duration::from_secs_f64(SECONDS);
    let cpu_before = cpu_ns_of_this_thread();
    let mut calls = 0u64;
    while Instant::now() < deadline {
        let mut sources = SourceMap::new();
        let mut documents = Vec::new();
        for (label, text) in [("w", workspace.as_str()), ("s", space), ("t", template)] {
            let id: SourceId = sources.add(label.to_owned(), text);
            documents.extend(load(text, id).documents);
        }
        let options = Options {
            run_vars: vec![("BENCH_SALT".into(), calls.to_string())],
            secrets: Some(["my-api-key".to_owned()].into_iter().collect()),
            user_secrets: Some(Default::default()),
            build: false,
            allow_undefined_vars: false,
            provenance: true,
        };
        let inputs = Inputs::from_documents(&sources, documents, None, options).expect("layers");
        let compiled = compile(inputs).expect("compiles");
        std::hint::black_box(serde_json::to_value(&compiled.effective).expect("json"));
        calls += 1;
    }
    cpu_ns_of_this_thread().saturating_sub(cpu_before) as f64 / 1000.0 / calls as f64
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
    let caller = Caller::new(channel.clone(), auth.clone());
    let mut management = pb::management_service_client::ManagementServiceClient::with_interceptor(
        channel.clone(),
        auth.clone(),
    );
    let quota = serde_json::json!({"workspace": {"limit": {"maxPerUser": 999_999}}});
    management
        .update_cluster_config(pb::ClusterConfig {
            spec: Some(to_struct(&quota).into()),
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
        let mut health_rate = f64::NAN;
        if with_health_and_compile {
            let c = caller.clone();
            let health = throughput("health", concurrency, move || {
                let request = tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                };
                c.clone()
                    .answered::<_, tonic_health::pb::HealthCheckResponse>(HEALTH_CHECK, request)
            })
            .await;
            health_rate = health.per_second;
            let (c, n) = (caller.clone(), name.clone());
            let compile = throughput("compile", concurrency, move || {
                let request = pb::CompileWorkspaceRequest {
                    target: Some(pb::compile_workspace_request::Target::Name(n.clone())),
                    ..Default::default()
                };
                c.clone()
                    .answered::<_, pb::CompileWorkspaceResponse>(COMPILE_WORKSPACE, request)
            })
            .await;
            let (c, n) = (caller.clone(), name.clone());
            let get = throughput("get", concurrency, move || {
                let request = pb::Ref {
                    name: n.clone(),
                    ..Default::default()
                };
                c.clone()
                    .answered::<_, pb::Workspace>(GET_WORKSPACE, request)
            })
            .await;
            let (c, n) = (caller.clone(), name.clone());
            let salt = Arc::new(AtomicU64::new(0));
            let changed = throughput("changed", concurrency, move || {
                // A run variable nothing reads, new on every call: the answer cannot come from
                // the server's memo, so this is the cost of a real compile.
                let request = pb::CompileWorkspaceRequest {
                    target: Some(pb::compile_workspace_request::Target::Name(n.clone())),
                    vars: vec![pb::Var {
                        name: "BENCH_SALT".into(),
                        value: salt.fetch_add(1, Ordering::Relaxed).to_string(),
                    }],
                    ..Default::default()
                };
                c.clone()
                    .answered::<_, pb::CompileWorkspaceResponse>(COMPILE_WORKSPACE, request)
            })
            .await;
            println!(
                "concurrency {concurrency:>2}: health {:>8.0}/s ({:.1} µs of server CPU)  get {:>8.0}/s ({:.1} µs)  get/health = {:.2}",
                health.per_second,
                health.server_us,
                get.per_second,
                get.server_us,
                get.per_second / health.per_second,
            );
            println!(
                "concurrency {concurrency:>2}: compile, layers unchanged {:>8.0}/s ({:.1} µs)  compile/health = {:.2};  every call new {:>8.0}/s ({:.1} µs)",
                compile.per_second,
                compile.server_us,
                compile.per_second / health.per_second,
                changed.per_second,
                changed.server_us,
            );
            if concurrency == 1 && wanted("changed") && wanted("get") {
                let in_process = in_process_compile_us();
                // CPU per call: the server's compile against an in-process compile of the
                // same layers plus the server's GetWorkspace (the target: at most 1.3).
                let ratio = changed.server_us / (in_process + get.server_us);
                println!(
                    "concurrency  1: in-process merge::compile {in_process:.1} µs;  server compile / (in-process compile + get), CPU per call = {ratio:.2}"
                );
            }
        }
        let c = caller.clone();
        let create = throughput("create", concurrency, move || {
            let request = pb::Workspace {
                spec: Some(spec()),
                ..Default::default()
            };
            c.clone()
                .answered::<_, pb::Workspace>(CREATE_WORKSPACE, request)
        })
        .await;
        let ratio = if health_rate > 0.0 {
            format!("  create/health = {:.2}", create.per_second / health_rate)
        } else {
            String::new()
        };
        println!(
            "concurrency {concurrency:>2}: create {:>8.0}/s ({:.1} µs){ratio}",
            create.per_second, create.server_us
        );
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
