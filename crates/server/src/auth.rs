//! Identity: every call is authenticated, by an API token or an OIDC ID token.
//!
//! - API tokens (`cdm_...`, printed by `cordium-server user add`) are looked up by their
//!   SHA-256 hash; the token itself is never stored.
//! - Session credentials (`cds_...`) are made for one run of one workspace, stored as hashes
//!   and revoked when the run stops; they act for that workspace only.
//! - OIDC ID tokens (JWTs) of any configured sign-in issuer are verified against that
//!   issuer's keys ([`crate::oidc`]: discovered and fetched over HTTPS, or a JWKS file; fetched
//!   again, rate limited, when a token names a key the cache lacks, so rotation is followed):
//!   the signature, `iss`, `aud`, `exp`, `nbf` and `iat` (with [`CLOCK_LEEWAY_SECS`] of skew).
//!   An issuer's `adminClaim` makes the bearer an administrator for that token only.
//! - Workload tokens (`cdw_...`) are short-lived API tokens given by
//!   [`Authenticator::exchange_workload`] for a workload platform's OIDC token that a workload
//!   rule maps to a user; stored as hashes with their expiry.
//!
//! OIDC users are keyed by (issuer, subject), never by a name claim (the issuer's `userClaim`,
//! `preferred_username` by default, proposes the name of a new user):
//! - An identity bound to a user (a row of the store's `identities`) acts as that user, with
//!   that user's administrator flag, whatever its `preferred_username` says now.
//! - At an identity's first sign-in, `preferred_username` (else `sub`) only *proposes* the
//!   user name: the identity gets a new user of its own, named by the proposal when no user
//!   holds that name, else by the first free of `NAME-2` ... `NAME-20`
//!   ([`crate::store::users`]). It never joins an existing user, so an account of the issuer
//!   calling itself `alice` does not act as the API-token user `alice` (nor as an
//!   administrator). A proposal that is not a valid Cordium name is refused with the subject,
//!   for the operator to bind it by hand.
//! - An operator binds an identity to an existing user explicitly, e.g. to make it an
//!   administrator: `cordium-server user add carol --admin` then
//!   `cordium-server user link carol --subject SUB`; `cordium-server user admin NAME` makes a
//!   signed-up user an administrator.
//!
//! A disabled user (`cordium-server user disable NAME`) is refused whatever the credential:
//! API token, OIDC identity or session credential. Every call (and every open watch, which
//! calls [`Authenticator::authenticate`] again) checks the user: API tokens and session
//! credentials through a memo that any change of users, tokens or sessions made by this
//! server drops at once, and that is trusted for at most [`crate::cache::TTL`]
//! otherwise (so `cordium-server user disable`, another process, takes effect within it).

use crate::cache::Memo;
use crate::crypto::hash_token;
pub use crate::oidc::{CLOCK_LEEWAY_SECS, IssuerConfig, OidcConfig, OidcError};
use crate::oidc::{Issuers, TokenError, claim_holds, now_secs, truncate};
use crate::service::Caller;
use crate::store::{Counter, Store, User, UserError};
use std::sync::Arc;
use tonic::Status;

/// How session credentials (one per workspace run) begin; API tokens begin with `cdm_`.
pub const SESSION_TOKEN_PREFIX: &str = "cds_";

/// How workload tokens (short-lived API tokens a workload's platform token was exchanged
/// for) begin.
pub const WORKLOAD_TOKEN_PREFIX: &str = "cdw_";

/// Authenticates callers.
#[derive(Debug, Clone)]
pub struct Authenticator {
    store: Store,
    oidc: Option<Arc<Issuers>>,
    /// Callers by the hash of their API token or session credential.
    known: Arc<Memo<String, Caller>>,
}

/// How many token hashes the memo keeps (about 200 bytes each).
const KNOWN_TOKENS: usize = 4096;

/// A workload token given for a platform token ([`Authenticator::exchange_workload`]).
#[derive(Debug, Clone)]
pub struct WorkloadToken {
    /// The user it acts as.
    pub user: String,
    /// The token (`cdw_...`); only its hash is kept.
    pub token: String,
    /// When it expires, seconds since the epoch.
    pub expires_at: u64,
}

impl Authenticator {
    /// API tokens from `store`, and OIDC tokens when `oidc` is given (its issuers' HTTPS
    /// trusts the system roots and `oidc.ca_file`).
    pub fn new(store: Store, oidc: Option<OidcConfig>) -> Result<Self, OidcError> {
        let oidc = match oidc {
            Some(config) => {
                let outbound = cordium_api::outbound::Outbound::new(config.ca_file.as_deref())?;
                Some(Arc::new(Issuers::new(config, outbound)?))
            }
            None => None,
        };
        Ok(Self {
            store,
            oidc,
            known: Arc::new(Memo::new(KNOWN_TOKENS, KNOWN_TOKENS * 256)),
        })
    }

    /// The caller presenting `token`, as read at most [`crate::cache::TTL`] ago (at once for
    /// changes this server made): for calls.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, Status> {
        if !is_hashed(token) {
            return self.authenticate_oidc(token).await;
        }
        let hash = hash_token(token);
        let generation = self.store.generation(Counter::Identities);
        if let Some(caller) = self.known.get(&hash, generation) {
            return Ok(caller);
        }
        let caller = self.authenticate_hashed(token, &hash).await?;
        let weight =
            hash.len() + caller.name.len() + caller.session.as_ref().map_or(0, String::len);
        self.known.put(hash, caller.clone(), generation, weight);
        Ok(caller)
    }

    /// The caller presenting `token`, read from the store now: for the re-checks of
    /// long-lived streams, which must end as soon as their credential is revoked by any
    /// process.
    pub async fn authenticate_fresh(&self, token: &str) -> Result<Caller, Status> {
        if !is_hashed(token) {
            return self.authenticate_oidc(token).await;
        }
        self.authenticate_hashed(token, &hash_token(token)).await
    }

    /// The caller presenting an API token or session credential whose hash is `hash`.
    async fn authenticate_hashed(&self, token: &str, hash: &str) -> Result<Caller, Status> {
        if token.starts_with("cdm_") {
            return match self.store.user_by_token_hash(hash).await? {
                Some(user) => Self::enabled(user),
                None => Err(Status::unauthenticated("unknown or revoked token")),
            };
        }
        if token.starts_with(WORKLOAD_TOKEN_PREFIX) {
            return match self.store.user_by_workload_token(hash, now_secs()).await? {
                Some((user, _)) => Self::enabled(user),
                None => Err(Status::unauthenticated(
                    "unknown or expired token (from a workload or GitHub sign-in); sign in again (`cordium login --workload-token-file FILE` or `--github`)",
                )),
            };
        }
        match self.store.session_by_token_hash(hash).await? {
            Some((workspace, owner)) => Ok(Caller {
                name: owner,
                admin: false,
                session: Some(workspace),
            }),
            None => Err(Status::unauthenticated(
                "unknown or revoked session credential (it ends when its run stops, or when its user is disabled or deleted)",
            )),
        }
    }

    /// The caller presenting an OIDC ID token of a sign-in issuer.
    async fn authenticate_oidc(&self, token: &str) -> Result<Caller, Status> {
        let Some(issuers) = &self.oidc else {
            return Err(Status::unauthenticated(
                "unknown token (this server accepts API tokens only)",
            ));
        };
        let issuer = Issuers::claimed_issuer(token).map_err(refused)?;
        let Some(config) = issuers.sign_in_issuer(&issuer) else {
            let hint = if issuers
                .config()
                .workloads
                .iter()
                .any(|w| w.issuer == issuer)
            {
                "; a workload token is exchanged for an API token first (`cordium login --workload-token-file FILE`)"
            } else {
                ""
            };
            return Err(Status::unauthenticated(format!(
                "ID tokens from issuer `{}` are not accepted here{hint}",
                truncate(&issuer)
            )));
        };
        let verified = issuers
            .verify(token, &config.issuer, &[config.audience.as_str()])
            .await
            .map_err(refused)?;
        let granted = config
            .admin_claim
            .as_ref()
            .is_some_and(|claim| claim_holds(&verified.claims, claim));
        let (issuer, subject) = (verified.issuer.as_str(), verified.subject.as_str());
        let with_claim = |caller: Caller| Caller {
            admin: caller.admin || granted,
            ..caller
        };
        if let Some(user) = self.store.user_by_identity(issuer, subject).await? {
            return Self::enabled(user).map(with_claim);
        }
        let claim = config.user_claim.as_deref().unwrap_or("preferred_username");
        let proposed = verified
            .claims
            .get(claim)
            .and_then(serde_json::Value::as_str)
            .unwrap_or(subject);
        cordium_spec::shapes::check_name(proposed).map_err(|_| {
            Status::unauthenticated(format!(
                "the ID token's user name `{}` is not a valid Cordium user name; an operator can bind this identity to a user with `cordium-server user link NAME --subject {}`",
                truncate(proposed),
                truncate(subject)
            ))
        })?;
        match self.store.sign_up(issuer, subject, proposed).await {
            Ok(user) => {
                if user.name != proposed {
                    tracing::info!(user = %user.name, proposed = ?truncate(proposed), subject = ?truncate(subject), "OIDC sign-up: the proposed name is taken");
                }
                Self::enabled(user).map(with_claim)
            }
            Err(UserError::Store(e)) => Err(e.into()),
            Err(e) => Err(Status::unauthenticated(format!(
                "{e}; an operator can bind this identity with `cordium-server user link NAME --subject {}`",
                truncate(subject)
            ))),
        }
    }

    /// Exchanges a workload's platform token for a short-lived API token acting as the user
    /// the first matching [`crate::oidc::WorkloadRule`] names (issuer, audience, subject).
    /// The user must exist and be enabled; a token no rule covers is refused, naming its
    /// subject but never the token.
    pub async fn exchange_workload(&self, token: &str) -> Result<WorkloadToken, Status> {
        let Some(issuers) = &self.oidc else {
            return Err(Status::failed_precondition(
                "this server has no workload rules (`serve --oidc-config FILE`)",
            ));
        };
        let issuer = Issuers::claimed_issuer(token).map_err(refused)?;
        let rules: Vec<_> = issuers
            .config()
            .workloads
            .iter()
            .filter(|r| r.issuer == issuer)
            .collect();
        if rules.is_empty() {
            return Err(Status::unauthenticated(format!(
                "`{}` is not a workload issuer of this server",
                truncate(&issuer)
            )));
        }
        let audiences: Vec<&str> = rules.iter().map(|r| r.audience.as_str()).collect();
        let verified = issuers
            .verify(token, &issuer, &audiences)
            .await
            .map_err(refused)?;
        let aud = verified.claims.get("aud");
        let has_audience = |audience: &str| match aud {
            Some(serde_json::Value::String(a)) => a == audience,
            Some(serde_json::Value::Array(list)) => {
                list.iter().any(|a| a.as_str() == Some(audience))
            }
            _ => false,
        };
        let rule = rules
            .iter()
            .find(|r| has_audience(&r.audience) && r.matches(&verified.subject))
            .ok_or_else(|| {
                Status::permission_denied(format!(
                    "no workload rule maps issuer `{}` subject `{}` to a user",
                    truncate(&issuer),
                    truncate(&verified.subject)
                ))
            })?;
        if !self.store.user_exists_enabled(&rule.user).await? {
            return Err(Status::permission_denied(format!(
                "the workload rule's user `{}` does not exist or is disabled",
                rule.user
            )));
        }
        // A token's strings go to the log quoted and escaped (`?`): raw, a subject holding a
        // newline or terminal escapes could forge log lines.
        tracing::info!(user = %rule.user, issuer = ?truncate(&issuer), subject = ?truncate(&verified.subject), "workload sign-in");
        let source = platform_token_key(&verified);
        self.mint(&rule.user, Some(&source), rule.ttl()).await
    }

    /// A new short-lived API token (`cdw_...`, kept as a hash) acting as `user` for
    /// `ttl_secs`, exchanged from the platform token `source` identifies
    /// ([`platform_token_key`]; `None` for a GitHub sign-in).
    async fn mint(
        &self,
        user: &str,
        source: Option<&str>,
        ttl_secs: u64,
    ) -> Result<WorkloadToken, Status> {
        let random = crate::crypto::new_token().map_err(|e| Status::internal(e.to_string()))?;
        let token = format!(
            "{WORKLOAD_TOKEN_PREFIX}{}",
            random.trim_start_matches("cdm_")
        );
        let now = now_secs();
        let expires_at = now + ttl_secs;
        self.store
            .add_workload_token(&hash_token(&token), user, source, expires_at, now)
            .await?;
        Ok(WorkloadToken {
            user: user.to_owned(),
            token,
            expires_at,
        })
    }

    /// Signs in the account (issuer, subject), checked by the caller (e.g. through GitHub's
    /// API): its user gets a short-lived API token. An account no user is bound to becomes a
    /// new user with `proposed` as the proposed name (never joining an existing user, as for
    /// OIDC) when `new_users` allows it, and is refused otherwise.
    pub async fn sign_in_identity(
        &self,
        issuer: &str,
        subject: &str,
        proposed: &str,
        ttl_secs: u64,
        new_users: bool,
    ) -> Result<WorkloadToken, Status> {
        let user = match self.store.user_by_identity(issuer, subject).await? {
            Some(user) => user,
            None if !new_users => {
                return Err(Status::permission_denied(format!(
                    "this account is no user here; an operator links it with `cordium-server user link NAME --issuer {issuer} --subject {}`",
                    truncate(subject)
                )));
            }
            None => {
                cordium_spec::shapes::check_name(proposed).map_err(|_| {
                    Status::permission_denied(format!(
                        "`{}` is not a valid Cordium user name; an operator can bind this account with `cordium-server user link NAME --issuer {issuer} --subject {}`",
                        truncate(proposed),
                        truncate(subject)
                    ))
                })?;
                self.store
                    .sign_up(issuer, subject, proposed)
                    .await
                    .map_err(|e| match e {
                        UserError::Store(e) => Status::from(e),
                        other => Status::permission_denied(other.to_string()),
                    })?
            }
        };
        let caller = Self::enabled(user)?;
        tracing::info!(user = %caller.name, issuer, "sign-in");
        self.mint(&caller.name, None, ttl_secs).await
    }

    /// The caller `user` is, unless they are disabled.
    fn enabled(user: User) -> Result<Caller, Status> {
        if user.disabled {
            return Err(Status::unauthenticated(format!(
                "user `{}` is disabled",
                user.name
            )));
        }
        Ok(Caller::user(user.name, user.admin))
    }
}

/// A refused token as a status: unavailable when the issuer's keys could not be had (try
/// again), unauthenticated otherwise.
fn refused(e: TokenError) -> Status {
    match e {
        TokenError::KeysUnavailable => Status::unavailable(e.to_string()),
        other => Status::unauthenticated(other.to_string()),
    }
}

/// Whether `token` is one of ours (an API token or a session credential, kept as a hash), not
/// an OIDC ID token.
fn is_hashed(token: &str) -> bool {
    token.starts_with("cdm_")
        || token.starts_with(SESSION_TOKEN_PREFIX)
        || token.starts_with(WORKLOAD_TOKEN_PREFIX)
}

/// What identifies one platform token among the exchanges (a hash, for the store): its issuer,
/// subject, `jti`, `iat` and `exp` as verified, not its text, which a lenient decoder might
/// accept in more than one spelling. Two tokens issued to one subject in the same second with
/// no `jti` count as one.
fn platform_token_key(verified: &crate::oidc::Verified) -> String {
    let claim = |name: &str| {
        verified
            .claims
            .get(name)
            .map(serde_json::Value::to_string)
            .unwrap_or_default()
    };
    let identity = [
        verified.issuer.clone(),
        verified.subject.clone(),
        claim("jti"),
        claim("iat"),
        claim("exp"),
    ]
    .join("\0");
    hash_token(&identity)
}
