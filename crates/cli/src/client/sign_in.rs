//! Signing in without an API token: `cordium login --oidc ISSUER_URL` (authorization code
//! with PKCE and a loopback redirect, RFC 8252) and `cordium login --workload-token-file F`;
//! and keeping those logins fresh before each command ([`refreshed`]).
//!
//! Decisions:
//! - The CLI is a public client: no client secret; PKCE (S256) and a random `state` protect
//!   the code. The redirect is `http://127.0.0.1:PORT/callback` on a port the CLI binds, and
//!   the URL to open is printed on standard error (no browser is launched: the same command
//!   works over SSH, where the browser is on another machine and the user forwards the port).
//! - The loopback listener answers only `GET /callback` with the right `state`; every other
//!   request gets an error page and the wait goes on. Each connection has 10 s and 8 KiB to
//!   send its request; the whole wait is [`SIGN_IN_WAIT`].
//! - All HTTPS goes through [`cordium_api::outbound::Outbound`] (no redirects, timeouts);
//!   error texts carry the OAuth2 error code, never a code or token.
//! - The ID token is the bearer the server verifies; it is refreshed (refresh token grant)
//!   when it expires within [`REFRESH_MARGIN_SECS`], and the config file (mode 0600) is
//!   rewritten. A workload token is exchanged again from its file when it expires.

use super::config::{self, OidcSession, Saved, WorkloadSession};
use super::connect::{connect, normalize};
use super::error::ClientError;
use crate::login_args::LoginArgs;
use crate::output::Output;
use base64::Engine as _;
use cordium_api as pb;
use cordium_api::outbound::{Outbound, OutboundError, Url};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How long `login --oidc` waits for the browser to come back.
pub(crate) const SIGN_IN_WAIT: Duration = Duration::from_secs(300);

/// An ID token expiring sooner than this is refreshed before use.
pub(crate) const REFRESH_MARGIN_SECS: u64 = 60;

/// The most bytes a platform token file may hold.
const MAX_TOKEN_FILE_BYTES: u64 = 16 * 1024;

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn outbound(ca_file: Option<&std::path::Path>) -> Result<Outbound, ClientError> {
    Outbound::new(ca_file).map_err(|e| ClientError::Usage(e.to_string()))
}

/// An issuer that could not be used: unreachable (exit 2, like a server) or refusing.
fn issuer_error(issuer: &str, e: OutboundError) -> ClientError {
    match e {
        OutboundError::Request { reason, .. } => ClientError::Connect {
            server: issuer.to_owned(),
            reason,
        },
        other => ClientError::Usage(format!("OIDC issuer {issuer}: {other}")),
    }
}

#[derive(serde::Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    refresh_token: Option<String>,
}

/// `cordium login --oidc ISSUER_URL`.
pub(super) async fn login_oidc(
    args: &LoginArgs,
    issuer: &str,
    out: &mut Output,
) -> Result<(), ClientError> {
    let server = server_of(args)?;
    let issuer = issuer.trim().trim_end_matches('/').to_owned();
    let client = outbound(args.ca_file.as_deref())?;
    let discovery: Discovery = client
        .get_json(&format!("{issuer}/.well-known/openid-configuration"))
        .await
        .map_err(|e| issuer_error(&issuer, e))?;
    if discovery.issuer.trim_end_matches('/') != issuer {
        return Err(ClientError::Usage(format!(
            "{issuer}'s discovery document names another issuer, `{}`",
            discovery.issuer
        )));
    }
    let verifier = random_text()?;
    let state = random_text()?;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    let (listener, redirect) = loopback().await?;
    let mut url = Url::parse(&discovery.authorization_endpoint)
        .map_err(|e| ClientError::Usage(format!("{issuer}: bad authorization_endpoint: {e}")))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &args.client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", &args.scope)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "consent");
    let code = code_from_browser(&listener, url.as_str(), &state, "sign in", out).await?;
    let answer: TokenAnswer = client
        .post_form(
            &discovery.token_endpoint,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect),
                ("client_id", &args.client_id),
                ("code_verifier", &verifier),
            ],
        )
        .await
        .map_err(|e| issuer_error(&issuer, e))?;
    let id_token = answer.id_token.ok_or_else(|| {
        ClientError::Usage(format!(
            "{issuer} gave no ID token (is `openid` in --scope?)"
        ))
    })?;
    let login = Saved {
        server,
        oidc: Some(OidcSession {
            issuer,
            client_id: args.client_id.clone(),
            token_endpoint: discovery.token_endpoint,
            refresh_token: answer.refresh_token,
            expires_at: expiry(&id_token),
            ca_file: args.ca_file.as_deref().map(absolute),
        }),
        token: id_token,
        workload: None,
    };
    check_and_save(login, out).await
}

/// `cordium login --github`: the server's GitHub app, the code through a loopback port.
pub(super) async fn login_github(args: &LoginArgs, out: &mut Output) -> Result<(), ClientError> {
    let server = server_of(args)?;
    let anonymous = Saved {
        server: server.clone(),
        ..Saved::default()
    };
    let mut client = connect(&anonymous).await?;
    let (listener, redirect) = loopback().await?;
    let answer = client
        .api
        .begin_git_hub_sign_in(pb::BeginGitHubSignInRequest {
            redirect_uri: redirect,
        })
        .await;
    let begun = client.answer(answer)?;
    let code = code_from_browser(
        &listener,
        &begun.authorization_url,
        &begun.state,
        "sign in with GitHub",
        out,
    )
    .await?;
    let answer = client
        .api
        .finish_git_hub_sign_in(pb::FinishGitConnectRequest {
            state: begun.state,
            code,
            flow: begun.flow,
        })
        .await;
    let given = client.answer(answer)?;
    let login = Saved {
        server,
        token: given.token,
        ..Saved::default()
    };
    check_and_save(login, out).await
}

/// A listener on a free loopback port and the redirect URI naming it.
pub(super) async fn loopback() -> Result<(tokio::net::TcpListener, String), ClientError> {
    let fail =
        |e: std::io::Error| ClientError::Usage(format!("cannot listen on a loopback port: {e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(fail)?;
    let port = listener.local_addr().map_err(fail)?.port();
    Ok((listener, format!("http://127.0.0.1:{port}/callback")))
}

/// `cordium login --workload-token-file FILE`.
pub(super) async fn login_workload(
    args: &LoginArgs,
    file: &std::path::Path,
    out: &mut Output,
) -> Result<(), ClientError> {
    let login = Saved {
        server: server_of(args)?,
        token: String::new(),
        oidc: None,
        workload: Some(WorkloadSession {
            token_file: absolute(file),
            expires_at: 0,
        }),
    };
    let login = exchange(login).await?;
    check_and_save(login, out).await
}

/// The login to use: `login` itself, or with its ID token refreshed or its workload token
/// exchanged again (and saved) when it expires soon.
pub(crate) async fn refreshed(login: Saved) -> Result<Saved, ClientError> {
    let soon = now_secs() + REFRESH_MARGIN_SECS;
    let fresh = match (&login.oidc, &login.workload) {
        (Some(session), _) if session.expires_at <= soon => refresh(login.clone()).await?,
        (None, Some(session)) if session.expires_at <= soon => exchange(login.clone()).await?,
        _ => return Ok(login),
    };
    config::save(&config::path()?, &fresh)?;
    Ok(fresh)
}

/// The refresh token grant at the issuer.
async fn refresh(mut login: Saved) -> Result<Saved, ClientError> {
    let Some(session) = login.oidc.as_mut() else {
        return Ok(login);
    };
    let again = format!("run `cordium login --oidc {}` again", session.issuer);
    let Some(refresh_token) = session.refresh_token.clone() else {
        return Err(ClientError::Usage(format!(
            "the OIDC sign-in expired and the issuer gave no refresh token; {again}"
        )));
    };
    let client = outbound(session.ca_file.as_deref())?;
    let answer: TokenAnswer = client
        .post_form(
            &session.token_endpoint,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
                ("client_id", &session.client_id),
            ],
        )
        .await
        .map_err(|e| match e {
            OutboundError::Status { .. } => {
                ClientError::Usage(format!("refreshing the OIDC sign-in failed: {e}; {again}"))
            }
            other => issuer_error(&session.issuer, other),
        })?;
    let id_token = answer.id_token.ok_or_else(|| {
        ClientError::Usage(format!("the issuer's refresh gave no ID token; {again}"))
    })?;
    session.expires_at = expiry(&id_token);
    if let Some(rotated) = answer.refresh_token {
        session.refresh_token = Some(rotated);
    }
    login.token = id_token;
    Ok(login)
}

/// ExchangeWorkloadToken with the platform token read from the session's file.
async fn exchange(mut login: Saved) -> Result<Saved, ClientError> {
    let Some(session) = login.workload.as_mut() else {
        return Ok(login);
    };
    let file = &session.token_file;
    let unreadable = |e: String| ClientError::Usage(format!("{}: {e}", file.display()));
    let size = std::fs::metadata(file)
        .map_err(|e| unreadable(e.to_string()))?
        .len();
    if size > MAX_TOKEN_FILE_BYTES {
        return Err(unreadable(format!(
            "larger than {MAX_TOKEN_FILE_BYTES} bytes; a platform token is a JWT"
        )));
    }
    let platform = std::fs::read_to_string(file).map_err(|e| unreadable(e.to_string()))?;
    let anonymous = Saved {
        server: login.server.clone(),
        ..Saved::default()
    };
    let mut client = connect(&anonymous).await?;
    let answer = client
        .api
        .exchange_workload_token(pb::ExchangeWorkloadTokenRequest {
            token: platform.trim().to_owned(),
        })
        .await;
    let given = client.answer(answer)?;
    session.expires_at = given
        .expire_time
        .and_then(|t| u64::try_from(t.seconds).ok())
        .unwrap_or(0);
    login.token = given.token;
    Ok(login)
}

/// Checks `login` with a cheap call, saves it and says who is logged in.
pub(super) async fn check_and_save(login: Saved, out: &mut Output) -> Result<(), ClientError> {
    let mut client = connect(&login).await?;
    let answer = client.api.get_user_config(pb::Empty {}).await;
    let config = client.answer(answer)?;
    let user = config.metadata.map(|m| m.name).unwrap_or_default();
    let path = config::path()?;
    config::save(&path, &login)?;
    out.out(&format!(
        "logged in to {} as {user}; saved to {}\n",
        login.server,
        path.display()
    ));
    Ok(())
}

fn server_of(args: &LoginArgs) -> Result<String, ClientError> {
    let server = args
        .server
        .server
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ClientError::Usage(
                "say which server: --server http://HOST:PORT (or CORDIUM_SERVER)".into(),
            )
        })?;
    normalize(server)
}

fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// 32 random bytes as base64url (a PKCE verifier, a `state`).
fn random_text() -> Result<String, ClientError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ClientError::Usage(format!("no randomness from the system: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The `exp` of a JWT (read, not verified: the server verifies), 0 when it has none.
fn expiry(jwt: &str) -> u64 {
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: u64,
    }
    jwt.split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Exp>(&b).ok())
        .map_or(0, |e| e.exp)
}

/// Asks the user to open `url` in a browser (to do `purpose`) and waits, at most
/// [`SIGN_IN_WAIT`], for the code its redirect brings to `listener` with `state`: the one
/// browser round trip of `login --oidc`, `login --github` and `git connect`.
pub(super) async fn code_from_browser(
    listener: &tokio::net::TcpListener,
    url: &str,
    state: &str,
    purpose: &str,
    out: &mut Output,
) -> Result<String, ClientError> {
    out.err(&format!(
        "open this URL in a browser to {purpose} (waiting {} s):\n{url}\n",
        SIGN_IN_WAIT.as_secs()
    ));
    tokio::time::timeout(SIGN_IN_WAIT, receive_code(listener, state))
        .await
        .map_err(|_| {
            ClientError::Usage(
                "no answer came back from the browser in time; run the command again".into(),
            )
        })?
}

/// Waits on `listener` for the browser's `GET /callback?code=...&state=STATE`; returns the
/// code. Other requests get an error page and the wait goes on; an `error` from the issuer
/// ends it.
async fn receive_code(
    listener: &tokio::net::TcpListener,
    state: &str,
) -> Result<String, ClientError> {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let Ok(Some(target)) =
            tokio::time::timeout(Duration::from_secs(10), request_target(&mut stream)).await
        else {
            continue;
        };
        let Ok(url) = Url::parse(&format!("http://127.0.0.1{target}")) else {
            continue;
        };
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        if url.path() != "/callback" || param("state").as_deref() != Some(state) {
            reply(
                &mut stream,
                "404 Not Found",
                "Not the sign-in this command waits for.",
            )
            .await;
            continue;
        }
        if let Some(error) = param("error") {
            reply(
                &mut stream,
                "400 Bad Request",
                "The sign-in was refused; see the terminal.",
            )
            .await;
            let error: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            return Err(ClientError::Usage(format!(
                "the issuer refused the sign-in: {error}"
            )));
        }
        if let Some(code) = param("code") {
            reply(
                &mut stream,
                "200 OK",
                "Signed in to Cordium; you can close this window.",
            )
            .await;
            return Ok(code);
        }
        reply(&mut stream, "400 Bad Request", "No code in this answer.").await;
    }
}

/// The request target of an HTTP/1 request's first line, reading at most 8 KiB.
async fn request_target(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() + n > 8 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = std::str::from_utf8(&head).ok()?.lines().next()?.to_owned();
    let mut parts = line.split(' ');
    (parts.next()? == "GET").then_some(())?;
    let target = parts.next()?;
    target.starts_with('/').then(|| target.to_owned())
}

async fn reply(stream: &mut tokio::net::TcpStream, status: &str, text: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expiry_of_a_jwt_is_read_from_its_payload() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":1234}"#);
        assert_eq!(expiry(&format!("h.{payload}.s")), 1234);
        assert_eq!(expiry("not a jwt"), 0);
    }
}
