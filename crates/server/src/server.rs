//! Wiring: the services, gRPC health and reflection on one listener.

use crate::auth::{Authenticator, OidcConfig};
use crate::connections::{self, ConnectionLimits};
use crate::crypto::SecretBox;
use crate::driver::Driver;
use crate::pb;
use crate::service::{Api, Management};
use crate::store::Store;
use cordium_provisioner::runtime::Runtime;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The secret key.
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
    /// Reflection could not be built.
    #[error("reflection: {0}")]
    Reflection(String),
    /// The transport.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The OIDC configuration.
    #[error(transparent)]
    Oidc(#[from] crate::auth::OidcError),
    /// The data directory.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The database URL for a data directory: SQLite in `<dir>/cordium.db`.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("cordium.db").display())
}

/// Opens the store and the secret key (`<data_dir>/secret.key`, created on first start), with
/// API-token authentication.
pub async fn open(data_dir: &Path, database_url: Option<&str>) -> Result<Api, StartError> {
    open_with(data_dir, database_url, None).await
}

/// As [`open`], also accepting OIDC ID tokens verified with `oidc`.
pub async fn open_with(
    data_dir: &Path,
    database_url: Option<&str>,
    oidc: Option<OidcConfig>,
) -> Result<Api, StartError> {
    private_files(data_dir, database_url.is_none()).map_err(|source| StartError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    let url = database_url.map_or_else(|| sqlite_url(data_dir), str::to_owned);
    let store = Store::open(&url).await?;
    let secrets = SecretBox::load_or_create(&data_dir.join("secret.key"))?;
    let auth = Authenticator::new(store.clone(), oidc)?;
    Ok(Api::new(store, secrets, auth))
}

/// Creates the data directory (mode 0700) and, with `sqlite`, the database file (mode 0600),
/// or narrows their modes: the database holds token hashes, sealed secrets and everyone's
/// resources, and SQLite gives its `-wal` and `-shm` files the database file's mode.
fn private_files(data_dir: &Path, sqlite: bool) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    std::fs::create_dir_all(data_dir)?;
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
    if !sqlite {
        return Ok(());
    }
    let database = data_dir.join("cordium.db");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&database)?;
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o600))
}

/// Gives `api` the `runtime` (exec, logs) and starts the [lifecycle driver](crate::driver) on
/// it in this process; returns the API to serve.
pub fn start_driver(api: Api, runtime: Arc<dyn Runtime>) -> Api {
    start_driver_with(api, runtime, crate::driver::HEALTH_INTERVAL)
}

/// As [`start_driver`], checking running workspaces' health every `health_interval`.
pub fn start_driver_with(
    api: Api,
    runtime: Arc<dyn Runtime>,
    health_interval: std::time::Duration,
) -> Api {
    start_driver_with_options(
        api,
        runtime,
        crate::driver::DriverOptions {
            health_interval,
            ..crate::driver::DriverOptions::default()
        },
    )
}

/// As [`start_driver`], with the driver's `options` (`serve --startup-timeout`).
pub fn start_driver_with_options(
    api: Api,
    runtime: Arc<dyn Runtime>,
    options: crate::driver::DriverOptions,
) -> Api {
    let api = api.with_runtime(Arc::clone(&runtime));
    Driver::with_options(api.clone(), runtime, options).spawn();
    api
}

/// Serves the API on `listener` until `shutdown` resolves, under the default
/// [`ConnectionLimits`].
pub async fn serve(
    api: Api,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), StartError> {
    serve_with(api, listener, ConnectionLimits::default(), shutdown).await
}

/// As [`serve`], accepting connections under `limits`.
pub async fn serve_with(
    api: Api,
    listener: tokio::net::TcpListener,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<pb::main_service_server::MainServiceServer<Api>>()
        .await;
    reporter
        .set_serving::<pb::management_service_server::ManagementServiceServer<Management>>()
        .await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| StartError::Reflection(e.to_string()))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| StartError::Reflection(e.to_string()))?;
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        .max_concurrent_streams(limits.max_streams_per_connection)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(pb::management_service_server::ManagementServiceServer::new(
            Management::new(api.clone()),
        ))
        .add_service(pb::main_service_server::MainServiceServer::new(api))
        .serve_with_incoming_shutdown(connections::incoming(listener, limits), shutdown)
        .await?;
    Ok(())
}

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}
