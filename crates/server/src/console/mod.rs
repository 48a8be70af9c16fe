//! The web console: `cordium-server serve --http-listen ADDR` serves a small single-page
//! application and the JSON, event-stream and WebSocket endpoints it uses, over HTTP/1.1.
//!
//! Decisions (each module says more):
//! - **One service layer.** Every JSON endpoint calls the gRPC service's own method
//!   ([`crate::service::Api`] as `MainService`) with the session's credential as a bearer
//!   token (`call`): authentication, authorization, validation, quotas and "another user's
//!   resource answers like a missing one" are the API's, not re-stated here. The terminal and
//!   the application proxy open the same ExecStream and PortForward sessions as the CLI
//!   (through the stream core's `Inbound` channels), with their limits and checks.
//! - **Sessions** ([`session`]) live in this process's memory and hold the user's API token;
//!   a restart signs everyone out. Cookie `HttpOnly`, `SameSite=Strict`, `Secure` with
//!   [`ConsoleOptions::secure_cookies`]; every state-changing request carries the session's
//!   CSRF token and a same-origin `Origin`.
//! - **Assets** ([`assets`]) are built by `scripts/build-console.sh` into
//!   `crates/server/console/dist/` (committed) and embedded with `include_bytes!`: building
//!   the server needs no Node.js. Every page response carries a strict Content-Security-Policy
//!   (scripts and styles from this origin only, no inline script).
//! - **Limits**: the listener has the gRPC port's connection caps and deadlines
//!   ([`crate::connections::incoming_http1`]); each request's head must arrive whole within
//!   the handshake deadline, however slowly it trickles in (so a peer cannot hold its
//!   connections by sending a header byte now and then), which also closes a connection kept
//!   alive with no request for as long ([`serve`]); request bodies are cut at [`MAX_BODY`]
//!   and must arrive whole within [`ConsoleOptions::body_timeout`] (`body_in_time`; an application's
//!   request body, streamed to it, is the application's and its owner's business);
//!   event streams write a keep-alive every [`KEEP_ALIVE`]; WebSockets ping as often.
//! - **Applications** (`proxy`) are reached by path, `/w/WORKSPACE/APP/`, with the console
//!   session (their owner only), on a port of their own
//!   ([`spawn_with_applications`]): another origin than the console's, so an application's
//!   script cannot read the console's answers (its CSRF token) nor install a service worker
//!   over the console's pages.

pub mod assets;
mod events;
mod handlers;
mod json;
mod proxy;
pub mod session;
mod terminal;

use crate::connections::{ConnectionLimits, incoming_http1};
use crate::service::Api;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::time::Duration;
use tonic::Code;

pub use session::{LoginMethod, Sessions};

/// Request bodies are refused past this many bytes (a JSON form; a Secret's value is at most
/// what the API takes).
pub const MAX_BODY: usize = 1 << 20;
/// How often an open event stream or WebSocket writes something when there is nothing to say,
/// so the connection's idle deadline and intermediaries see it alive.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How the console is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleOptions {
    /// Mark the session cookie `Secure`: set when the console is reached over HTTPS (a
    /// TLS-terminating proxy in front of it; the server itself speaks plain HTTP).
    pub secure_cookies: bool,
    /// A session ends this long after its last request.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, however busy.
    pub session_max: Duration,
    /// How long a request body may take to arrive whole, however slowly it trickles in
    /// (nginx's `client_body_timeout` is 60 s between two reads; a console form is a few
    /// kilobytes). See `body_in_time`.
    pub body_timeout: Duration,
    /// The port applications are served on, on the console's host ([`spawn_with_applications`]
    /// sets it from the address it binds; see the module docs); `None`: no applications.
    pub apps_port: Option<u16>,
}

impl Default for ConsoleOptions {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_idle: Duration::from_secs(2 * 60 * 60),
            session_max: Duration::from_secs(12 * 60 * 60),
            body_timeout: Duration::from_secs(30),
            apps_port: None,
        }
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub(crate) struct Console {
    pub(crate) api: Api,
    pub(crate) sessions: Sessions,
    pub(crate) options: ConsoleOptions,
}

/// Why a console request failed; answered as JSON `{code, message}` with an HTTP status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConsoleError {
    /// No session, or an expired one.
    #[error("sign in first")]
    SignIn,
    /// A state-changing request without the session's CSRF token or from another origin.
    #[error("refused: {0}")]
    Forbidden(&'static str),
    /// Bad input the console itself reads (the API's own checks come back as `Api`).
    #[error("{field}: {message}")]
    BadRequest {
        field: &'static str,
        message: String,
    },
    /// A request body that did not arrive whole within [`ConsoleOptions::body_timeout`].
    #[error("the request body did not arrive in time; send it at once")]
    SlowBody,
    /// A request body past [`MAX_BODY`].
    #[error("the request body is larger than {} KiB", MAX_BODY >> 10)]
    LargeBody,
    /// What the service answered.
    #[error("{}", .0.message())]
    Api(#[from] tonic::Status),
}

impl ConsoleError {
    pub(crate) fn bad(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            field,
            message: message.into(),
        }
    }

    fn status(&self) -> (StatusCode, &'static str) {
        match self {
            Self::SignIn => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
            Self::SlowBody => (StatusCode::REQUEST_TIMEOUT, "DEADLINE_EXCEEDED"),
            Self::LargeBody => (StatusCode::PAYLOAD_TOO_LARGE, "RESOURCE_EXHAUSTED"),
            Self::Api(s) => match s.code() {
                Code::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
                Code::InvalidArgument | Code::OutOfRange => {
                    (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT")
                }
                Code::AlreadyExists => (StatusCode::CONFLICT, "ALREADY_EXISTS"),
                Code::Aborted | Code::FailedPrecondition => {
                    (StatusCode::CONFLICT, "FAILED_PRECONDITION")
                }
                Code::PermissionDenied => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
                Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
                Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED"),
                Code::Unavailable | Code::DeadlineExceeded => {
                    (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE")
                }
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
            },
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        let body = serde_json::json!({ "code": code, "message": self.to_string() });
        (status, axum::Json(body)).into_response()
    }
}

/// Calls one MainService method as the session's user: `f` gets the service and a request
/// carrying the session's credential, exactly as a gRPC client's call would arrive.
pub(crate) async fn call<Req, Resp, F, Fut>(
    api: &Api,
    token: &str,
    message: Req,
    f: F,
) -> Result<Resp, ConsoleError>
where
    F: FnOnce(Api, tonic::Request<Req>) -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
{
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {token}")
        .parse()
        .map_err(|_| ConsoleError::SignIn)?;
    request.metadata_mut().insert("authorization", value);
    Ok(f(api.clone(), request).await?.into_inner())
}

/// The console's routes.
pub(crate) fn router(console: Console) -> Router {
    use axum::routing::delete;
    use handlers as h;
    let api = Router::new()
        .route("/login", post(session::login))
        .route("/logout", post(session::logout))
        .route("/me", get(session::me))
        .route("/events", get(events::workspace_events))
        .route("/workspaces", get(h::list_workspaces))
        .route("/workspaces", post(h::create_workspace))
        .route("/workspaces/{name}", get(h::get_workspace))
        .route("/workspaces/{name}", delete(h::delete_workspace))
        .route("/workspaces/{name}/start", post(h::start_workspace))
        .route("/workspaces/{name}/stop", post(h::stop_workspace))
        .route("/workspaces/{name}/effective", get(h::effective))
        .route("/workspaces/{name}/logs", get(events::logs))
        .route("/workspaces/{name}/terminal", get(terminal::terminal))
        .route("/spaces", get(h::list_spaces))
        .route("/spaces/{name}", get(h::get_space))
        .route("/templates", get(h::list_templates))
        .route("/templates/{space}/{name}", get(h::get_template))
        .route("/templates/{space}/{name}/build", post(h::build_template))
        .route("/secrets", get(h::list_secrets))
        .route("/secrets", post(h::create_secret))
        .route("/secrets/{space}/{name}", delete(h::delete_secret))
        .route("/user-secrets", get(h::list_user_secrets))
        .route("/user-secrets", post(h::create_user_secret))
        .route("/ssh-keys", get(h::list_ssh_keys))
        .route("/ssh-keys", post(h::add_ssh_key));
    Router::new()
        .nest("/api", api)
        .fallback(assets::serve)
        .layer(axum::middleware::from_fn_with_state(
            console.options.body_timeout,
            body_in_time,
        ))
        .layer(axum::middleware::from_fn(assets::security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(console)
}

/// The applications' routes, served on an origin of their own ([`proxy`]): `/w/...`, and a
/// request for any other path whose `Referer` is an application page redirected into it.
pub(crate) fn apps_router(console: Console) -> Router {
    Router::new()
        .route("/w/{workspace}", get(proxy::default_application))
        .route("/w/{workspace}/", get(proxy::default_application))
        .route("/w/{workspace}/{app}", axum::routing::any(proxy::enter))
        .route(
            "/w/{workspace}/{app}/",
            axum::routing::any(proxy::proxy_root),
        )
        .route(
            "/w/{workspace}/{app}/{*rest}",
            axum::routing::any(proxy::proxy),
        )
        .fallback(assets::into_application)
        .with_state(console)
}

/// Reads a request's body whole, within `timeout` ([`ConsoleOptions::body_timeout`]) and
/// [`MAX_BODY`], before its handler runs; past either the request is refused and the
/// connection closed (the rest of the body is not read). Requests to applications (`/w/...`)
/// stream their bodies as they come.
async fn body_in_time(
    axum::extract::State(timeout): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    // A body announced past the limit is refused before any of it is read (not after the
    // deadline, which a slow sender of a huge announced body would otherwise hold it for).
    let announced = axum::body::HttpBody::size_hint(&body).lower();
    let refused = if announced > MAX_BODY as u64 {
        ConsoleError::LargeBody
    } else {
        match tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY)).await {
            Ok(Ok(bytes)) => {
                let request =
                    axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
                return next.run(request).await;
            }
            Ok(Err(e)) => {
                let too_large = std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
                if too_large {
                    ConsoleError::LargeBody
                } else {
                    ConsoleError::bad("body", "the request body could not be read")
                }
            }
            Err(_) => ConsoleError::SlowBody,
        }
    };
    let mut response = refused.into_response();
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

/// Serves the console on `listener` under `limits` until `shutdown` resolves, then waits for
/// every connection to finish its request. Nothing ends it early: a connection's failure is
/// that connection's (logged at debug), and accepting is retried with back-off
/// ([`crate::connections::incoming_http1`]). With `apps`, the applications are served there
/// (another origin: see the module docs); without, they are not served.
pub async fn serve(
    api: Api,
    listener: tokio::net::TcpListener,
    apps: Option<tokio::net::TcpListener>,
    limits: ConnectionLimits,
    options: ConsoleOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    use tokio_stream::StreamExt as _;
    let console = Console {
        api,
        sessions: Sessions::new(options),
        options,
    };
    let pages = router(console.clone());
    let incoming = incoming_http1(listener, limits).map(move |c| (c, pages.clone()));
    let mut incoming: std::pin::Pin<Box<dyn tokio_stream::Stream<Item = _> + Send>> = match apps {
        Some(apps) => {
            let applications = apps_router(console);
            let apps = incoming_http1(apps, limits).map(move |c| (c, applications.clone()));
            Box::pin(incoming.merge(apps))
        }
        None => Box::pin(incoming),
    };
    // Every connection holds a receiver; shutdown is announced by the sender, which then
    // waits for the last receiver to go.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = incoming.next() => match accepted {
                Some((Ok(connection), router)) => {
                    tokio::spawn(serve_connection(
                        connection,
                        router,
                        limits.handshake_timeout,
                        stopping.clone(),
                    ));
                }
                Some((Err(e), _)) => tracing::debug!("console connection: {e}"),
                // The accept loops ended (they never do while the listeners live).
                None => break,
            },
            () = &mut shutdown => break,
        }
    }
    drop((incoming, stopping));
    stop.send_replace(true);
    stop.closed().await;
}

/// Serves one connection's requests until it closes, or until `stopping` says so (then the
/// request under way is answered first). A request's head must arrive within `head_timeout`.
async fn serve_connection(
    connection: crate::connections::Connection,
    router: Router,
    head_timeout: Duration,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let service = hyper_util::service::TowerToHyperService::new(router);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(head_timeout);
    let served = builder
        .serve_connection(hyper_util::rt::TokioIo::new(connection), service)
        .with_upgrades();
    let mut served = std::pin::pin!(served);
    tokio::select! {
        result = served.as_mut() => {
            if let Err(e) = result {
                tracing::debug!("console connection: {e}");
            }
            return;
        }
        _ = stopping.wait_for(|stop| *stop) => {}
    }
    served.as_mut().graceful_shutdown();
    let _ = served.await;
}

/// Binds `addr` and serves the console there in a task of its own until `shutdown`
/// resolves, with no applications; returns the bound address (`127.0.0.1:0` picks a free
/// port).
pub async fn spawn(
    api: Api,
    addr: std::net::SocketAddr,
    limits: ConnectionLimits,
    options: ConsoleOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(serve(api, listener, None, limits, options, shutdown));
    Ok(local)
}

/// As [`spawn`], and serves the applications on `apps` (their own origin: another port of the
/// same host); returns both bound addresses. The console's page links to applications on its
/// own host name at the applications' port ([`ConsoleOptions::apps_port`], set here).
pub async fn spawn_with_applications(
    api: Api,
    addr: std::net::SocketAddr,
    apps: std::net::SocketAddr,
    limits: ConnectionLimits,
    mut options: ConsoleOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(std::net::SocketAddr, std::net::SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let apps = tokio::net::TcpListener::bind(apps).await?;
    let (local, apps_local) = (listener.local_addr()?, apps.local_addr()?);
    options.apps_port = Some(apps_local.port());
    tokio::spawn(serve(api, listener, Some(apps), limits, options, shutdown));
    Ok((local, apps_local))
}
