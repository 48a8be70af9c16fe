//! Standard SSH into workspaces, served by `cordium-server serve --ssh-listen ADDR` (russh).
//!
//! - **Login**: the SSH user names the workspace, `WORKSPACE` or `WORKSPACE+SPACE` (names
//!   never contain `+`; Space names contain dots, so `+` keeps both readable:
//!   `ssh -p 2222 x7k+team.alice@host`). Public-key authentication only, with the keys users
//!   register (`cordium ssh-key add`); a key opens only its owner's workspaces. A wrong key,
//!   another user's key, another user's workspace and a missing workspace are all the same
//!   `Permission denied (publickey)` ([`login`]).
//! - **Sessions** ([`channel`]): a shell, a command (`ssh host CMD`, exit status passed back),
//!   the `sftp` subsystem (scp uses it too), each a streamed process of the runtime
//!   (`Runtime::stream`), with a PTY and window changes when asked; `direct-tcpip` channels
//!   (`ssh -L`) reach ports on the workspace's loopback (`Runtime::connect`).
//! - **Limits** as for the gRPC port ([`crate::connections`]): connections capped overall and
//!   per peer, the first bytes within the handshake deadline, nothing read for the idle
//!   deadline closes a connection (the server sends keepalives every 30 s, which live clients
//!   answer); authentication must succeed within [`AUTH_TIMEOUT`]. One connection holds at
//!   most [`MAX_SESSIONS_PER_CONNECTION`] session channels (OpenSSH's `MaxSessions`), each of
//!   which must ask for a shell, a command or `sftp` within [`channel::REQUEST_TIMEOUT`]
//!   (until then it counts against no user's cap, so without these an idle channel could be
//!   opened without end). Every [`RECHECK_EVERY`] an
//!   open connection is checked again: a removed key, a disabled or deleted user, or a
//!   workspace that is no longer theirs ends it.
//! - **Host key**: [`host_key`], generated once in the data directory.

pub mod channel;
pub mod host_key;
pub mod login;

use crate::connections::{self, ConnectionLimits};
use crate::service::Api;
use login::Login;
use russh::keys::PrivateKey;
use russh::server::{Auth, Msg, Session};
use russh::{Channel, MethodKind, MethodSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::StreamExt as _;

/// Session channels one connection may have open at once (OpenSSH's `MaxSessions` default);
/// past it a new one is refused ("resource shortage").
pub const MAX_SESSIONS_PER_CONNECTION: usize = 10;

/// How long a connection has from its first byte to a successful authentication (OpenSSH's
/// `LoginGraceTime` is 120 s; a client with the right key needs well under a second).
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an authenticated connection's key, user and workspace are checked again.
pub const RECHECK_EVERY: Duration = Duration::from_secs(5);

/// Problems starting the SSH server.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The host key file could not be read or written.
    #[error("SSH host key {path}: {source}")]
    HostKeyFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The host key file is not an OpenSSH private key.
    #[error("SSH host key {path}: {detail}")]
    HostKeyFormat {
        /// The file.
        path: String,
        /// What the parser said.
        detail: String,
    },
    /// The system's random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
    /// The SSH address could not be bound.
    #[error("SSH address {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// What every connection shares.
#[derive(Debug)]
struct Shared {
    api: Api,
    config: Arc<russh::server::Config>,
}

/// The russh configuration: the host key, public keys only, keepalives and the idle
/// deadline from `limits`.
fn config(host_key: PrivateKey, limits: &ConnectionLimits) -> russh::server::Config {
    russh::server::Config {
        server_id: russh::SshId::Standard("SSH-2.0-cordium".into()),
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(300),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![host_key],
        inactivity_timeout: Some(limits.idle_timeout),
        keepalive_interval: Some(limits.keepalive_interval),
        keepalive_max: 3,
        max_auth_attempts: 6,
        nodelay: true,
        ..Default::default()
    }
}

/// What GetSshEndpoint tells clients about an SSH server on `port` with `host_key`.
pub fn endpoint(host_key: &PrivateKey, port: u16) -> crate::pb::SshEndpoint {
    crate::pb::SshEndpoint {
        enabled: true,
        port: u32::from(port),
        host_key: host_key::public_line(host_key),
        host_key_fingerprint: host_key::fingerprint(host_key),
    }
}

/// Starts SSH for `api` as `serve --ssh-listen addr` does: loads (or makes) the host key in
/// `data_dir`, binds `addr`, logs the fingerprint, serves in a task of its own until
/// `shutdown` resolves, and returns `api` telling clients where (GetSshEndpoint) with the
/// bound address.
pub async fn start(
    api: Api,
    data_dir: &std::path::Path,
    addr: std::net::SocketAddr,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(Api, std::net::SocketAddr), SshError> {
    let host_key = host_key::load_or_create(&data_dir.join(host_key::HOST_KEY_FILE))?;
    let bind = |source| SshError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind)?;
    let bound = listener.local_addr().map_err(bind)?;
    tracing::info!(
        "serving SSH on {bound}, host key {}",
        host_key::fingerprint(&host_key)
    );
    let api = api.with_ssh_endpoint(endpoint(&host_key, bound.port()));
    tokio::spawn(serve(api.clone(), host_key, listener, limits, shutdown));
    Ok((api, bound))
}

/// Serves SSH on `listener` until `shutdown` resolves, under `limits`.
pub async fn serve(
    api: Api,
    host_key: PrivateKey,
    listener: TcpListener,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let shared = Arc::new(Shared {
        api,
        config: Arc::new(config(host_key, &limits)),
    });
    let mut incoming = connections::incoming_ssh(listener, limits);
    tokio::pin!(shutdown);
    loop {
        let connection = tokio::select! {
            next = incoming.next() => match next {
                Some(Ok(connection)) => connection,
                Some(Err(e)) => {
                    tracing::debug!("ssh accept: {e}");
                    continue;
                }
                None => return,
            },
            () = &mut shutdown => return,
        };
        tokio::spawn(connection_task(Arc::clone(&shared), connection));
    }
}

/// One connection: the SSH session, its authentication deadline, then the periodic check
/// that its login still holds.
async fn connection_task(shared: Arc<Shared>, connection: connections::Connection) {
    let (authenticated, login) = oneshot::channel();
    let handler = Handler {
        shared: Arc::clone(&shared),
        login: None,
        authenticated: Some(authenticated),
        sessions: Arc::new(tokio::sync::Semaphore::new(MAX_SESSIONS_PER_CONNECTION)),
    };
    let session =
        match russh::server::run_stream(Arc::clone(&shared.config), connection, handler).await {
            Ok(session) => session,
            Err(e) => {
                tracing::debug!("ssh handshake: {e}");
                return;
            }
        };
    let handle = session.handle();
    tokio::pin!(session);
    let login = tokio::select! {
        login = login => match login {
            Ok(login) => login,
            Err(_) => return,
        },
        () = tokio::time::sleep(AUTH_TIMEOUT) => {
            disconnect(&handle, "authentication took too long").await;
            return;
        }
        _ = &mut session => return,
    };
    loop {
        tokio::select! {
            _ = &mut session => return,
            () = tokio::time::sleep(RECHECK_EVERY) => {
                if !login::still_valid(&shared.api, &login).await {
                    tracing::info!(user = %login.user, workspace = %login.workspace.name, "ssh: the login no longer holds; closing the connection");
                    disconnect(&handle, "the key, the user or the workspace is no longer valid").await;
                    return;
                }
            }
        }
    }
}

/// Ends a connection, telling the client why.
async fn disconnect(handle: &russh::server::Handle, reason: &str) {
    let _ = handle
        .disconnect(
            russh::Disconnect::ByApplication,
            reason.to_owned(),
            String::new(),
        )
        .await;
}

/// One connection's russh handler.
struct Handler {
    shared: Arc<Shared>,
    login: Option<Login>,
    authenticated: Option<oneshot::Sender<Login>>,
    /// The connection's places for session channels, one held by each open one.
    sessions: Arc<tokio::sync::Semaphore>,
}

impl russh::server::Handler for Handler {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(
            match login::authorize(&self.shared.api, user, offer.public_key).await {
                Some(_) => Auth::Accept,
                None => Auth::reject(),
            },
        )
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let Some(login) = login::authorize(&self.shared.api, user, key.public_key).await else {
            return Ok(Auth::reject());
        };
        if let Some(tell) = self.authenticated.take() {
            let _ = tell.send(login.clone());
        }
        self.login = Some(login);
        Ok(Auth::Accept)
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(login) = self.login.clone() else {
            return Ok(());
        };
        let Ok(place) = Arc::clone(&self.sessions).try_acquire_owned() else {
            reply
                .reject(russh::ChannelOpenFailure::ResourceShortage)
                .await;
            return Ok(());
        };
        reply.accept().await;
        let api = self.shared.api.clone();
        tokio::spawn(async move {
            channel::session(api, login, channel).await;
            drop(place);
        });
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(login) = self.login.clone() else {
            return Ok(());
        };
        channel::forward(
            &self.shared.api,
            &login,
            host_to_connect,
            port_to_connect,
            channel,
            reply,
        )
        .await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: russh::ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn env_request(
        &mut self,
        channel: russh::ChannelId,
        _variable_name: &str,
        _variable_value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn shell_request(
        &mut self,
        channel: russh::ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn exec_request(
        &mut self,
        channel: russh::ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel: russh::ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if name == channel::SFTP {
            session.channel_success(channel)
        } else {
            session.channel_failure(channel)
        }
    }
}
