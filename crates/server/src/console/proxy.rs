//! Workspace applications through the console: `/w/WORKSPACE/APP/PATH` is
//! `http://127.0.0.1:PORT/PATH` inside the workspace, PORT being application APP's
//! (`spec.applications`), reached over a PortForward session (the runtime's connect: the
//! same owner check, limits and credential re-checks as `cordium port-forward`).
//!
//! Decisions:
//! - **Another port, not the console's origin**: applications are served on a listener of
//!   their own (`serve --http-apps-listen`), another origin than the console's. On the
//!   console's origin an application's script read `/api/me` (the CSRF token) and acted as
//!   whoever opened it (probe round 8 added an SSH key to the viewer's account), and its
//!   service worker took over the console's page. On another port it can do neither: the
//!   console's answers are not readable across origins, its state-changing calls need the
//!   token, and its WebSockets check `Origin`. Cookies are shared by every port of a host, so
//!   the console's session reaches the applications' port as is (no wildcard DNS or
//!   certificate needed); the console's cookie is removed from what the application sees,
//!   and a `Set-Cookie` of its name from the application is dropped. What stays shared is the
//!   applications' origin itself: applications a user opens can read each other's pages
//!   (served only to their owner, never to an administrator), and a service worker's scope is kept
//!   to its own path (`Service-Worker-Allowed` is dropped). Host routing
//!   (`APP--WORKSPACE.HOST`, an origin per application) is left for later.
//! - **Absolute paths**: a request for a path the console does not serve whose `Referer` is an
//!   application page is redirected into that application ([`super::assets`]), so the
//!   `/src/main.js` of a dev server works; the application also gets `X-Forwarded-Prefix`.
//! - **WebSockets**: an `Upgrade` request is forwarded as is and, when the application
//!   answers 101, the two connections are joined byte for byte.
//! - **Who**: no session answers 401; a workspace the user may not reach answers exactly like
//!   a missing one (404), as does an application the workspace does not have.
//! - **Cut, not complete**: when the server ends the forwarded connection (the session's
//!   credential revoked, rotated or expired; a deadline), a response still streaming ends with
//!   an error, so the browser's connection closes and the response reads as cut ([`Cut`]).
//! - **Limits**: request bodies of at most [`MAX_PROXIED_BODY`] bytes; one forwarded
//!   connection per request (the user's cap on forwarded connections applies).

use super::session::session_of;
use super::{Console, ConsoleError};
use crate::pb;
use crate::service::PortForwardOut;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;

/// The largest request body passed to an application.
pub(crate) const MAX_PROXIED_BODY: usize = 64 << 20;
/// Bytes buffered between the HTTP client and the forwarded connection, each way.
const PIPE: usize = 64 << 10;

/// Headers that belong to one hop, never forwarded (`upgrade` is, for WebSockets).
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
];

/// `/w/WS/` (and `/w/WS`): the workspace's default application (`isDefault`, else its first),
/// by a redirect to `/w/WS/APP/`, the query kept.
pub(crate) async fn default_application(
    State(c): State<Console>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    match default_of(&c, &workspace, &headers).await {
        Ok(app) => into_application(&workspace, &app, uri.query()).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn default_of(
    c: &Console,
    workspace: &str,
    headers: &HeaderMap,
) -> Result<String, ConsoleError> {
    use crate::pb::main_service_server::MainService;
    let session = session_of(c, headers).ok_or(ConsoleError::SignIn)?;
    let request = pb::CompileWorkspaceRequest {
        target: Some(pb::compile_workspace_request::Target::Name(
            workspace.to_owned(),
        )),
        ..Default::default()
    };
    let compiled = super::call(&c.api, &session.token, request, async |api, r| {
        MainService::compile_workspace(&api, r).await
    })
    .await?;
    let effective = compiled
        .effective
        .as_deref()
        .map(cordium_api::json::struct_to_json)
        .unwrap_or_default();
    let applications = effective["spec"]["applications"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    applications
        .iter()
        .find(|a| a["isDefault"].as_bool() == Some(true))
        .or(applications.first())
        .and_then(|a| a["name"].as_str().map(str::to_owned))
        .ok_or_else(|| {
            ConsoleError::Api(tonic::Status::not_found(format!(
                "workspace `{workspace}` has no application"
            )))
        })
}

/// `/w/WS/APP`: into the application's root, the query kept (a shared link's `?token=`).
pub(crate) async fn enter(
    Path((workspace, app)): Path<(String, String)>,
    uri: axum::http::Uri,
) -> Redirect {
    into_application(&workspace, &app, uri.query())
}

/// A redirect to `/w/WS/APP/` (with `?query`). The names come decoded from a path anyone may
/// send, so each is encoded again as one path segment: as they were, a `%0D%0A` made a
/// `Location` that is no header value (axum's `Redirect` panics on it), and a `%2F` a path of
/// other segments. The query is the request's own, which the `http` crate admits only in
/// characters a header value may hold.
fn into_application(workspace: &str, app: &str, query: Option<&str>) -> Redirect {
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    Redirect::temporary(&format!(
        "/w/{}/{}/{query}",
        path_segment(workspace),
        path_segment(app)
    ))
}

/// `text` percent-encoded as one path segment: every byte but RFC 3986's unreserved ones, and
/// a `.` or `..` whole (which a browser would resolve as a step up).
fn path_segment(text: &str) -> String {
    if text == "." || text == ".." {
        return text.replace('.', "%2E");
    }
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/w/WS/APP/`.
pub(crate) async fn proxy_root(
    State(c): State<Console>,
    Path((workspace, app)): Path<(String, String)>,
    request: Request,
) -> Response {
    forward(c, workspace, app, request).await
}

/// `/w/WS/APP/PATH`.
pub(crate) async fn proxy(
    State(c): State<Console>,
    Path((workspace, app, _)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    forward(c, workspace, app, request).await
}

async fn forward(c: Console, workspace: String, app: String, request: Request) -> Response {
    match try_forward(c, &workspace, &app, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// Opens a forwarded connection to `app` of `workspace` as the session's user: the frames
/// to send and the stream of what comes back.
async fn open(
    c: &Console,
    token: &str,
    workspace: &str,
    app: &str,
) -> Result<(mpsc::Sender<pb::PortForwardRequest>, PortForwardOut), ConsoleError> {
    // Applications share one origin (the applications' port), so an application's scripts
    // could read the other applications its viewer opens: only the owner, never an
    // administrator, is let in (an administrator's other applications would be that user's
    // to read).
    let caller = crate::service::Caller {
        admin: false,
        ..c.api.auth.authenticate(token).await?
    };
    let (tx, rx) = mpsc::channel(8);
    let open = pb::PortForwardOpen {
        name: workspace.to_owned(),
        application: app.to_owned(),
        port: 0,
    };
    // The channel is empty: the first send cannot wait.
    tx.send(pb::PortForwardRequest {
        frame: Some(pb::port_forward_request::Frame::Open(open)),
    })
    .await
    .map_err(|_| ConsoleError::bad("application", "the connection could not be opened"))?;
    let output = c
        .api
        .port_forward(&caller, token.to_owned(), rx)
        .await
        .map_err(|s| {
            // An application the workspace lacks reads like a missing one.
            if s.code() == tonic::Code::InvalidArgument {
                tonic::Status::not_found(format!(
                    "application `{}` of workspace `{}` not found",
                    cordium_spec::shapes::shown(app),
                    cordium_spec::shapes::shown(workspace)
                ))
            } else {
                s
            }
        })?;
    Ok((tx, output))
}

/// Why the server ended a forwarded connection (its credential was revoked, rotated or
/// expired, a deadline passed, the workspace stopped), as opposed to the application closing
/// it; `None` while neither happened or after the application closed it.
///
/// The application's connection reaches the proxy as a byte stream, so the server's end and
/// the application's close both read as its end of file; and a response whose length is "until
/// the connection closes" would then look complete to the browser, on a connection kept alive.
/// So a cut response ends with an error instead ([`cut_short`]): hyper closes the browser's
/// connection and the browser sees the response cut.
type Cut = tokio::sync::watch::Receiver<Option<String>>;

/// Joins `output`/`tx` to one end of a duplex pipe; returns the other end, and what says
/// whether the server cut it.
fn byte_stream(
    tx: mpsc::Sender<pb::PortForwardRequest>,
    mut output: PortForwardOut,
) -> (tokio::io::DuplexStream, Cut) {
    let (cut_tx, cut) = tokio::sync::watch::channel(None);
    let (ours, theirs) = tokio::io::duplex(PIPE);
    let (mut read, mut write) = tokio::io::split(ours);
    tokio::spawn(async move {
        let mut buf = vec![0_u8; PIPE];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let frame = pb::port_forward_request::Frame::Data(buf[..n].to_vec());
                    if tx
                        .send(pb::PortForwardRequest { frame: Some(frame) })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some(chunk) = output.next().await {
            match chunk {
                Ok(chunk) => {
                    if write.write_all(&chunk.data).await.is_err() {
                        return;
                    }
                }
                Err(status) => {
                    // Before the end of file, so whoever reads it sees why.
                    cut_tx.send_replace(Some(status.message().to_owned()));
                    break;
                }
            }
        }
        let _ = write.shutdown().await;
    });
    (theirs, cut)
}

/// The application's response body, ending with an error if the server cut the connection
/// under it (see [`Cut`]).
fn cut_short(body: hyper::body::Incoming, cut: Cut) -> Body {
    let end = std::iter::once_with(move || {
        cut.borrow().clone().map(|why| {
            Err(axum::BoxError::from(format!(
                "the connection was cut: {why}"
            )))
        })
    })
    .flatten();
    let frames = http_body_util::BodyStream::new(body)
        .map(|frame| frame.map_err(axum::BoxError::from))
        .chain(tokio_stream::iter(end));
    Body::new(http_body_util::StreamBody::new(frames))
}

/// Resolves once the server cut the connection; never, if it did not.
async fn cut_off(mut cut: Cut) {
    if cut.wait_for(Option::is_some).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The path after `/w/WS/APP/` as the browser sent it, still percent-encoded: decoding it here
/// would change what `%2F`, `%3F` or `%23` mean to the application, and decode twice what was
/// encoded twice.
fn raw_rest(path: &str) -> &str {
    path.splitn(5, '/').nth(4).unwrap_or("")
}

async fn try_forward(
    c: Console,
    workspace: &str,
    app: &str,
    request: Request,
) -> Result<Response, ConsoleError> {
    let session = session_of(&c, request.headers()).ok_or(ConsoleError::SignIn)?;
    if let Some(refused) = from_another_origin(&request, c.options) {
        return Err(ConsoleError::Forbidden(refused));
    }
    let rest = raw_rest(request.uri().path()).to_owned();
    let (tx, output) = open(&c, &session.token, workspace, app).await?;
    let (io, cut) = byte_stream(tx, output);
    let io = TokioIo::new(io);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| upstream(&e))?;
    tokio::spawn(async move {
        let _ = connection.with_upgrades().await;
    });

    let (mut parts, body) = request.into_parts();
    let upgrading = parts.headers.contains_key(header::UPGRADE);
    let client_upgrade = upgrading.then(|| {
        let mut req = Request::from_parts(parts.clone(), Body::empty());
        hyper::upgrade::on(&mut req)
    });
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    // As the browser wrote it (each name one encoded segment), so it always is a header value.
    let prefix = format!("/w/{}/{}", path_segment(workspace), path_segment(app));
    parts.uri = format!("/{rest}{query}")
        .parse()
        .map_err(|_| ConsoleError::bad("path", "not a valid request path"))?;
    clean_request_headers(&mut parts.headers, upgrading);
    if let Ok(value) = HeaderValue::from_str(&prefix) {
        parts.headers.insert("x-forwarded-prefix", value);
    }
    let limited = http_body_util::Limited::new(body, MAX_PROXIED_BODY);
    let upstream_request = hyper::Request::from_parts(parts, Body::new(limited));
    let mut response = sender
        .send_request(upstream_request)
        .await
        .map_err(|e| upstream(&e))?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_upgrade) = client_upgrade
    {
        let app_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(async move {
            if let (Ok(client), Ok(app)) = (client_upgrade.await, app_upgrade.await) {
                let (mut client, mut app) = (TokioIo::new(client), TokioIo::new(app));
                // A cut ends both ways at once (dropping the browser's connection).
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut app) => {}
                    () = cut_off(cut) => {}
                }
            }
        });
        let (mut parts, _) = response.into_parts();
        // The upgrade's own headers stay (`Upgrade`, `Connection`).
        drop_unsendable(&mut parts.headers);
        return Ok(Response::from_parts(parts, Body::empty()));
    }
    let (mut parts, body) = response.into_parts();
    clean_response_headers(&mut parts.headers);
    Ok(Response::from_parts(parts, cut_short(body, cut)))
}

fn upstream(e: &hyper::Error) -> ConsoleError {
    ConsoleError::Api(tonic::Status::unavailable(format!(
        "the application did not answer: {e}"
    )))
}

/// Drops hop-by-hop headers (keeping `Connection: upgrade` for an upgrade) and the console's
/// session cookie.
fn clean_request_headers(headers: &mut HeaderMap, upgrading: bool) {
    drop_hop_by_hop(headers, upgrading);
    if upgrading {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    let cookies: Vec<String> = super::session::cookie_pairs(headers)
        .filter(|c| !is_console_cookie(c))
        .map(str::to_owned)
        .collect();
    headers.remove(header::COOKIE);
    if !cookies.is_empty()
        && let Ok(value) = HeaderValue::from_str(&cookies.join("; "))
    {
        headers.insert(header::COOKIE, value);
    }
}

/// Drops hop-by-hop headers and any attempt to set the console's session cookie.
fn clean_response_headers(headers: &mut HeaderMap) {
    drop_hop_by_hop(headers, false);
    drop_unsendable(headers);
}

/// Drops what no application may send, an upgrade's answer included: every application
/// shares the applications' origin (and the host's cookies), so one may not clear the others'
/// storage or the console's cookie (signing its viewer out), set the console's cookie, nor
/// widen a service worker's scope past its own path (over every other application).
fn drop_unsendable(headers: &mut HeaderMap) {
    headers.remove("clear-site-data");
    headers.remove("service-worker-allowed");
    drop_console_cookies(headers);
}

/// Why a request to an application is refused as coming from another origin, if it is: the
/// session cookie reaches every same-site page's requests (the console's, on another port,
/// among them), so a WebSocket (which carries no token) must come from the applications' own
/// origin, and so must a request other than GET and HEAD that names an origin (one naming
/// none comes from a client that is no browser, and is the application's business).
fn from_another_origin(request: &Request, options: super::ConsoleOptions) -> Option<&'static str> {
    let headers = request.headers();
    let upgrade = headers.contains_key(header::UPGRADE);
    let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD)
        && headers.contains_key(header::ORIGIN);
    if !(upgrade || changes_state) || super::session::same_origin(headers, options) {
        return None;
    }
    Some(if upgrade {
        "a WebSocket to an application must come from the applications' own origin"
    } else {
        "a request that changes an application's state must come from the applications' own origin"
    })
}

/// Drops the hop-by-hop headers, the fixed ones and those the `Connection` header names
/// (RFC 9110, 7.6.1), keeping `Upgrade` for an upgrade.
fn drop_hop_by_hop(headers: &mut HeaderMap, upgrading: bool) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !(upgrading && name == "upgrade"))
        .collect();
    for name in named {
        headers.remove(name.as_str());
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Whether a cookie (`name=value`, or a `Set-Cookie` line) may be the console's session
/// cookie: its `name=value` part (before any attribute) names it anywhere, however a browser
/// splits it (`=cordium_session_...=x` is a nameless cookie to one, a session cookie to
/// another). `cordium_session` is in every name the console gives its cookie
/// ([`super::session::Sessions::cookie_name`]).
fn is_console_cookie(cookie: &str) -> bool {
    cookie
        .split(';')
        .next()
        .is_some_and(|pair| pair.contains(super::session::COOKIE))
}

/// Drops every `Set-Cookie` an application sends for the console's session cookie (and any
/// that is not text, which cannot be checked).
fn drop_console_cookies(headers: &mut HeaderMap) {
    let kept: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter(|v| v.to_str().is_ok_and(|v| !is_console_cookie(v)))
        .cloned()
        .collect();
    headers.remove(header::SET_COOKIE);
    for value in kept {
        headers.append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_redirect_into_an_application_keeps_each_name_one_segment() {
        let location = |workspace: &str, app: &str| {
            let response = into_application(workspace, app, None).into_response();
            response.headers()[header::LOCATION]
                .to_str()
                .expect("a header value")
                .to_owned()
        };
        assert_eq!(location("ab1", "web"), "/w/ab1/web/");
        // Decoded from `%0D%0A` and `%2F`: once a panic, once a path of other segments.
        assert_eq!(
            location("a\r\nSet-Cookie: x", "web"),
            "/w/a%0D%0ASet-Cookie%3A%20x/web/"
        );
        assert_eq!(location("ab1", "../../api"), "/w/ab1/..%2F..%2Fapi/");
        assert_eq!(location("ab1", ".."), "/w/ab1/%2E%2E/");
        let uri: axum::http::Uri = "/w/x/y?token=abc&x=%0A".parse().expect("uri");
        let entered = enter(Path(("\r\n".to_owned(), "é".to_owned())), uri).await;
        assert_eq!(
            entered.into_response().headers()[header::LOCATION],
            "/w/%0D%0A/%C3%A9/?token=abc&x=%0A",
            "the query is kept"
        );
    }

    #[test]
    fn the_path_reaches_the_application_as_the_browser_encoded_it() {
        assert_eq!(raw_rest("/w/ws1/web/a%2Fb%3Fc%2523/d"), "a%2Fb%3Fc%2523/d");
        assert_eq!(raw_rest("/w/ws1/web/"), "");
        assert_eq!(raw_rest("/w/ws1/web"), "");
    }

    #[test]
    fn headers_named_in_connection_and_clear_site_data_do_not_pass() {
        let mut request = HeaderMap::new();
        request.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, X-Secret-Hop"),
        );
        request.insert("x-secret-hop", HeaderValue::from_static("1"));
        request.insert("x-kept", HeaderValue::from_static("1"));
        clean_request_headers(&mut request, false);
        assert!(request.get("x-secret-hop").is_none());
        assert!(request.get("x-kept").is_some());

        let mut upgrade = HeaderMap::new();
        upgrade.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        upgrade.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        clean_request_headers(&mut upgrade, true);
        assert!(
            upgrade.get(header::UPGRADE).is_some(),
            "an upgrade keeps Upgrade"
        );

        let mut response = HeaderMap::new();
        response.insert("clear-site-data", HeaderValue::from_static("\"cookies\""));
        response.insert(header::CONNECTION, HeaderValue::from_static("x-hop"));
        response.insert("x-hop", HeaderValue::from_static("1"));
        clean_response_headers(&mut response);
        assert!(response.is_empty(), "{response:?}");
    }

    #[test]
    fn the_console_cookie_never_reaches_or_comes_from_an_application() {
        let mut request = HeaderMap::new();
        request.insert(
            header::COOKIE,
            HeaderValue::from_static(
                "app=1; cordium_session_0123=secret; __Host-cordium_session_0123=s; other=2",
            ),
        );
        request.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        clean_request_headers(&mut request, false);
        assert_eq!(
            request.get(header::COOKIE).expect("cookies"),
            "app=1; other=2"
        );
        assert!(request.get(header::CONNECTION).is_none());

        let mut response = HeaderMap::new();
        response.append(
            header::SET_COOKIE,
            HeaderValue::from_static("cordium_session=x; Path=/"),
        );
        response.append(
            header::SET_COOKIE,
            HeaderValue::from_static("cordium_session =y; Path=/api"),
        );
        response.append(
            header::SET_COOKIE,
            HeaderValue::from_static("cordium_session_0123=y; Path=/api/me"),
        );
        // Probe round 9: a nameless cookie whose value reads as the session's to a browser.
        response.append(
            header::SET_COOKIE,
            HeaderValue::from_static("=cordium_session_0123=z; Path=/api"),
        );
        response.append(
            header::SET_COOKIE,
            HeaderValue::from_static("app=2; Path=/"),
        );
        clean_response_headers(&mut response);
        let kept: Vec<_> = response.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(kept, ["app=2; Path=/"]);

        // An upgrade's answer keeps its own headers but not a session cookie.
        let mut upgrade = HeaderMap::new();
        upgrade.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        upgrade.append(
            header::SET_COOKIE,
            HeaderValue::from_static(" cordium_session=z"),
        );
        drop_console_cookies(&mut upgrade);
        assert!(upgrade.get(header::SET_COOKIE).is_none());
        assert!(upgrade.get(header::UPGRADE).is_some());
    }
}
