//! The SSH agent of each workspace run: the private keys of the owner's SSH_KEY UserSecrets,
//! served on a unix socket that the runtime mounts into the container (podman:
//! `/run/cordium-agent/agent.sock`, with `SSH_AUTH_SOCK` pointing at it for the main process,
//! tasks, exec, shell and SSH sessions).
//!
//! The keys stay in this process: the container gets a socket, never a key file, so the
//! private key is on no filesystem or volume of the workspace, in no environment variable,
//! command line, `podman inspect` or log. The agent answers the protocol's read-only subset
//! (draft-miller-ssh-agent): `REQUEST_IDENTITIES` (what `ssh-add -L` prints) and
//! `SIGN_REQUEST` (ECDSA P-256 over SHA-256, the keys' type); everything else, adding and
//! removing keys included, is `FAILURE`. It starts before the run's container and ends when
//! the run stops (the socket and its directory go with it).
//!
//! Limits: a request is at most [`MAX_FRAME`] bytes; an agent serves at most
//! [`MAX_CONNECTIONS`] connections at once; a connection silent for [`IDLE_TIMEOUT`] is
//! closed.

use crate::crypto::{put_string, sealing_identity, ssh_public_blob};
use crate::pb;
use crate::pb::workspace_status::GitCredentials;
use crate::service::Api;
use cordium_provisioner::runtime::WorkspaceKey;
use cordium_spec::Kind;
use p256::ecdsa::signature::Signer as _;
use prost::Message as _;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;

/// How long a start waits for the GitProvider to give the owner a token: its outbound calls
/// (a refresh, and the client secret) each have their own, shorter timeouts.
pub const GIT_CHECK_TIMEOUT: Duration = Duration::from_secs(15);

/// The socket's file name in its run's directory.
pub const SOCKET_FILE: &str = "agent.sock";
/// The largest request accepted (a sign request carries a session hash and a little more).
pub const MAX_FRAME: usize = 256 * 1024;
/// Connections one agent serves at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a connection may stay silent.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

const FAILURE: u8 = 5;
const REQUEST_IDENTITIES: u8 = 11;
const IDENTITIES_ANSWER: u8 = 12;
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;

/// One key the agent holds.
#[derive(Clone)]
pub struct AgentKey {
    secret: p256::SecretKey,
    blob: Vec<u8>,
    comment: String,
}

impl std::fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentKey")
            .field("comment", &self.comment)
            .finish_non_exhaustive()
    }
}

impl AgentKey {
    /// A key from its private scalar (an SSH_KEY UserSecret's value); `None` if it is not one.
    pub fn from_scalar(scalar: &[u8], comment: &str) -> Option<Self> {
        let secret = p256::SecretKey::from_slice(scalar).ok()?;
        Some(Self {
            blob: ssh_public_blob(&secret),
            secret,
            comment: comment.to_owned(),
        })
    }
}

/// The agents of the runs on this server, by workspace name; each directory under `dir`.
#[derive(Debug, Clone)]
pub struct Agents {
    dir: PathBuf,
    running: Arc<Mutex<HashMap<String, JoinSet<()>>>>,
}

/// Reads an SSH `string` at the front of `buf`, returning it and the rest.
fn take_string(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = buf.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// An SSH `mpint` from big-endian unsigned bytes.
fn put_mpint(out: &mut Vec<u8>, bytes: &[u8]) {
    let trimmed: &[u8] = {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        &bytes[start..]
    };
    let mut value = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        value.push(0);
    }
    value.extend(trimmed);
    put_string(out, &value);
}

/// The answer to one request (without its length prefix).
fn answer(keys: &[AgentKey], request: &[u8]) -> Vec<u8> {
    let failure = vec![FAILURE];
    let Some((&kind, body)) = request.split_first() else {
        return failure;
    };
    match kind {
        REQUEST_IDENTITIES => {
            let mut out = vec![IDENTITIES_ANSWER];
            out.extend(u32::try_from(keys.len()).unwrap_or(0).to_be_bytes());
            for key in keys {
                put_string(&mut out, &key.blob);
                put_string(&mut out, key.comment.as_bytes());
            }
            out
        }
        SIGN_REQUEST => {
            let Some((blob, rest)) = take_string(body) else {
                return failure;
            };
            let Some((data, _flags)) = take_string(rest) else {
                return failure;
            };
            let Some(key) = keys.iter().find(|k| k.blob == blob) else {
                return failure;
            };
            let signing = p256::ecdsa::SigningKey::from(&key.secret);
            let signature: p256::ecdsa::Signature = signing.sign(data);
            let (r, s) = signature.split_bytes();
            let mut rs = Vec::new();
            put_mpint(&mut rs, &r);
            put_mpint(&mut rs, &s);
            let mut sig = Vec::new();
            put_string(&mut sig, b"ecdsa-sha2-nistp256");
            put_string(&mut sig, &rs);
            let mut out = vec![SIGN_RESPONSE];
            put_string(&mut out, &sig);
            out
        }
        _ => failure,
    }
}

/// Serves one agent connection until it closes, errs, sends too much or stays silent.
async fn serve_connection(mut stream: UnixStream, keys: Arc<Vec<AgentKey>>) {
    loop {
        let mut len = [0u8; 4];
        match tokio::time::timeout(IDLE_TIMEOUT, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let Ok(len) = usize::try_from(u32::from_be_bytes(len)) else {
            return;
        };
        if len > MAX_FRAME {
            return;
        }
        let mut request = vec![0u8; len];
        match tokio::time::timeout(IDLE_TIMEOUT, stream.read_exact(&mut request)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let reply = answer(&keys, &request);
        let mut framed = Vec::with_capacity(reply.len() + 4);
        put_string(&mut framed, &reply);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

/// Accepts connections on `listener`, at most [`MAX_CONNECTIONS`] at once.
async fn accept(listener: UnixListener, keys: Arc<Vec<AgentKey>>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue;
        };
        let keys = Arc::clone(&keys);
        connections.spawn(async move {
            serve_connection(stream, keys).await;
            drop(slot);
        });
    }
}

impl Agents {
    /// Agents with their sockets under `dir` (created, mode 0700).
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        Ok(Self {
            // Absolute: runtimes mount from it.
            dir: std::fs::canonicalize(dir)?,
            running: Arc::default(),
        })
    }

    /// The directory holding every run's socket directory (what the runtime mounts from).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of `name`'s socket: named as the runtime names its objects.
    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.dir.join(WorkspaceKey::new("", name).object_name())
    }

    /// Starts the agent of a run of `name` holding `keys`, replacing one left running.
    pub fn start(&self, name: &str, keys: Vec<AgentKey>) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        self.stop(name);
        let dir = self.run_dir(name);
        std::fs::create_dir_all(&dir)?;
        // The container's user, whoever it is, reaches the socket; the parent (mode 0700)
        // keeps everyone else on this machine out.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        // git's system configuration points here in the container: by default it only
        // includes the image's own (a run with git credentials gets more, `git_credentials`).
        let gitconfig = dir.join(crate::git_credentials::CONFIG_FILE);
        std::fs::write(&gitconfig, "[include]\n\tpath = /etc/gitconfig\n")?;
        std::fs::set_permissions(&gitconfig, std::fs::Permissions::from_mode(0o644))?;
        let socket = dir.join(SOCKET_FILE);
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket)?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666))?;
        let mut task = JoinSet::new();
        task.spawn(accept(listener, Arc::new(keys)));
        if let Ok(mut running) = self.running.lock() {
            running.insert(name.to_owned(), task);
        }
        Ok(())
    }

    /// Ends the agent of `name`'s run (its open connections too) and removes its socket.
    pub fn stop(&self, name: &str) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(name);
        }
        let _ = std::fs::remove_dir_all(self.run_dir(name));
    }

    /// Runs `task` for as long as `name`'s agent runs (it ends with the agent).
    pub fn spawn(&self, name: &str, task: impl std::future::Future<Output = ()> + Send + 'static) {
        if let Ok(mut running) = self.running.lock()
            && let Some(set) = running.get_mut(name)
        {
            set.spawn(task);
        }
    }

    /// Whether `name` has an agent running.
    pub fn is_running(&self, name: &str) -> bool {
        self.running
            .lock()
            .is_ok_and(|running| running.contains_key(name))
    }
}

impl Api {
    /// Starts the agent of a run of workspace `name` with its owner's SSH_KEY UserSecrets (a
    /// key that cannot be read is left out and logged without its value). Nothing when this
    /// server has no agents.
    ///
    /// With `git`, the run's directory also gets the git credential socket and configuration
    /// ([`crate::git_credentials`]) for the owner's connected account. Returns what the run's
    /// status says of its git credentials.
    pub(crate) async fn start_agent(
        &self,
        name: &str,
        git: Option<&crate::git_credentials::GitRun>,
    ) -> GitCredentials {
        let without_agent = if git.is_some() {
            GitCredentials::Unavailable
        } else {
            GitCredentials::Unset
        };
        let Some(agents) = &self.agents else {
            return without_agent;
        };
        let keys = match self.agent_keys(name).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(workspace = name, "ssh agent: {e}");
                Vec::new()
            }
        };
        if let Err(e) = agents.start(name, keys) {
            tracing::warn!(workspace = name, "ssh agent: {e}");
            return without_agent;
        }
        match git {
            Some(git) => self.start_git_credentials(agents, name, git).await,
            None => GitCredentials::Unset,
        }
    }

    /// Ends the agent of `name`'s run.
    pub(crate) fn stop_agent(&self, name: &str) {
        if let Some(agents) = &self.agents {
            agents.stop(name);
        }
    }

    /// The owner of `name`'s SSH_KEY UserSecrets, unsealed.
    async fn agent_keys(&self, name: &str) -> Result<Vec<AgentKey>, crate::store::StoreError> {
        let Some(workspace) = self.store.get(Kind::Workspace, "", name).await? else {
            return Ok(Vec::new());
        };
        let owner = workspace.owner;
        let mut keys = Vec::new();
        for record in self.store.list(Kind::UserSecret, Some(&owner)).await? {
            let is_key = pb::UserSecret::decode(record.body.as_slice())
                .is_ok_and(|s| s.r#type() == pb::UserSecretType::SshKey);
            if !is_key {
                continue;
            }
            let Some(sealed) = self
                .store
                .secret_ciphertext(Kind::UserSecret, &owner, &record.name)
                .await?
            else {
                continue;
            };
            let identity = sealing_identity(Kind::UserSecret, &owner, &record.name);
            let comment = format!("{owner}/{}", record.name);
            match self.secrets.open(&sealed, &identity) {
                Ok(scalar) => keys.extend(AgentKey::from_scalar(&scalar, &comment)),
                Err(_) => tracing::warn!(
                    secret = record.name,
                    "ssh agent: an SSH_KEY UserSecret could not be opened"
                ),
            }
        }
        Ok(keys)
    }
}

impl Api {
    /// Serves `git`'s credentials in `name`'s agent directory, and says whether the provider
    /// gave the owner a token ([`Api::git_credentials_now`]); a failure is logged and the run
    /// goes on without git credentials.
    async fn start_git_credentials(
        &self,
        agents: &Agents,
        name: &str,
        git: &crate::git_credentials::GitRun,
    ) -> GitCredentials {
        let profile = match self
            .store
            .git_connection(&git.owner, &git.space, &git.provider)
            .await
        {
            Ok(Some(row)) => (row.name, row.email),
            Ok(None) => {
                tracing::info!(workspace = name, provider = %git.provider, "the owner has not connected this GitProvider: the run has no git credentials");
                (String::new(), String::new())
            }
            Err(e) => {
                tracing::warn!(workspace = name, "git credentials: {e}");
                (String::new(), String::new())
            }
        };
        let mounted = cordium_provisioner::podman::agent::AGENT_DIR;
        match crate::git_credentials::bind(&agents.run_dir(name), mounted, &profile.0, &profile.1) {
            Ok(listener) => agents.spawn(
                name,
                crate::git_credentials::accept(listener, self.clone(), git.clone()),
            ),
            Err(e) => {
                tracing::warn!(workspace = name, "git credentials: {e}");
                return GitCredentials::Unavailable;
            }
        }
        self.git_credentials_now(name, git).await
    }

    /// Whether the provider gives `git`'s owner a token now (refreshing it if it is due),
    /// waiting at most [`GIT_CHECK_TIMEOUT`]: a provider that is down or slow delays a start
    /// by that much at most, and the run then starts without credentials and says so.
    async fn git_credentials_now(
        &self,
        name: &str,
        git: &crate::git_credentials::GitRun,
    ) -> GitCredentials {
        let asked = self.git_credential(&git.owner, &git.space, &git.provider);
        match tokio::time::timeout(GIT_CHECK_TIMEOUT, asked).await {
            Ok(Ok(Some(_))) => GitCredentials::Ready,
            Ok(Ok(None)) => GitCredentials::NotConnected,
            Ok(Err(status)) => {
                tracing::warn!(workspace = name, provider = %git.provider, "git credentials unavailable: {}", status.message());
                GitCredentials::Unavailable
            }
            Err(_) => {
                tracing::warn!(workspace = name, provider = %git.provider, "git credentials unavailable: the provider did not answer within {GIT_CHECK_TIMEOUT:?}");
                GitCredentials::Unavailable
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_listed_and_only_known_keys_sign() {
        let (scalar, public) = crate::crypto::new_ssh_key("a@b").expect("key");
        let key = AgentKey::from_scalar(&scalar, "alice/git").expect("a P-256 scalar");
        use base64::Engine as _;
        let blob_b64 = public.split_whitespace().nth(1).expect("blob");
        let blob = base64::engine::general_purpose::STANDARD
            .decode(blob_b64)
            .expect("base64");
        assert_eq!(key.blob, blob);
        let keys = vec![key];
        let listed = answer(&keys, &[REQUEST_IDENTITIES]);
        assert_eq!(listed[0], IDENTITIES_ANSWER);
        assert_eq!(&listed[1..5], &1u32.to_be_bytes());
        let mut sign = vec![SIGN_REQUEST];
        put_string(&mut sign, &blob);
        put_string(&mut sign, b"session data");
        sign.extend(0u32.to_be_bytes());
        assert_eq!(answer(&keys, &sign)[0], SIGN_RESPONSE);
        let mut unknown = vec![SIGN_REQUEST];
        put_string(&mut unknown, b"other");
        put_string(&mut unknown, b"x");
        assert_eq!(answer(&keys, &unknown), vec![FAILURE]);
        assert_eq!(
            answer(&keys, &[17]),
            vec![FAILURE],
            "adding keys is refused"
        );
        assert_eq!(answer(&keys, &[]), vec![FAILURE]);
        assert!(!format!("{:?}", keys[0]).contains("secret"));
    }

    #[test]
    fn mpints_are_positive_and_minimal() {
        let mut out = Vec::new();
        put_mpint(&mut out, &[0, 0, 0x80, 1]);
        assert_eq!(out, vec![0, 0, 0, 3, 0, 0x80, 1]);
        let mut small = Vec::new();
        put_mpint(&mut small, &[0, 0x7f]);
        assert_eq!(small, vec![0, 0, 0, 1, 0x7f]);
    }
}
