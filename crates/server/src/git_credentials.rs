//! A run's git credentials, secretless inside the container: the server answers git's own
//! `credential-cache` protocol on a unix socket in the run's agent directory (podman mounts
//! it read-only at `/run/cordium-agent`), and a git configuration file beside it names that
//! socket as the credential helper and sets `user.name`/`user.email` from the profile of the
//! owner's connected account at the Template's GitProvider.
//!
//! Decisions:
//! - **No helper binary in the image.** git's built-in `git credential-cache --socket PATH`
//!   is the client: it sends `action=get`, `timeout=N` and git's request (`protocol`, `host`,
//!   `path`...) then shuts its write side, and prints what it reads back. This server speaks
//!   the daemon's side: for `get` of one of the provider's hosts over `https` it answers
//!   `username` and `password` (a fresh access token, refreshed before expiry); `store`,
//!   `erase` and `exit` are ignored. The token is asked for per request and handed to git on
//!   a pipe: never on the container's disk, in its environment, `podman inspect` or `ps`.
//! - **The socket is the run's credential.** It exists only during the run, in the run's own
//!   directory, and serves only the owner's account at the GitProvider the workspace's
//!   Template attaches, only for that provider's hosts; the run's session credential gains no
//!   new gRPC permission.
//! - **The configuration is git's system level** (`GIT_CONFIG_SYSTEM`, set by the podman
//!   backend, including the image's own `/etc/gitconfig`), so the user's `git config
//!   --global` still wins and nothing is written into HOME.
//! - **Never blocking a start**: nothing here calls the provider when the run starts (the
//!   profile is stored); a provider that is down makes a `get` answer nothing after the
//!   outbound timeouts, and git reports that it has no credentials.
//!
//! Limits: a request is at most [`MAX_REQUEST`] bytes and must arrive within
//! [`REQUEST_TIMEOUT`]; at most [`MAX_CONNECTIONS`] are served at once.

use crate::service::Api;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{UnixListener, UnixStream};

/// The socket's file name in the run's directory.
pub const SOCKET_FILE: &str = "git.sock";
/// The git configuration's file name in the run's directory.
pub const CONFIG_FILE: &str = "gitconfig";
/// The largest request accepted.
pub const MAX_REQUEST: usize = 64 * 1024;
/// How long a request may take to arrive.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 16;

/// Which account a run's git uses: the owner's connection to `space`/`provider`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRun {
    /// The workspace's owner.
    pub owner: String,
    /// The Space of the GitProvider (the workspace's).
    pub space: String,
    /// The GitProvider the Template attaches.
    pub provider: String,
}

/// A value quoted for a git configuration file (no newlines; `"` and `\` escaped).
fn quoted(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            other => vec![other],
        })
        .collect();
    format!("\"{clean}\"")
}

/// The run's git configuration: the image's system configuration, the credential helper on
/// `socket` (the path inside the container), and the profile's name and email when known.
pub fn config_text(socket: &str, name: &str, email: &str) -> String {
    let mut text = format!(
        "[include]\n\tpath = /etc/gitconfig\n[credential]\n\thelper = {}\n",
        quoted(&format!("cache --socket {socket}"))
    );
    if !name.is_empty() || !email.is_empty() {
        text.push_str("[user]\n");
        if !name.is_empty() {
            text.push_str(&format!("\tname = {}\n", quoted(name)));
        }
        if !email.is_empty() {
            text.push_str(&format!("\temail = {}\n", quoted(email)));
        }
    }
    text
}

/// git's answer lines for a credential, or `None` when a value holds a line break (or NUL),
/// which would add attributes of its own to the answer.
fn credential_lines(username: &str, token: &str) -> Option<String> {
    let clean = |v: &str| !v.contains(['\n', '\r', '\0']);
    (clean(username) && clean(token)).then(|| format!("username={username}\npassword={token}\n"))
}

/// The answer to one credential-cache request.
async fn answer(api: &Api, run: &GitRun, request: &str) -> String {
    let field = |name: &str| {
        request
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
    };
    if field("action") != Some("get") || field("protocol") != Some("https") {
        return String::new();
    }
    let Some(host) = field("host") else {
        return String::new();
    };
    match api
        .git_credential(&run.owner, &run.space, &run.provider)
        .await
    {
        Ok(Some(credential)) if credential.hosts.iter().any(|h| h == host) => {
            credential_lines(&credential.username, &credential.token).unwrap_or_else(|| {
                tracing::warn!(user = %run.owner, provider = %run.provider, "git credentials refused: the provider's login or token holds a line break");
                String::new()
            })
        }
        Ok(Some(_)) => String::new(),
        Ok(None) => {
            tracing::info!(user = %run.owner, provider = %run.provider, "git credentials asked for, but the account is not connected (`cordium git connect`)");
            String::new()
        }
        Err(status) => {
            tracing::warn!(user = %run.owner, provider = %run.provider, "git credentials: {}", status.message());
            String::new()
        }
    }
}

async fn serve_connection(mut stream: UnixStream, api: Api, run: Arc<GitRun>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(REQUEST_TIMEOUT, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return true,
                Ok(n) if request.len() + n <= MAX_REQUEST => request.extend_from_slice(&buf[..n]),
                _ => return false,
            }
        }
    })
    .await;
    if read != Ok(true) {
        return;
    }
    let text = String::from_utf8_lossy(&request);
    let reply = answer(&api, &run, &text).await;
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Accepts connections on `listener` for as long as the run's agent task lives.
pub async fn accept(listener: UnixListener, api: Api, run: GitRun) {
    let run = Arc::new(run);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue;
        };
        let (api, run) = (api.clone(), Arc::clone(&run));
        tokio::spawn(async move {
            serve_connection(stream, api, run).await;
            drop(slot);
        });
    }
}

/// Writes the run's git configuration into `dir` (the run's agent directory, mounted at
/// `mounted` in the container) and binds its socket there (mode 0666: the container's user,
/// whoever it is, reaches it; the parent directory keeps everyone else out).
pub fn bind(dir: &Path, mounted: &str, name: &str, email: &str) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt as _;
    let config = dir.join(CONFIG_FILE);
    std::fs::write(
        &config,
        config_text(&format!("{mounted}/{SOCKET_FILE}"), name, email),
    )?;
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644))?;
    let socket = dir.join(SOCKET_FILE);
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_with_a_line_break_is_never_answered() {
        assert_eq!(
            credential_lines("octocat", "t0ken").as_deref(),
            Some("username=octocat\npassword=t0ken\n")
        );
        assert_eq!(credential_lines("octo\nhost=evil.example", "t"), None);
        assert_eq!(credential_lines("octocat", "t\rquit=1"), None);
    }

    #[test]
    fn the_configuration_names_the_socket_and_quotes_the_profile() {
        let text = config_text(
            "/run/cordium-agent/git.sock",
            "Ann \"A\" O'Neil\n",
            "ann@example.test",
        );
        assert!(
            text.contains("helper = \"cache --socket /run/cordium-agent/git.sock\""),
            "{text}"
        );
        assert!(text.contains("name = \"Ann \\\"A\\\" O'Neil\""), "{text}");
        assert!(text.contains("email = \"ann@example.test\""), "{text}");
        assert!(!config_text("/s", "", "").contains("[user]"));
    }
}
