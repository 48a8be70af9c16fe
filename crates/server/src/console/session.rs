//! Console sessions: sign-in, the cookie, CSRF and origin checks, expiry and sign-out.
//!
//! - **Sign-in** takes an API token (`POST /api/login {"token"}`), authenticated by the
//!   server's own [`crate::auth::Authenticator`]; a workspace's session credential is
//!   refused. [`LoginMethod`] is the seam for other ways in (OIDC): a new variant and a
//!   handler that calls `Sessions::create` with the credential the API accepts.
//! - **The session** is a random 256-bit id in a cookie (`HttpOnly`, `SameSite=Strict`,
//!   `Path=/`, named `cordium_session_` and a random suffix of this server's start, see
//!   [`Sessions::cookie_name`]; `Secure` and named `__Host-...` with
//!   [`super::ConsoleOptions::secure_cookies`], see [`SECURE_COOKIE`]); the server keeps only
//!   its SHA-256, with the user's credential, in memory. Each request re-authenticates that
//!   credential through the API, so a disabled user or a rotated token ends the session.
//! - **Expiry**: idle for [`super::ConsoleOptions::session_idle`] or older than
//!   [`super::ConsoleOptions::session_max`]; at most [`MAX_SESSIONS_PER_USER`] per user (a
//!   sign-in past it ends that user's least recently used) and [`MAX_SESSIONS`] in all (the
//!   least recently used of anyone's goes, which takes sign-ins of at least
//!   `MAX_SESSIONS / MAX_SESSIONS_PER_USER` users: one user signing in again and again ends
//!   only their own sessions).
//! - **CSRF and the session's binding**: every request must carry the session's token in
//!   `X-CSRF-Token` (an EventSource or a WebSocket, which cannot send a header, in the `csrf`
//!   query parameter); a request other than GET and HEAD must also carry an `Origin` equal to
//!   this server's (scheme and `Host`), and so must a WebSocket upgrade. The token reaches the
//!   page in the body of `/api/login` (which another origin cannot read), and the page keeps
//!   it in its origin's `localStorage`: a session cookie planted from another port of the
//!   host (cookies reach every port; applications are served on one) comes with no token the
//!   page knows, so it signs the page out rather than in as someone else.

use super::{Console, ConsoleError, ConsoleOptions};
use crate::crypto::{hash_token, new_token};
use crate::service::Caller;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The start of the cookie's name over plain HTTP (a random suffix of this server's start
/// follows, see [`Sessions::cookie_name`]).
pub const COOKIE: &str = "cordium_session";
/// The start of the cookie's name under TLS ([`ConsoleOptions::secure_cookies`]): browsers take
/// a `__Host-` cookie only from this very host, over HTTPS, for `Path=/`, so a sibling
/// subdomain cannot set one that shadows the session.
pub const SECURE_COOKIE: &str = "__Host-cordium_session";

/// The session cookie's name under `options` with `suffix`.
fn cookie_name(options: ConsoleOptions, suffix: &str) -> String {
    let start = if options.secure_cookies {
        SECURE_COOKIE
    } else {
        COOKIE
    };
    format!("{start}_{suffix}")
}
/// Sessions kept at most; signing in past it ends the one used least recently.
pub const MAX_SESSIONS: usize = 10_000;
/// Sessions one user keeps at most (browsers, devices); signing in past it ends the user's
/// own least recently used.
pub const MAX_SESSIONS_PER_USER: usize = 64;
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How a session was signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// An API token (`cordium-server user add`).
    ApiToken,
    /// An OIDC ID token accepted by the API (the identity work signs in through this).
    OidcIdToken,
}

/// One signed-in browser.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The credential every call is made with (never sent to the browser).
    pub(crate) token: String,
    pub(crate) user: String,
    pub(crate) admin: bool,
    pub(crate) method: LoginMethod,
    csrf: String,
    started: Instant,
    last: Instant,
}

/// The signed-in sessions, by the hash of their cookie.
#[derive(Debug, Clone)]
pub struct Sessions {
    map: Arc<Mutex<HashMap<String, Session>>>,
    options: ConsoleOptions,
    /// The session cookie's name, random per server start ([`Sessions::cookie_name`]).
    cookie: Arc<str>,
}

impl Sessions {
    /// No sessions yet.
    pub fn new(options: ConsoleOptions) -> Self {
        let suffix = match new_token() {
            Ok(token) => hash_token(&token)[..16].to_owned(),
            // No randomness from the kernel (it does not happen on Linux): a name of this
            // start still, only guessable.
            Err(e) => {
                tracing::warn!("console: no random cookie name ({e})");
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                hash_token(&format!("{now:?} {}", std::process::id()))[..16].to_owned()
            }
        };
        Self {
            map: Arc::default(),
            options,
            cookie: cookie_name(options, &suffix).into(),
        }
    }

    /// The session cookie's name: its start, then a random suffix of this server's start.
    /// Applications are served on another port of the console's host; another origin, but
    /// cookies reach every port of a host, and one that knew the name could set a cookie of
    /// it (`document.cookie`, with a longer path, which a browser sends first) and sign its
    /// viewer in as someone else (probe round 9). An application never learns the name: the
    /// cookie is `HttpOnly`, and the proxy removes every cookie of the name's start from what
    /// an application sees and sets. (Sessions live in this process's memory, so a new name
    /// at each start loses nothing.)
    pub fn cookie_name(&self) -> &str {
        &self.cookie
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn expired(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.last) >= self.options.session_idle
            || now.duration_since(s.started) >= self.options.session_max
    }

    /// A new session for `caller`, signed in with `token` by `method`: (cookie value, CSRF
    /// token).
    pub(crate) fn create(
        &self,
        method: LoginMethod,
        token: String,
        caller: &Caller,
    ) -> Result<(String, String), ConsoleError> {
        let id = new_token().map_err(tonic::Status::from)?;
        let csrf = new_token().map_err(tonic::Status::from)?;
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| !self.expired(s, now));
        let own = || map.iter().filter(|(_, s)| s.user == caller.name);
        let evicted = if own().count() >= MAX_SESSIONS_PER_USER {
            own().min_by_key(|(_, s)| s.last).map(|(k, _)| k.clone())
        } else if map.len() >= MAX_SESSIONS {
            map.iter()
                .min_by_key(|(_, s)| s.last)
                .map(|(k, _)| k.clone())
        } else {
            None
        };
        if let Some(evicted) = evicted {
            map.remove(&evicted);
        }
        map.insert(
            hash_token(&id),
            Session {
                token,
                user: caller.name.clone(),
                admin: caller.admin,
                method,
                csrf: csrf.clone(),
                started: now,
                last: now,
            },
        );
        Ok((id, csrf))
    }

    /// The live session of cookie value `id`, touched.
    fn find(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let key = hash_token(id);
        let mut map = self.lock();
        let session = map.get_mut(&key)?;
        if self.expired(session, now) {
            map.remove(&key);
            return None;
        }
        session.last = now;
        Some(session.clone())
    }

    fn remove(&self, id: &str) {
        self.lock().remove(&hash_token(id));
    }

    /// How many sessions are open (expired ones included until the next sign-in prunes them).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The `name=value` pairs of every `Cookie` header in `headers`, trimmed, empty ones left out.
pub(crate) fn cookie_pairs(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
}

/// The session cookie's value in `headers`, by its name `wanted`; `None` also when there are
/// two (one was set by someone else, for another path: neither is trusted).
fn cookie<'h>(headers: &'h HeaderMap, wanted: &str) -> Option<&'h str> {
    let mut found = cookie_pairs(headers).filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name.trim() == wanted).then_some(value)
    });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// This server's origin as the browser names it: the scheme and the `Host` header.
fn own_origin(headers: &HeaderMap, secure: bool) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    Some(format!(
        "{}://{host}",
        if secure { "https" } else { "http" }
    ))
}

/// Whether the request's `Origin` is this server's; a request without one is refused (every
/// browser sends it on POST, DELETE and WebSocket upgrades).
pub(crate) fn same_origin(headers: &HeaderMap, options: ConsoleOptions) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match (origin, own_origin(headers, options.secure_cookies)) {
        (Some(origin), Some(own)) => origin == own,
        _ => false,
    }
}

/// Equality of two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    hash_token(a) == hash_token(b)
}

/// A request from a signed-in browser (and, for state changes, with the CSRF token and a
/// same-origin `Origin`).
pub(crate) struct Authed(pub(crate) Session);

impl FromRequestParts<Console> for Authed {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Console,
    ) -> Result<Self, Self::Rejection> {
        let id =
            cookie(&parts.headers, console.sessions.cookie_name()).ok_or(ConsoleError::SignIn)?;
        let mut session = console.sessions.find(id).ok_or(ConsoleError::SignIn)?;
        // The credential is checked on every request (remembered by the API for at most a
        // second): a revoked, rotated or disabled one ends the session, and a change of
        // administrator rights shows at once.
        match console.api.auth.authenticate(&session.token).await {
            Ok(caller) => session.admin = caller.admin,
            Err(_) => {
                console.sessions.remove(id);
                return Err(ConsoleError::SignIn);
            }
        }
        let changes_state = !matches!(parts.method, Method::GET | Method::HEAD);
        let upgrade = parts.headers.contains_key(header::UPGRADE);
        if (changes_state || upgrade) && !same_origin(&parts.headers, console.options) {
            return Err(ConsoleError::Forbidden(
                "the request comes from another origin",
            ));
        }
        // Every request carries the session's token, reads too: the page keeps it in its own
        // origin's storage, which nothing else writes, so a session cookie planted by another
        // port of the host (cookies reach every port) is a session the page has no token of,
        // and signs it out, never in as someone else.
        if !same_secret(sent_token(parts), &session.csrf) {
            return Err(if changes_state {
                ConsoleError::Forbidden("the CSRF token is missing or wrong")
            } else {
                ConsoleError::SignIn
            });
        }
        Ok(Self(session))
    }
}

/// The session token a request carries: the `X-CSRF-Token` header, else (for what cannot send
/// a header: an EventSource, a WebSocket) the `csrf` query parameter; empty when neither.
fn sent_token(parts: &Parts) -> &str {
    if let Some(token) = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return token;
    }
    parts
        .uri
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("csrf="))
        .unwrap_or_default()
}

/// The `Set-Cookie` value of cookie `name` for `id` (empty `id` with `Max-Age=0` clears it).
fn set_cookie(id: &str, name: &str, options: ConsoleOptions) -> Result<HeaderValue, ConsoleError> {
    let max_age = if id.is_empty() {
        0
    } else {
        options.session_max.as_secs()
    };
    let secure = if options.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .map_err(|_| ConsoleError::Forbidden("the session id is not a cookie value"))
}

/// `POST /api/login`'s body.
#[derive(serde::Deserialize)]
pub(crate) struct Login {
    token: String,
}

/// Who is signed in, and the CSRF token for their state-changing requests.
/// Who is signed in, the CSRF token, and the port applications are served on (0: none; the
/// page links to them on its own host at that port, see `console::proxy`).
fn whoami(
    session_user: &str,
    admin: bool,
    method: LoginMethod,
    csrf: &str,
    options: ConsoleOptions,
) -> serde_json::Value {
    serde_json::json!({
        "user": session_user,
        "admin": admin,
        "method": match method { LoginMethod::ApiToken => "API_TOKEN", LoginMethod::OidcIdToken => "OIDC" },
        "csrf": csrf,
        "appsPort": options.apps_port.unwrap_or(0),
    })
}

/// `POST /api/login`: signs in with an API token.
pub(crate) async fn login(
    State(console): State<Console>,
    headers: HeaderMap,
    Json(login): Json<Login>,
) -> Result<Response, ConsoleError> {
    if !same_origin(&headers, console.options) {
        return Err(ConsoleError::Forbidden(
            "the request comes from another origin",
        ));
    }
    let token = login.token.trim().to_owned();
    if token.is_empty() || token.len() > 4096 {
        return Err(ConsoleError::bad("token", "paste your API token (cdm_...)"));
    }
    if token.starts_with(crate::auth::SESSION_TOKEN_PREFIX) {
        return Err(ConsoleError::bad(
            "token",
            "a workspace's session credential cannot sign in; use your API token",
        ));
    }
    let caller = console
        .api
        .auth
        .authenticate(&token)
        .await
        .map_err(|_| ConsoleError::bad("token", "this token is not valid"))?;
    let (id, csrf) = console
        .sessions
        .create(LoginMethod::ApiToken, token, &caller)?;
    let body = whoami(
        &caller.name,
        caller.admin,
        LoginMethod::ApiToken,
        &csrf,
        console.options,
    );
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(&id, console.sessions.cookie_name(), console.options)?,
    );
    Ok(response)
}

/// `POST /api/logout`: ends the session and clears the cookie.
pub(crate) async fn logout(
    State(console): State<Console>,
    headers: HeaderMap,
    _: Authed,
) -> Result<Response, ConsoleError> {
    if let Some(id) = cookie(&headers, console.sessions.cookie_name()) {
        console.sessions.remove(id);
    }
    let mut response = Json(serde_json::json!({})).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie("", console.sessions.cookie_name(), console.options)?,
    );
    Ok(response)
}

/// `GET /api/me`: who is signed in (401 when nobody), with the CSRF token.
pub(crate) async fn me(
    State(console): State<Console>,
    Authed(session): Authed,
) -> Json<serde_json::Value> {
    Json(whoami(
        &session.user,
        session.admin,
        session.method,
        &session.csrf,
        console.options,
    ))
}

/// The session of a request that needs no CSRF token (the application proxy's GETs and
/// POSTs are the application's own), or `None`.
pub(crate) fn session_of(console: &Console, headers: &HeaderMap) -> Option<Session> {
    cookie(headers, console.sessions.cookie_name()).and_then(|id| console.sessions.find(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    #[test]
    fn a_user_signing_in_again_and_again_ends_only_their_own_sessions() {
        let sessions = Sessions::new(ConsoleOptions::default());
        let caller = |name: &str| Caller {
            name: name.to_owned(),
            admin: false,
            session: None,
        };
        let sign_in = |name: &str| {
            sessions
                .create(
                    LoginMethod::ApiToken,
                    format!("token-{name}"),
                    &caller(name),
                )
                .expect("signed in")
                .0
        };
        let bobs = sign_in("bob");
        let alices_first = sign_in("alice");
        for _ in 0..MAX_SESSIONS_PER_USER {
            sign_in("alice");
        }
        assert!(sessions.find(&bobs).is_some(), "bob is still signed in");
        assert!(
            sessions.find(&alices_first).is_none(),
            "alice's least recently used session went"
        );
        let alices = sessions
            .lock()
            .values()
            .filter(|s| s.user == "alice")
            .count();
        assert_eq!(alices, MAX_SESSIONS_PER_USER);
    }

    #[test]
    fn the_session_cookie_is_found_among_others_and_only_alone() {
        let sessions = Sessions::new(ConsoleOptions::default());
        let name = sessions.cookie_name();
        assert!(name.starts_with("cordium_session_") && name.len() == COOKIE.len() + 17);
        assert_ne!(
            name,
            Sessions::new(ConsoleOptions::default()).cookie_name(),
            "a name of each start"
        );
        let h = headers(&[("cookie", &format!("a=1; {name}=abc; b=2"))]);
        assert_eq!(cookie(&h, name), Some("abc"));
        let h = headers(&[
            ("cookie", &format!("x{name}=no")),
            ("cookie", &format!("{name}=yes")),
        ]);
        assert_eq!(cookie(&h, name), Some("yes"));
        assert_eq!(cookie(&headers(&[("cookie", "a=1")]), name), None);
        // Probe round 9: an application on another port of the host set a second cookie of
        // the name for a longer path (sent first): neither is trusted.
        let h = headers(&[("cookie", &format!("{name}=tossed; {name}=own"))]);
        assert_eq!(cookie(&h, name), None);
        // Under TLS the name starts with `__Host-`, and a plain cookie of the same suffix
        // (which another host or path could set) is not read.
        let tls = Sessions::new(ConsoleOptions {
            secure_cookies: true,
            ..ConsoleOptions::default()
        });
        let secure = tls.cookie_name();
        assert!(secure.starts_with("__Host-cordium_session_"));
        let plain = secure.trim_start_matches("__Host-");
        let h = headers(&[("cookie", &format!("{plain}=tossed; {secure}=own"))]);
        assert_eq!(cookie(&h, secure), Some("own"));
    }

    #[test]
    fn only_the_servers_own_origin_passes() {
        let options = ConsoleOptions::default();
        let own = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(same_origin(&own, options));
        let other = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert!(!same_origin(&other, options));
        let missing = headers(&[("host", "127.0.0.1:8080")]);
        assert!(!same_origin(&missing, options), "no Origin is refused");
        let secure = ConsoleOptions {
            secure_cookies: true,
            ..options
        };
        assert!(
            !same_origin(&own, secure),
            "https is another origin than http"
        );
    }

    #[test]
    fn sessions_expire_when_idle_and_when_old() {
        let caller = Caller::user("alice", false);
        let zero = Duration::ZERO;
        let defaults = ConsoleOptions::default();
        for (options, what) in [
            (
                ConsoleOptions {
                    session_idle: zero,
                    ..defaults
                },
                "an idle session is gone",
            ),
            (
                ConsoleOptions {
                    session_max: zero,
                    ..defaults
                },
                "an old session is gone",
            ),
        ] {
            let sessions = Sessions::new(options);
            let (id, _) = sessions
                .create(LoginMethod::ApiToken, "cdm_t".into(), &caller)
                .expect("session");
            assert!(sessions.find(&id).is_none(), "{what}");
        }
        let live = Sessions::new(ConsoleOptions::default());
        let (id, csrf) = live
            .create(LoginMethod::ApiToken, "cdm_t".into(), &caller)
            .expect("session");
        let found = live.find(&id).expect("live");
        assert_eq!(
            (found.user.as_str(), found.token.as_str()),
            ("alice", "cdm_t")
        );
        assert!(same_secret(&csrf, &found.csrf));
        assert!(
            live.find(&csrf).is_none(),
            "the CSRF token is not a session id"
        );
        live.remove(&id);
        assert!(live.find(&id).is_none(), "signed out");
    }

    #[test]
    fn the_cookie_is_http_only_same_site_strict_and_secure_under_tls() {
        let plain =
            set_cookie("abc", "cordium_session_x", ConsoleOptions::default()).expect("cookie");
        let plain = plain.to_str().expect("ascii");
        assert!(
            plain.contains("HttpOnly") && plain.contains("SameSite=Strict"),
            "{plain}"
        );
        assert!(!plain.contains("Secure"), "{plain}");
        let tls = ConsoleOptions {
            secure_cookies: true,
            ..ConsoleOptions::default()
        };
        let secure = set_cookie("abc", "__Host-cordium_session_x", tls).expect("cookie");
        let secure = secure.to_str().expect("ascii");
        assert!(secure.ends_with("; Secure"), "{secure}");
        assert!(
            secure.starts_with("__Host-cordium_session_x=abc; Path=/;"),
            "{secure}"
        );
        let cleared =
            set_cookie("", "cordium_session_x", ConsoleOptions::default()).expect("cookie");
        assert!(cleared.to_str().expect("ascii").contains("Max-Age=0"));
    }
}
