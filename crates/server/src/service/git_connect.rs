//! Connecting a user's git account at a GitProvider, and handing its access token to the
//! user's runs (refreshed before it expires).
//!
//! Decisions:
//! - **The client's loopback redirect.** BeginGitConnect answers an authorization URL whose
//!   `redirect_uri` is the caller's loopback listener (`http://127.0.0.1:PORT/...`, RFC 8252);
//!   the CLI receives the code and sends it with FinishGitConnect. The server opens no HTTP
//!   endpoint for OAuth callbacks, so there is no new network surface to limit.
//! - **The flow travels sealed with the client**: Begin answers, beside the URL and its
//!   `state`, the flow (who began it, the provider, the PKCE verifier, the redirect, when it
//!   expires: [`FLOW_TTL`]) sealed with a key derived from the server's
//!   ([`crate::crypto::SecretBox::flows`]) and bound to the `state`; the client
//!   keeps it (never in a URL) and sends it back with Finish. The server keeps nothing between
//!   the two: there is no table for one caller to fill or evict others from (a sign-in has no
//!   user to count by, and every client behind one proxy shares an address), any replica
//!   finishes what another began, and only the client that began a flow holds its verifier,
//!   so a `state` and `code` seen in a URL finish nothing. A connection must be finished by
//!   the user who began it. The server keeps no record of a finished flow: its client may
//!   finish it again with another code from the same authorization URL until it expires (a
//!   code is single use at the provider), which gives it nothing it could not get by
//!   beginning again.
//! - **Secrets.** The client secret is the Space's Secret the GitProvider names, opened only
//!   for the exchange; access and refresh tokens are sealed
//!   ([`crate::crypto::git_token_identity`]) and never returned, logged or put in an error.
//! - **Refresh before expiry**: a token asked for within [`REFRESH_MARGIN_SECS`] of its expiry
//!   is refreshed first (bounded by the outbound timeouts); a provider that is down leaves the
//!   caller without a token and a reason, never waiting past those timeouts.
//! - **Disconnect** forgets the tokens at once; it does not revoke them at the provider.

use super::api::Api;
use super::resource::Result;
use super::{Caller, not_found};
use crate::crypto::{SecretBox, flow_identity, git_token_identity, sealing_identity};
use crate::git_oauth::{Endpoints, GitHosts, GitOAuthError};
use crate::pb;
use crate::store::git_connections::GitConnectionRow;
use base64::Engine as _;
use cordium_api::outbound::{Outbound, Url};
use cordium_spec::Kind;
use std::time::Duration;
use tonic::Status;

/// How long a begun flow may be finished.
pub(crate) const FLOW_TTL: Duration = Duration::from_secs(600);
/// The longest sealed flow Finish reads (a sealed [`Flow`] is a few hundred bytes).
const MAX_FLOW_BYTES: usize = 2048;
/// An access token expiring sooner than this is refreshed before it is handed out.
pub const REFRESH_MARGIN_SECS: u64 = 300;

/// What Finish needs of a flow Begin started, sealed into the Begin's answer (bound to its
/// `state`, [`flow_identity`], under [`SecretBox::flows`]). No `Debug`: it holds the PKCE
/// verifier.
#[derive(serde::Serialize, serde::Deserialize)]
struct Flow {
    /// The user connecting an account; `None` for a sign-in.
    user: Option<String>,
    /// The GitProvider's Space (empty for a sign-in).
    space: String,
    /// The GitProvider (empty for a sign-in).
    provider: String,
    /// The PKCE verifier.
    verifier: String,
    /// The redirect the provider was given (the code exchange repeats it).
    redirect_uri: String,
    /// Seconds since the epoch after which Finish refuses it.
    expires_at: u64,
}

/// The flow `request` brings back, if `secrets` sealed it for its `state`, it has not
/// expired at `now` (seconds since the epoch), and `user` (`None`: a sign-in) began it.
/// Anything else is one INVALID_ARGUMENT, which says no more than that.
fn open_flow(
    secrets: &SecretBox,
    request: &pb::FinishGitConnectRequest,
    user: Option<&str>,
    now: u64,
) -> Result<Flow> {
    if request.flow.is_empty() {
        return Err(Status::invalid_argument(
            "flow: required (the `flow` of the Begin's answer); a client that sends none is older than this server",
        ));
    }
    let refused = || {
        Status::invalid_argument(
            "flow: not a flow begun here for this state and caller, or expired; begin again",
        )
    };
    if request.flow.len() > MAX_FLOW_BYTES || request.state.len() > MAX_FLOW_BYTES {
        return Err(refused());
    }
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&request.flow)
        .map_err(|_| refused())?;
    let plain = secrets
        .open(&sealed, &flow_identity(&request.state))
        .map_err(|_| refused())?;
    let flow: Flow = serde_json::from_slice(&plain).map_err(|_| refused())?;
    if flow.user.as_deref() != user || flow.expires_at < now {
        return Err(refused());
    }
    Ok(flow)
}

/// Git account connections: the outbound client, where GitHub and GitLab are, and the GitHub
/// sign-in application.
#[derive(Debug)]
pub struct GitConnect {
    outbound: Outbound,
    hosts: GitHosts,
    sign_in: Option<GitHubSignIn>,
}

/// Signing in with GitHub: the OAuth2 application users sign in through, and how long the
/// API token they get lives.
#[derive(Clone)]
pub struct GitHubSignIn {
    /// The OAuth app's client id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// The lifetime of the API token a sign-in gives, in seconds.
    pub token_ttl_secs: u64,
    /// Whether a GitHub account that is no user here becomes one at its first sign-in. Off,
    /// only accounts an operator linked (`cordium-server user link`) sign in: GitHub has
    /// every account in the world.
    pub new_users: bool,
}

impl std::fmt::Debug for GitHubSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubSignIn")
            .field("client_id", &self.client_id)
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("new_users", &self.new_users)
            .finish_non_exhaustive()
    }
}

impl GitConnect {
    /// Connections through `outbound`, with GitHub and GitLab at `hosts`.
    pub fn new(outbound: Outbound, hosts: GitHosts) -> Self {
        Self {
            outbound,
            hosts,
            sign_in: None,
        }
    }

    /// The tokens for `code` of `flow`, and the profile they read.
    async fn exchange(
        &self,
        endpoints: &Endpoints,
        secret: &str,
        code: &str,
        flow: &Flow,
    ) -> Result<(crate::git_oauth::Tokens, crate::git_oauth::Profile)> {
        let tokens = endpoints
            .exchange_code(
                &self.outbound,
                secret,
                code,
                &flow.verifier,
                &flow.redirect_uri,
            )
            .await
            .map_err(provider_status)?;
        let profile = endpoints
            .profile(&self.outbound, &tokens.access)
            .await
            .map_err(provider_status)?;
        Ok((tokens, profile))
    }

    /// The same, also signing users in with GitHub through `sign_in`'s application.
    pub fn with_github_sign_in(mut self, sign_in: GitHubSignIn) -> Self {
        self.sign_in = Some(sign_in);
        self
    }
}

/// A fresh access token and what a run needs besides: the profile and the hosts.
#[derive(Debug, Clone)]
pub struct GitCredential {
    /// The access token.
    pub token: String,
    /// The username git sends with it: `x-access-token` (GitHub), `oauth2` (GitLab), the
    /// login (generic).
    pub username: String,
    /// The account's login (git's username).
    pub login: String,
    /// The profile's name.
    pub name: String,
    /// The profile's email.
    pub email: String,
    /// The git hosts the token is for.
    pub hosts: Vec<String>,
}

fn random_text() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Status::internal(format!("randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A provider failure as a status: unavailable when it could not be reached.
fn provider_status(e: GitOAuthError) -> Status {
    match e {
        GitOAuthError::Spec(_) => Status::failed_precondition(e.to_string()),
        GitOAuthError::Outbound(cordium_api::outbound::OutboundError::Request { .. }) => {
            Status::unavailable(e.to_string())
        }
        other => Status::failed_precondition(other.to_string()),
    }
}

fn timestamp(secs: u64) -> Option<prost_types::Timestamp> {
    (secs > 0).then(|| prost_types::Timestamp {
        seconds: i64::try_from(secs).unwrap_or(i64::MAX),
        nanos: 0,
    })
}

impl Api {
    fn git(&self) -> Result<&GitConnect> {
        self.git
            .as_deref()
            .ok_or_else(|| Status::failed_precondition("this server does not connect git accounts"))
    }

    /// The endpoints of GitProvider `space`/`provider`, as `caller` may see it.
    async fn git_endpoints(
        &self,
        caller: &Caller,
        space: &str,
        provider: &str,
    ) -> Result<Endpoints> {
        let stored: pb::GitProvider = self
            .get_kept(
                caller,
                pb::Ref {
                    name: provider.to_owned(),
                    space: space.to_owned(),
                },
            )
            .await?;
        let spec = stored
            .spec
            .as_deref()
            .map(cordium_api::json::struct_to_json)
            .unwrap_or_default();
        Endpoints::of(&spec, &self.git()?.hosts).map_err(provider_status)
    }

    /// The client secret of `endpoints`, from the Space's Secret.
    async fn client_secret(&self, space: &str, endpoints: &Endpoints) -> Result<String> {
        let name = &endpoints.client_secret;
        let missing = || {
            Status::failed_precondition(format!(
                "the GitProvider's client secret, Secret `{name}` in Space `{space}`, is missing"
            ))
        };
        let sealed = self
            .store
            .secret_ciphertext(Kind::Secret, space, name)
            .await?
            .ok_or_else(missing)?;
        let plain = self
            .secrets
            .open(&sealed, &sealing_identity(Kind::Secret, space, name))
            .map_err(|_| missing())?;
        String::from_utf8(plain).map_err(|_| missing())
    }

    /// BeginGitConnect.
    pub(crate) async fn begin_git_connect(
        &self,
        caller: &Caller,
        request: pb::BeginGitConnectRequest,
    ) -> Result<pb::BeginGitConnectResponse> {
        check_redirect(&request.redirect_uri)?;
        let endpoints = self
            .git_endpoints(caller, &request.space, &request.provider)
            .await?;
        self.authorize(
            &endpoints,
            Flow {
                user: Some(caller.name.clone()),
                space: request.space,
                provider: request.provider,
                verifier: String::new(),
                redirect_uri: request.redirect_uri,
                expires_at: 0,
            },
        )
    }

    /// The authorization URL for `endpoints` with a new `state` and PKCE verifier, and
    /// `flow` with them, sealed for the client to bring back.
    fn authorize(
        &self,
        endpoints: &Endpoints,
        mut flow: Flow,
    ) -> Result<pb::BeginGitConnectResponse> {
        let (state, verifier) = (random_text()?, random_text()?);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
        let mut url = Url::parse(&endpoints.authorize)
            .map_err(|e| Status::failed_precondition(format!("authorization URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &endpoints.client_id)
            .append_pair("redirect_uri", &flow.redirect_uri)
            .append_pair("scope", &endpoints.scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        flow.verifier = verifier;
        flow.expires_at = crate::oidc::now_secs() + FLOW_TTL.as_secs();
        let plain = serde_json::to_vec(&flow).map_err(|e| Status::internal(e.to_string()))?;
        let sealed = self
            .secrets
            .flows()
            .seal(&plain, &flow_identity(&state))
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(pb::BeginGitConnectResponse {
            authorization_url: url.into(),
            state,
            flow: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed),
        })
    }

    /// The flow `request` brings back, if it was sealed here for its `state`, has not
    /// expired, and was begun by `user` (`None`: a sign-in).
    fn flow_of(&self, request: &pb::FinishGitConnectRequest, user: Option<&str>) -> Result<Flow> {
        open_flow(
            &self.secrets.flows(),
            request,
            user,
            crate::oidc::now_secs(),
        )
    }

    /// FinishGitConnect: exchanges the code, reads the profile, stores the tokens sealed.
    pub(crate) async fn finish_git_connect(
        &self,
        caller: &Caller,
        request: pb::FinishGitConnectRequest,
    ) -> Result<pb::GitConnection> {
        let git = self.git()?;
        let flow = self.flow_of(&request, Some(&caller.name))?;
        check_code(&request.code)?;
        let endpoints = self
            .git_endpoints(caller, &flow.space, &flow.provider)
            .await?;
        let secret = self.client_secret(&flow.space, &endpoints).await?;
        let (tokens, profile) = git
            .exchange(&endpoints, &secret, &request.code, &flow)
            .await?;
        let row = self.sealed_row(&caller.name, &flow.space, &flow.provider, &tokens, profile)?;
        self.store.put_git_connection(&row).await?;
        tracing::info!(user = %caller.name, space = %row.space, provider = %row.provider, login = %row.login, "git account connected");
        Ok(connection(&row, &endpoints.hosts))
    }

    fn sealed_row(
        &self,
        owner: &str,
        space: &str,
        provider: &str,
        tokens: &crate::git_oauth::Tokens,
        profile: crate::git_oauth::Profile,
    ) -> Result<GitConnectionRow> {
        let seal = |value: &str, which: &str| {
            self.secrets
                .seal(
                    value.as_bytes(),
                    &git_token_identity(owner, space, provider, which),
                )
                .map_err(|e| Status::internal(e.to_string()))
        };
        Ok(GitConnectionRow {
            owner: owner.to_owned(),
            space: space.to_owned(),
            provider: provider.to_owned(),
            access_sealed: seal(&tokens.access, "access")?,
            refresh_sealed: tokens
                .refresh
                .as_deref()
                .map(|r| seal(r, "refresh"))
                .transpose()?,
            expires_at: tokens.expires_at,
            scopes: tokens.scopes.clone(),
            login: profile.login,
            name: profile.name,
            email: profile.email,
        })
    }

    /// ListGitConnections: the caller's connections, never their tokens.
    pub(crate) async fn list_git_connections(
        &self,
        caller: &Caller,
        _request: pb::Empty,
    ) -> Result<pb::GitConnectionList> {
        let mut items = Vec::new();
        for row in self.store.git_connections(&caller.name).await? {
            let hosts = match self.git_endpoints(caller, &row.space, &row.provider).await {
                Ok(endpoints) => endpoints.hosts,
                Err(_) => Vec::new(),
            };
            items.push(connection(&row, &hosts));
        }
        Ok(pb::GitConnectionList { items })
    }

    /// DisconnectGitProvider: forgets the caller's tokens for the provider.
    pub(crate) async fn disconnect_git_provider(
        &self,
        caller: &Caller,
        request: pb::Ref,
    ) -> Result<pb::Empty> {
        if !self
            .store
            .delete_git_connection(&caller.name, &request.space, &request.name)
            .await?
        {
            return Err(not_found(Kind::GitProvider, &request.name));
        }
        tracing::info!(user = %caller.name, space = %request.space, provider = %request.name, "git account disconnected");
        Ok(pb::Empty {})
    }

    /// `owner`'s access token for `space`/`provider`, refreshed first when it expires
    /// within [`REFRESH_MARGIN_SECS`]; `Ok(None)` when the account is not connected.
    pub async fn git_credential(
        &self,
        owner: &str,
        space: &str,
        provider: &str,
    ) -> Result<Option<GitCredential>> {
        let Some(row) = self.store.git_connection(owner, space, provider).await? else {
            return Ok(None);
        };
        let git = self.git()?;
        let owner_caller = Caller::user(owner, false);
        let endpoints = self.git_endpoints(&owner_caller, space, provider).await?;
        let open = |sealed: &[u8], which: &str| {
            self.secrets
                .open(sealed, &git_token_identity(owner, space, provider, which))
                .ok()
                .and_then(|plain| String::from_utf8(plain).ok())
                .ok_or_else(|| Status::internal("a git token could not be opened"))
        };
        let mut row = row;
        let mut token = open(&row.access_sealed, "access")?;
        let soon = crate::oidc::now_secs() + REFRESH_MARGIN_SECS;
        if row.expires_at != 0 && row.expires_at <= soon {
            let refresh = row
                .refresh_sealed
                .as_deref()
                .map(|r| open(r, "refresh"))
                .transpose()?
                .ok_or_else(|| {
                    Status::failed_precondition(
                        "the git token expired and cannot be refreshed; run `cordium git connect` again",
                    )
                })?;
            let secret = self.client_secret(space, &endpoints).await?;
            let tokens = endpoints
                .refresh(&git.outbound, &secret, &refresh)
                .await
                .map_err(provider_status)?;
            let profile = crate::git_oauth::Profile {
                login: row.login.clone(),
                name: row.name.clone(),
                email: row.email.clone(),
                subject: String::new(),
            };
            row = self.sealed_row(owner, space, provider, &tokens, profile)?;
            self.store.put_git_connection(&row).await?;
            token = tokens.access;
        }
        let username = match endpoints.kind {
            crate::git_oauth::ProviderKind::Github => "x-access-token".to_owned(),
            crate::git_oauth::ProviderKind::Gitlab => "oauth2".to_owned(),
            crate::git_oauth::ProviderKind::Generic => row.login.clone(),
        };
        Ok(Some(GitCredential {
            token,
            username,
            login: row.login,
            name: row.name,
            email: row.email,
            hosts: endpoints.hosts,
        }))
    }
}

/// The longest `redirect_uri` accepted (a loopback URL with a port and a short path).
const MAX_REDIRECT_BYTES: usize = 256;

/// A redirect to the caller's loopback listener, or InvalidArgument naming the field.
///
/// As RFC 8252 (OAuth for native apps) §7.3 and §8.3 ask: `http`, a loopback IP literal
/// (`127.0.0.1` or `[::1]`; not `localhost`, which a resolver or hosts file may send
/// elsewhere), an explicit port, no user information or fragment, and written the way the URL
/// standard writes it (so `http://127.1/`, `http://0x7f000001/` or a path with a raw line
/// break, which parse to something else, are refused rather than passed on to the provider).
fn check_redirect(redirect_uri: &str) -> Result<()> {
    // The redirect travels inside the sealed flow, which Finish reads up to `MAX_FLOW_BYTES`.
    if redirect_uri.len() > MAX_REDIRECT_BYTES {
        return Err(Status::invalid_argument(format!(
            "redirect_uri: at most {MAX_REDIRECT_BYTES} bytes"
        )));
    }
    let loopback = Url::parse(redirect_uri).ok().is_some_and(|u| {
        u.scheme() == "http"
            && matches!(u.host_str(), Some("127.0.0.1" | "[::1]"))
            && u.port().is_some()
            && u.username().is_empty()
            && u.password().is_none()
            && u.fragment().is_none()
            && u.as_str() == redirect_uri
    });
    if loopback {
        Ok(())
    } else {
        Err(Status::invalid_argument(
            "redirect_uri: must be a loopback URL written http://127.0.0.1:PORT/... or http://[::1]:PORT/...",
        ))
    }
}

/// An authorization code as providers make them: printable ASCII (RFC 6749's `VSCHAR`s, less
/// the space, which no provider puts in a code), at most 4 KiB; anything else is no
/// provider's and is refused before it is sent.
fn check_code(code: &str) -> Result<()> {
    if code.is_empty() || code.len() > 4096 || !code.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Status::invalid_argument(
            "code: must be the provider's code (printable ASCII, at most 4 KiB), as the redirect gave it",
        ));
    }
    Ok(())
}

fn connection(row: &GitConnectionRow, hosts: &[String]) -> pb::GitConnection {
    pb::GitConnection {
        space: row.space.clone(),
        provider: row.provider.clone(),
        scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
        login: row.login.clone(),
        name: row.name.clone(),
        email: row.email.clone(),
        expire_time: timestamp(row.expires_at),
        hosts: hosts.to_vec(),
    }
}

impl Api {
    /// The GitHub sign-in application's endpoints and secret.
    fn github_sign_in(&self) -> Result<(Endpoints, String, u64)> {
        let git = self.git()?;
        let sign_in = git.sign_in.as_ref().ok_or_else(|| {
            Status::failed_precondition("this server does not sign users in with GitHub")
        })?;
        let spec = serde_json::json!({"github": {"clientID": sign_in.client_id,
            "clientSecret": {"fromSecret": ""}, "scopes": ["read:user", "user:email"]}});
        let endpoints = Endpoints::of(&spec, &git.hosts).map_err(provider_status)?;
        Ok((
            endpoints,
            sign_in.client_secret.clone(),
            sign_in.token_ttl_secs,
        ))
    }

    /// BeginGitHubSignIn (unauthenticated): the URL to sign in at GitHub, and the flow.
    pub(crate) async fn begin_github_sign_in(
        &self,
        request: pb::BeginGitHubSignInRequest,
    ) -> Result<pb::BeginGitConnectResponse> {
        check_redirect(&request.redirect_uri)?;
        let (endpoints, _, _) = self.github_sign_in()?;
        self.authorize(
            &endpoints,
            Flow {
                user: None,
                space: String::new(),
                provider: String::new(),
                verifier: String::new(),
                redirect_uri: request.redirect_uri,
                expires_at: 0,
            },
        )
    }

    /// FinishGitHubSignIn (unauthenticated): the code for the GitHub account, checked
    /// through GitHub's API (`GET /user`); the account is a user keyed by (GitHub's URL, its
    /// numeric id), made at the first sign-in with its login as the proposed name; the
    /// answer is a short-lived API token.
    pub(crate) async fn finish_github_sign_in(
        &self,
        request: pb::FinishGitConnectRequest,
    ) -> Result<pb::ExchangeWorkloadTokenResponse> {
        let flow = self.flow_of(&request, None)?;
        check_code(&request.code)?;
        let (endpoints, secret, ttl) = self.github_sign_in()?;
        let new_users = self.git()?.sign_in.as_ref().is_some_and(|s| s.new_users);
        let git = self.git()?;
        let (_, profile) = git
            .exchange(&endpoints, &secret, &request.code, &flow)
            .await?;
        if profile.subject.is_empty() {
            return Err(Status::failed_precondition(
                "GitHub's answer has no account id",
            ));
        }
        let given = self
            .auth
            .sign_in_identity(
                &git.hosts.github,
                &profile.subject,
                &profile.login.to_lowercase(),
                ttl,
                new_users,
            )
            .await?;
        Ok(pb::ExchangeWorkloadTokenResponse {
            token: given.token,
            user: given.user,
            expire_time: timestamp(given.expires_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A code is what a provider sends (probe 7: one holding CR-LF was passed on).
    #[test]
    fn codes_are_printable_ascii() {
        assert!(check_code("4/0AX-_.~abc").is_ok());
        for bad in ["", "a\r\nHost: x", "a b", "\u{e9}t\u{e9}"] {
            let refused = check_code(bad).expect_err(bad);
            assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        }
        assert!(check_code(&"c".repeat(4097)).is_err());
    }

    #[test]
    fn a_flow_opens_for_its_state_and_starter_until_it_expires() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at_rest = SecretBox::load_or_create(&dir.path().join("key")).expect("key");
        let secrets = at_rest.flows();
        let flow = |user: Option<&str>| Flow {
            user: user.map(str::to_owned),
            space: "team.alice".into(),
            provider: "gh".into(),
            verifier: "v".into(),
            redirect_uri: "http://127.0.0.1:9/callback".into(),
            expires_at: 1_000,
        };
        let seal = |with: &SecretBox, flow: &Flow, identity: &str| {
            with.seal(&serde_json::to_vec(flow).expect("json"), identity)
                .expect("seal")
        };
        let request = |state: &str, sealed: &[u8]| pb::FinishGitConnectRequest {
            state: state.into(),
            code: "c".into(),
            flow: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed),
        };
        let alices = seal(&secrets, &flow(Some("alice")), &flow_identity("s1"));
        let opened =
            open_flow(&secrets, &request("s1", &alices), Some("alice"), 1_000).expect("open");
        assert_eq!(
            (opened.provider.as_str(), opened.verifier.as_str()),
            ("gh", "v")
        );
        let refused = |what: &str,
                       with: &SecretBox,
                       request: pb::FinishGitConnectRequest,
                       user: Option<&str>,
                       now: u64| {
            let answer = open_flow(with, &request, user, now)
                .map(drop)
                .map_err(|s| s.code());
            assert_eq!(answer, Err(tonic::Code::InvalidArgument), "{what}");
        };
        refused(
            "expired",
            &secrets,
            request("s1", &alices),
            Some("alice"),
            1_001,
        );
        refused(
            "another state",
            &secrets,
            request("s2", &alices),
            Some("alice"),
            1_000,
        );
        refused(
            "another user",
            &secrets,
            request("s1", &alices),
            Some("bob"),
            1_000,
        );
        refused(
            "a connection as a sign-in",
            &secrets,
            request("s1", &alices),
            None,
            1_000,
        );
        let sign_in = seal(&secrets, &flow(None), &flow_identity("s1"));
        refused(
            "a sign-in as a connection",
            &secrets,
            request("s1", &sign_in),
            Some("alice"),
            1_000,
        );
        let mut tampered = alices.clone();
        tampered[20] ^= 1;
        refused(
            "tampered with",
            &secrets,
            request("s1", &tampered),
            Some("alice"),
            1_000,
        );
        let other = SecretBox::load_or_create(&dir.path().join("other")).expect("key");
        refused(
            "another server's key",
            &other.flows(),
            request("s1", &alices),
            Some("alice"),
            1_000,
        );
        // Flows have a key of their own: nothing sealed with the key of values at rest opens
        // as one, even under a flow's identity, and a flow is no secret value.
        let at_rest_flow = seal(&at_rest, &flow(Some("alice")), &flow_identity("s1"));
        refused(
            "sealed with the key at rest",
            &secrets,
            request("s1", &at_rest_flow),
            Some("alice"),
            1_000,
        );
        let identity = sealing_identity(Kind::Secret, "team.alice", "s1");
        assert!(
            at_rest.open(&alices, &identity).is_err()
                && at_rest.open(&alices, &flow_identity("s1")).is_err()
        );
        let long = pb::FinishGitConnectRequest {
            flow: "A".repeat(MAX_FLOW_BYTES + 1),
            ..request("s1", &alices)
        };
        refused("too long", &secrets, long, Some("alice"), 1_000);
        // The longest redirect there may be still makes a flow under the bound.
        let widest = Flow {
            redirect_uri: format!("http://127.0.0.1:65535/{}", "a".repeat(MAX_REDIRECT_BYTES)),
            user: Some("a".repeat(40)),
            space: "s".repeat(80),
            provider: "p".repeat(40),
            verifier: "v".repeat(43),
            expires_at: u64::MAX,
        };
        let sealed = seal(&secrets, &widest, &flow_identity("s1"));
        assert!(request("s1", &sealed).flow.len() <= MAX_FLOW_BYTES);
    }

    #[test]
    fn only_short_loopback_redirects_are_accepted() {
        assert!(check_redirect("http://127.0.0.1:8123/callback").is_ok());
        let refused = |uri: &str| check_redirect(uri).map_err(|s| s.code());
        assert_eq!(
            refused("https://evil.example/callback"),
            Err(tonic::Code::InvalidArgument)
        );
        let long = format!("http://127.0.0.1:8123/{}", "a".repeat(MAX_REDIRECT_BYTES));
        assert_eq!(refused(&long), Err(tonic::Code::InvalidArgument));
        assert!(check_redirect("http://[::1]:8123/callback?x=1").is_ok());
        for other in [
            "http://localhost:8123/callback",
            "http://127.1:8123/callback",
            "http://0x7f000001:8123/callback",
            "http://127.0.0.1/callback",
            "http://user@127.0.0.1:8123/callback",
            "http://127.0.0.1:8123/callback#x",
            "http://127.0.0.1:8123/call\r\nback",
            "http://127.0.0.1:8123/../callback",
        ] {
            assert_eq!(
                refused(other),
                Err(tonic::Code::InvalidArgument),
                "{other} was accepted"
            );
        }
    }
}
