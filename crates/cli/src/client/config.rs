//! The saved login: `{server, token}` in a JSON file only its owner can read, and how flags,
//! environment variables and the file combine.

use super::error::ClientError;
use crate::args::ServerArgs;
use std::path::{Path, PathBuf};

/// What `cordium login` saves.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Saved {
    /// The server's URL.
    pub(crate) server: String,
    /// The API token, OIDC ID token or workload token.
    pub(crate) token: String,
    /// How to refresh `token` when it is an OIDC ID token (`login --oidc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) oidc: Option<OidcSession>,
    /// How to get `token` again when it is a workload token (`login --workload-token-file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) workload: Option<WorkloadSession>,
}

/// An OIDC sign-in's refresh state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct OidcSession {
    /// The issuer.
    pub(crate) issuer: String,
    /// The client id.
    pub(crate) client_id: String,
    /// The issuer's token endpoint.
    pub(crate) token_endpoint: String,
    /// The refresh token, when the issuer gave one.
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
    /// When the ID token expires (seconds since the epoch).
    pub(crate) expires_at: u64,
    /// The extra CA file the issuer's HTTPS needs.
    #[serde(default)]
    pub(crate) ca_file: Option<PathBuf>,
}

/// A workload sign-in: where the platform token is read again.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct WorkloadSession {
    /// The platform token's file (absolute).
    pub(crate) token_file: PathBuf,
    /// When the workload token expires (seconds since the epoch).
    pub(crate) expires_at: u64,
}

/// Where the login is kept: `$CORDIUM_CONFIG`, else `$XDG_CONFIG_HOME/cordium/config.json`,
/// else `~/.config/cordium/config.json`.
pub(crate) fn path() -> Result<PathBuf, ClientError> {
    let set = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(path) = set("CORDIUM_CONFIG") {
        return Ok(path);
    }
    // The XDG specification ignores relative paths.
    if let Some(dir) = set("XDG_CONFIG_HOME").filter(|d| d.is_absolute()) {
        return Ok(dir.join("cordium").join("config.json"));
    }
    match set("HOME") {
        Some(home) => Ok(home.join(".config").join("cordium").join("config.json")),
        None => Err(ClientError::Usage(
            "no place to keep the login: set CORDIUM_CONFIG, XDG_CONFIG_HOME or HOME".into(),
        )),
    }
}

/// The most bytes a saved login may hold (one is a few hundred).
const MAX_SAVED_BYTES: u64 = 1 << 20;

/// The saved login at `path`, if there is one. Only a regular file of at most
/// [`MAX_SAVED_BYTES`] is read: `CORDIUM_CONFIG` may name anything (`/dev/zero`, a FIFO).
pub(crate) fn load(path: &Path) -> Result<Option<Saved>, ClientError> {
    use std::io::Read as _;
    let unreadable =
        |why: String| ClientError::Usage(format!("cannot read {}: {why}", path.display()));
    // Looked at before it is opened: opening a FIFO waits for a writer.
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => {}
        Ok(_) => return Err(unreadable("not a regular file".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e.to_string())),
    }
    let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_SAVED_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| unreadable(e.to_string()))?;
    if text.len() as u64 > MAX_SAVED_BYTES {
        return Err(unreadable(format!(
            "larger than {} KiB, which no saved login is",
            MAX_SAVED_BYTES >> 10
        )));
    }
    serde_json::from_str(&text).map(Some).map_err(|e| {
        ClientError::Usage(format!(
            "{} is not a saved login ({e}); run `cordium login` again",
            path.display()
        ))
    })
}

/// Saves `login` to `path`, readable and writable by its owner only (mode 0600), replacing
/// the file in one step.
pub(crate) fn save(path: &Path, login: &Saved) -> Result<(), ClientError> {
    let fail = |e: std::io::Error| {
        ClientError::Usage(format!("cannot save the login to {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(fail)?;
    }
    let text = serde_json::to_string_pretty(login).unwrap_or_default() + "\n";
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    write_private(&temporary, text.as_bytes()).map_err(fail)?;
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        fail(e)
    })
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // A file left over from an earlier attempt keeps its mode; make sure.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// The server and token to use: flags and environment variables (clap reads both), else the
/// saved login.
pub(crate) fn resolve(args: &ServerArgs) -> Result<Saved, ClientError> {
    let given = |v: &Option<String>| {
        v.as_ref()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let (mut server, mut token) = (given(&args.server), given(&args.token));
    let (mut oidc, mut workload) = (None, None);
    if (server.is_none() || token.is_none())
        && let Some(saved) = load(&path()?)?
    {
        if token.is_none() {
            // Only a saved token is refreshed from the saved state.
            (oidc, workload) = (saved.oidc, saved.workload);
        }
        server = server.or(Some(saved.server));
        token = token.or(Some(saved.token));
    }
    let server = server.ok_or_else(|| {
        ClientError::Usage(
            "no server configured: run `cordium login --server URL --token TOKEN`, or pass --server (or set CORDIUM_SERVER)".into(),
        )
    })?;
    let token = token.ok_or_else(|| {
        ClientError::Usage(format!(
            "no token for {server}: run `cordium login --server {server} --token TOKEN`, or pass --token (or set CORDIUM_TOKEN)"
        ))
    })?;
    Ok(Saved {
        server,
        token,
        oidc,
        workload,
    })
}
