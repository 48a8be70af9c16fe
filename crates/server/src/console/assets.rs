//! The page and its assets, embedded at build time (no Node.js needed to build the server):
//! `crates/server/console/index.html` and the bundle `scripts/build-console.sh` writes to
//! `crates/server/console/dist/` (committed).
//!
//! Every console response carries [`CONTENT_SECURITY_POLICY`]
//! and friends (`security_headers`). The policy allows scripts from this origin only (the
//! page has no inline script and builds its DOM with `textContent`, never `innerHTML`);
//! styles also allow `'unsafe-inline'`, because xterm.js sizes its rows with a `<style>`
//! element it writes at run time.

use super::Console;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

/// The page.
pub const INDEX_HTML: &str = include_str!("../../console/index.html");
/// The bundled script (the page's code and xterm.js), minified.
pub const APP_JS: &[u8] = include_bytes!("../../console/dist/app.js");
/// The bundled styles (the page's and xterm.js's).
pub const APP_CSS: &[u8] = include_bytes!("../../console/dist/app.css");

/// The console's Content-Security-Policy.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Where the assets are served (a prefix no application path is likely to use).
pub const ASSET_PREFIX: &str = "/_console/";

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The console's fallback route: the page at `/` and the assets; anything else is 404
/// (applications are not served on the console's origin, see [`super::proxy`]).
pub(crate) async fn serve(State(_): State<Console>, uri: Uri) -> Response {
    match uri.path() {
        "/" | "/index.html" => asset("text/html; charset=utf-8", INDEX_HTML.as_bytes()),
        "/_console/app.js" => asset("text/javascript; charset=utf-8", APP_JS),
        "/_console/app.css" => asset("text/css; charset=utf-8", APP_CSS),
        path if path.starts_with("/w/") => (
            StatusCode::NOT_FOUND,
            "applications are served on their own port (`serve --http-apps-listen`), not here",
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// The applications' fallback route: a request whose `Referer` is an application page is
/// redirected into that application (so the `/src/main.js` of a dev server works); anything
/// else is 404.
pub(crate) async fn into_application(uri: Uri, headers: HeaderMap) -> Response {
    match application_of_referer(&headers) {
        Some(prefix) => {
            let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            Redirect::temporary(&format!("{prefix}{}{query}", uri.path())).into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// `/w/WS/APP` when the request's `Referer` is a page of this server under it.
fn application_of_referer(headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let rest = referer
        .strip_prefix("http://")
        .or_else(|| referer.strip_prefix("https://"))?
        .strip_prefix(host)?;
    let mut parts = rest.strip_prefix("/w/")?.splitn(3, '/');
    let (workspace, app) = (parts.next()?, parts.next()?);
    parts.next()?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    };
    (plain(workspace) && plain(app)).then(|| format!("/w/{workspace}/{app}"))
}

/// Adds the console's security headers to every console response (the applications' are
/// their own, on their own origin).
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set("content-security-policy", CONTENT_SECURITY_POLICY);
    set("x-content-type-options", "nosniff");
    set("x-frame-options", "DENY");
    set("referrer-policy", "same-origin");
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_builds_its_dom_without_html_strings() {
        let source = include_str!("../../console/src/main.js");
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!source.contains(sink), "main.js uses {sink}");
        }
        assert!(
            !INDEX_HTML.contains("<script>"),
            "no inline script (the CSP forbids it)"
        );
    }

    #[test]
    fn absolute_paths_of_an_application_page_go_back_into_it() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://127.0.0.1:8080/w/ws1/web/index.html"),
        );
        assert_eq!(application_of_referer(&h).as_deref(), Some("/w/ws1/web"));
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://evil.example/w/ws1/web/index.html"),
        );
        assert_eq!(application_of_referer(&h), None, "another host's page");
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://127.0.0.1:8080/#/workspaces"),
        );
        assert_eq!(application_of_referer(&h), None, "the console's own page");
    }
}
