//! Integration tests of the Cordium gRPC server: one binary, one module per concern.
//!
//! The harness starts the server in process on `127.0.0.1:0` over SQLite (a temp dir) or
//! PostgreSQL (a fresh database on `CORDIUM_TEST_POSTGRES_URL`), and hands out typed tonic
//! clients for alice, bob and an administrator. [`Process`] runs the real `cordium-server`
//! binary instead, for the crash and end-to-end tests.
//!
//! PostgreSQL is required, never skipped: `scripts/test` starts a throwaway one; by hand,
//! `eval "$(scripts/postgres.sh start)"` exports `CORDIUM_TEST_POSTGRES_URL`.

#![allow(clippy::unwrap_used, unreachable_pub, missing_docs, reason = "tests")]

mod clone;
mod compile;
mod connections;
mod console;
mod crash;
mod egress;
mod errors;
mod git_connect;
mod git_run;
mod isolation;
mod issuer;
mod load;
mod logged;
mod oidc;
mod pages;
mod podman;
mod python;
mod quotas;
mod replicas;
mod sandbox;
mod secrets;
mod ssh;
mod ssh_agent;
mod store;
mod stream;
mod users;
mod watch;
mod watch_limits;

use cordium_server::pb;
use cordium_server::pb::main_service_client::MainServiceClient;
use cordium_server::pb::management_service_client::ManagementServiceClient;
use cordium_server::store::Store;
use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

/// Runs each named `async fn NAME(backend: Backend)` of the enclosing module as two tests,
/// `sqlite::NAME` and `postgres::NAME`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Postgres).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A typed client calling as one user.
pub type Client = MainServiceClient<InterceptedService<Channel, Auth>>;
/// A typed ManagementService client calling as one user.
pub type Management = ManagementServiceClient<InterceptedService<Channel, Auth>>;

/// Adds `authorization: Bearer <token>` (or nothing) to every call.
#[derive(Clone)]
pub struct Auth(Option<MetadataValue<Ascii>>);

impl Auth {
    pub fn bearer(token: &str) -> Self {
        Self(Some(
            format!("Bearer {token}").parse().expect("token is ASCII"),
        ))
    }

    pub fn none() -> Self {
        Self(None)
    }
}

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// The root of the Cargo workspace.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// A random lowercase suffix, for database and resource names.
pub fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The PostgreSQL server the tests use: `CORDIUM_TEST_POSTGRES_URL`, required.
pub fn postgres_url() -> String {
    match std::env::var("CORDIUM_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "CORDIUM_TEST_POSTGRES_URL is not set: these tests need a PostgreSQL server. Run \
             `scripts/test` (starts a throwaway one), or `eval \"$(scripts/postgres.sh start)\"` \
             (needs `apt-get install postgresql`) and then `cargo test -p cordium-server`."
        ),
    }
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// A fresh PostgreSQL database, dropped (with its connections) when this is dropped.
pub struct PgDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> Self {
        use sqlx::Connection as _;
        let admin_url = postgres_url();
        let name = format!("cordium_{}", random_suffix());
        let mut conn = sqlx::postgres::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to CORDIUM_TEST_POSTGRES_URL={admin_url}: {e}; start one with `eval \"$(scripts/postgres.sh start)\"`"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE");
        conn.close().await.ok();
        Self {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Dropped inside a test's runtime: a thread of its own can block on another one.
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                use sqlx::Connection as _;
                if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// Where a server keeps its data.
pub struct Data {
    pub dir: tempfile::TempDir,
    pub pg: Option<Arc<PgDatabase>>,
}

impl Data {
    pub async fn new(backend: Backend) -> Self {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(Arc::new(PgDatabase::create().await)),
        };
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            pg,
        }
    }

    pub fn backend(&self) -> Backend {
        if self.pg.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// The `--database-url`, if any.
    pub fn database_url(&self) -> Option<&str> {
        self.pg.as_ref().map(|pg| pg.url.as_str())
    }

    /// A URL sqlx's `Any` driver opens, for raw reads by the tests.
    pub fn raw_url(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url.clone(),
            None => cordium_server::server::sqlite_url(self.dir.path()),
        }
    }

    /// A raw connection pool on the database, for reads the API does not offer.
    pub async fn raw_pool(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(&self.raw_url())
            .await
            .expect("raw pool")
    }
}

/// A server running in this process.
pub struct Server {
    pub addr: SocketAddr,
    pub store: Store,
    pub channel: Channel,
    /// The service it serves (for serving it on other doors too, such as the console).
    pub api: cordium_server::service::Api,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Starts a server on `data` (the data dir, and the PostgreSQL database if any).
    pub async fn start(data: &Data) -> Self {
        Self::start_on(data.dir.path(), data.database_url()).await
    }

    pub async fn start_on(dir: &Path, database_url: Option<&str>) -> Self {
        Self::start_with(dir, database_url, None).await
    }

    /// A server that also runs workspaces on `runtime` (the lifecycle driver in process).
    pub async fn start_with(
        dir: &Path,
        database_url: Option<&str>,
        runtime: Option<Arc<dyn cordium_provisioner::runtime::Runtime>>,
    ) -> Self {
        Self::start_configured(dir, database_url, runtime, |api| api).await
    }

    /// [`Server::start_with`], the service changed by `configure` first.
    pub async fn start_configured(
        dir: &Path,
        database_url: Option<&str>,
        runtime: Option<Arc<dyn cordium_provisioner::runtime::Runtime>>,
        configure: impl FnOnce(cordium_server::service::Api) -> cordium_server::service::Api,
    ) -> Self {
        let driver = runtime.map(|r| (r, test_driver_options()));
        Self::start_driving(dir, database_url, driver, configure).await
    }

    /// A server whose service `configure` changed first and whose driver (if any) runs
    /// workspaces on a runtime with options.
    pub async fn start_driving(
        dir: &Path,
        database_url: Option<&str>,
        driver: Option<(
            Arc<dyn cordium_provisioner::runtime::Runtime>,
            cordium_server::driver::DriverOptions,
        )>,
        configure: impl FnOnce(cordium_server::service::Api) -> cordium_server::service::Api,
    ) -> Self {
        let mut api = configure(
            cordium_server::server::open(dir, database_url)
                .await
                .expect("open the server"),
        );
        if let Some((runtime, options)) = driver {
            api = cordium_server::server::start_driver_with_options(api, runtime, options);
        }
        Self::serve_api(api).await
    }

    /// Serves `api`, opened and wired by the caller, on a loopback port.
    pub async fn serve_api(api: cordium_server::service::Api) -> Self {
        let store = api.store().clone();
        let served = api.clone();
        let listener = cordium_server::server::bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Served until the test drops it: no graceful shutdown, which would wait for every
        // client's connection to close.
        let task = tokio::spawn(async move {
            cordium_server::server::serve(api, listener, std::future::pending())
                .await
                .expect("serve");
        });
        let channel = connect(addr).await;
        Self {
            addr,
            store,
            channel,
            api: served,
            task,
        }
    }

    /// Adds a user and returns their API token.
    pub async fn user(&self, name: &str, admin: bool) -> String {
        let token = cordium_server::crypto::new_token().expect("token");
        self.store
            .add_user(name, &cordium_server::crypto::hash_token(&token), admin)
            .await
            .expect("add user");
        token
    }

    pub fn client(&self, token: &str) -> Client {
        client(&self.channel, token)
    }

    pub fn management(&self, token: &str) -> Management {
        ManagementServiceClient::with_interceptor(self.channel.clone(), Auth::bearer(token))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A channel to `addr` (one HTTP/2 connection, multiplexed).
pub async fn connect(addr: SocketAddr) -> Channel {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match endpoint.connect().await {
            Ok(channel) => return channel,
            Err(e) if Instant::now() > deadline => panic!("cannot connect to {addr}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

pub fn client(channel: &Channel, token: &str) -> Client {
    MainServiceClient::with_interceptor(channel.clone(), Auth::bearer(token))
}

/// A server with users: alice and bob (plain users) and root (an administrator).
pub struct Env {
    pub data: Data,
    pub server: Server,
    pub alice: Client,
    pub bob: Client,
    pub admin: Client,
    pub alice_token: String,
    pub bob_token: String,
    pub admin_token: String,
}

impl Env {
    pub async fn new(backend: Backend) -> Self {
        let data = Data::new(backend).await;
        let server = Server::start(&data).await;
        let alice_token = server.user("alice", false).await;
        let bob_token = server.user("bob", false).await;
        let admin_token = server.user("root", true).await;
        Self {
            alice: server.client(&alice_token),
            bob: server.client(&bob_token),
            admin: server.client(&admin_token),
            data,
            server,
            alice_token,
            bob_token,
            admin_token,
        }
    }

    pub fn management(&self, token: &str) -> Management {
        self.server.management(token)
    }
}

// ---------------------------------------------------------------------------------------------
// Building requests.

/// A document's `google.protobuf.Struct` from JSON (an object).
pub fn spec(json: serde_json::Value) -> cordium_api::Spec {
    assert!(json.is_object(), "a spec is an object, not {json}");
    cordium_api::json::json_to_struct(&json).into()
}

/// A `google.protobuf.Struct` as JSON.
pub fn json(s: &prost_types::Struct) -> serde_json::Value {
    cordium_api::json::struct_to_json(s)
}

pub fn meta(name: &str) -> Option<pb::Metadata> {
    Some(pb::Metadata {
        name: name.into(),
        ..Default::default()
    })
}

pub fn name_of(metadata: &Option<pb::Metadata>) -> String {
    metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default()
}

pub fn version_of(metadata: &Option<pb::Metadata>) -> i64 {
    metadata.as_ref().map_or(0, |m| m.resource_version)
}

pub fn r(space: &str, name: &str) -> pb::Ref {
    pb::Ref {
        name: name.into(),
        space: space.into(),
    }
}

pub fn space(name: &str, spec_json: Option<serde_json::Value>) -> pb::Space {
    pb::Space {
        metadata: meta(name),
        spec: spec_json.map(spec),
        status: None,
    }
}

pub fn template(space: &str, name: &str, spec_json: Option<serde_json::Value>) -> pb::Template {
    pb::Template {
        metadata: meta(name),
        spec: spec_json.map(spec),
        status: Some(pb::TemplateStatus {
            space: space.into(),
            ..Default::default()
        }),
    }
}

pub fn workspace(
    space: &str,
    template: &str,
    spec_json: Option<serde_json::Value>,
) -> pb::Workspace {
    pb::Workspace {
        metadata: None,
        spec: spec_json.map(spec),
        status: Some(pb::WorkspaceStatus {
            space: space.into(),
            template: template.into(),
            ..Default::default()
        }),
    }
}

pub fn secret(space: &str, name: &str, value: &str) -> pb::Secret {
    pb::Secret {
        metadata: meta(name),
        data: Some(pb::SecretData {
            value: Some(pb::secret_data::Value::Text(value.into())),
        }),
        status: Some(pb::SecretStatus {
            space: space.into(),
            owner: String::new(),
        }),
    }
}

pub fn git_provider(space: &str, name: &str) -> pb::GitProvider {
    pb::GitProvider {
        metadata: meta(name),
        spec: Some(spec(
            serde_json::json!({"github": {"clientID": "cordium-test"}}),
        )),
        status: Some(pb::SecretStatus {
            space: space.into(),
            owner: String::new(),
        }),
    }
}

/// Unwraps a response, naming the call on failure.
#[track_caller]
pub fn ok<T>(what: &str, result: Result<tonic::Response<T>, Status>) -> T {
    match result {
        Ok(r) => r.into_inner(),
        Err(s) => panic!(
            "{what}: expected success, got {:?}: {}",
            s.code(),
            s.message()
        ),
    }
}

/// Expects a failure with one of `codes`.
#[track_caller]
pub fn fails<T: std::fmt::Debug>(
    what: &str,
    result: Result<tonic::Response<T>, Status>,
    codes: &[Code],
) -> Status {
    match result {
        Ok(r) => panic!(
            "{what}: expected {codes:?}, got success: {:?}",
            r.into_inner()
        ),
        Err(s) if codes.contains(&s.code()) => s,
        Err(s) => panic!(
            "{what}: expected {codes:?}, got {:?}: {}",
            s.code(),
            s.message()
        ),
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// `bytes` as lowercase hex (how PostgreSQL prints `bytea`).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the next message of a stream within `timeout`.
pub async fn next_within<T>(stream: &mut tonic::Streaming<T>, timeout: Duration) -> Option<T> {
    match tokio::time::timeout(timeout, stream.message()).await {
        Ok(Ok(Some(m))) => Some(m),
        Ok(Ok(None)) => None,
        Ok(Err(s)) => panic!("stream failed: {:?}: {}", s.code(), s.message()),
        Err(_) => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The real binary.

/// The `cordium-server` binary built by Cargo for these tests.
pub fn server_binary() -> &'static str {
    env!("CARGO_BIN_EXE_cordium-server")
}

fn base_command(dir: &Path, database_url: Option<&str>) -> std::process::Command {
    let mut cmd = std::process::Command::new(server_binary());
    cmd.arg("--data-dir").arg(dir);
    if let Some(url) = database_url {
        cmd.arg("--database-url").arg(url);
    }
    cmd.env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .env_remove("CORDIUM_DATA_DIR")
        .env_remove("CORDIUM_DATABASE_URL");
    cmd
}

/// `cordium-server user add NAME [--admin]`: the printed token.
pub fn add_user_with_binary(
    dir: &Path,
    database_url: Option<&str>,
    name: &str,
    admin: bool,
) -> String {
    let mut args = vec!["user", "add", name];
    if admin {
        args.push("--admin");
    }
    user_command_with_binary(dir, database_url, &args)
}

/// `cordium-server user token NAME` through the binary: a new API token, the old one revoked.
pub fn rotate_token_with_binary(dir: &Path, database_url: Option<&str>, name: &str) -> String {
    user_command_with_binary(dir, database_url, &["user", "token", name])
}

/// Runs a `cordium-server user ...` command that prints an API token, and returns it.
fn user_command_with_binary(dir: &Path, database_url: Option<&str>, args: &[&str]) -> String {
    let mut cmd = base_command(dir, database_url);
    cmd.args(args);
    let out = cmd.output().expect("run cordium-server user");
    assert!(
        out.status.success(),
        "cordium-server {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert!(
        token.starts_with("cdm_"),
        "unexpected token output {token:?}"
    );
    token
}

/// `cordium-server serve` running as a child process; killed (SIGKILL) when dropped.
pub struct Process {
    pub addr: SocketAddr,
    child: std::process::Child,
    stderr: Arc<Mutex<String>>,
}

impl Process {
    /// Starts `cordium-server serve --listen 127.0.0.1:0` and waits for its address.
    pub fn spawn(dir: &Path, database_url: Option<&str>) -> Self {
        let mut cmd = base_command(dir, database_url);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--runtime", "none"]);
        Self::spawn_command(cmd)
    }

    /// Starts `cmd`, a `cordium-server ... serve --listen 127.0.0.1:0 ...`, and waits for its
    /// address.
    pub fn spawn_command(mut cmd: std::process::Command) -> Self {
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn cordium-server");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        let pipe = child.stderr.take().expect("stderr");
        let log = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("serving on ").nth(1) {
                    let addr: String = rest
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '\u{1b}')
                        .collect();
                    if let (Ok(addr), Some(tx)) = (addr.parse(), tx.take()) {
                        let _ = tx.send(addr);
                    }
                }
                let mut log = log.lock().expect("log");
                log.push_str(&line);
                log.push('\n');
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => Self {
                addr,
                child,
                stderr,
            },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "cordium-server did not report `serving on ADDR`; its stderr:\n{}",
                    stderr.lock().expect("log")
                );
            }
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("log").clone()
    }

    /// `kill -9`, and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The driver's options in tests: health checked every second.
pub fn test_driver_options() -> cordium_server::driver::DriverOptions {
    cordium_server::driver::DriverOptions {
        health_interval: Duration::from_secs(1),
        ..Default::default()
    }
}

/// Makes `member` a member of Space `space`, written to the store directly (no RPC manages
/// members yet).
pub async fn add_space_member(store: &Store, space: &str, member: &str) {
    let record = store
        .get(cordium_spec::Kind::Space, "", space)
        .await
        .expect("read the Space")
        .expect("the Space");
    let mut decoded: pb::Space = prost::Message::decode(record.body.as_slice()).expect("a Space");
    decoded
        .status
        .get_or_insert_with(Default::default)
        .members
        .push(member.into());
    let written = cordium_server::store::Record {
        body: prost::Message::encode_to_vec(&decoded),
        ..record
    };
    store
        .update(cordium_server::store::Write::new(&written).expecting(
            cordium_server::store::Precondition::Version(written.version),
        ))
        .await
        .expect("the member added");
}
