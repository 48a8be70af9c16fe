//! Identity: every call is authenticated, by an API token or an OIDC ID token.
//!
//! - API tokens (`cdm_...`, printed by `cordium-server user add`) are looked up by their
//!   SHA-256 hash; the token itself is never stored.
//! - Session credentials (`cds_...`) are made for one run of one workspace, stored as hashes
//!   and revoked when the run stops; they act for that workspace only.
//! - OIDC ID tokens (JWTs) are verified against the configured issuer's JWKS (a file, read
//!   again when a token names a key it does not hold, so rotated keys are picked up): the
//!   signature, `iss`, `aud`, `exp`, `nbf` and `iat` (with [`CLOCK_LEEWAY_SECS`] of skew).
//!
//! OIDC users are keyed by (issuer, subject), never by a name claim:
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
use crate::service::Caller;
use crate::store::{Counter, Store, User, UserError};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tonic::Status;

/// How session credentials (one per workspace run) begin; API tokens begin with `cdm_`.
pub const SESSION_TOKEN_PREFIX: &str = "cds_";

/// Where OIDC ID tokens come from.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The expected `iss`.
    pub issuer: String,
    /// The expected `aud` (the client id Cordium is registered as).
    pub audience: String,
    /// A JWKS file (the issuer's `jwks_uri` document).
    pub jwks_file: PathBuf,
}

/// The clock skew allowed between the identity provider and this server when checking `exp`,
/// `nbf` and `iat`: small enough that a token is not honoured long after it expired or long
/// before it is meant to be used.
pub const CLOCK_LEEWAY_SECS: u64 = 30;

#[derive(Debug, serde::Deserialize)]
struct Claims {
    sub: String,
    /// Issued at (seconds since the epoch); a token issued in the future is refused.
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    preferred_username: Option<String>,
}

/// Authenticates callers.
#[derive(Debug, Clone)]
pub struct Authenticator {
    store: Store,
    oidc: Option<(OidcConfig, Arc<RwLock<JwkSet>>)>,
    /// Callers by the hash of their API token or session credential.
    known: Arc<Memo<String, Caller>>,
}

/// How many token hashes the memo keeps (about 200 bytes each).
const KNOWN_TOKENS: usize = 4096;

/// Problems with the OIDC configuration.
#[derive(Debug, thiserror::Error)]
#[error("OIDC JWKS file {path}: {reason}")]
pub struct OidcError {
    path: String,
    reason: String,
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn read_jwks(path: &std::path::Path) -> Result<JwkSet, OidcError> {
    let fail = |reason: String| OidcError {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| fail(e.to_string()))
}

impl Authenticator {
    /// API tokens from `store`, and OIDC ID tokens when `oidc` is given.
    pub fn new(store: Store, oidc: Option<OidcConfig>) -> Result<Self, OidcError> {
        let oidc = match oidc {
            Some(config) => {
                let keys = read_jwks(&config.jwks_file)?;
                Some((config, Arc::new(RwLock::new(keys))))
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

    /// The caller presenting an OIDC ID token.
    async fn authenticate_oidc(&self, token: &str) -> Result<Caller, Status> {
        let Some((config, keys)) = &self.oidc else {
            return Err(Status::unauthenticated(
                "unknown token (this server accepts API tokens only)",
            ));
        };
        let header = decode_header(token)
            .map_err(|_| Status::unauthenticated("the token is neither an API token nor a JWT"))?;
        let kid = header.kid.clone().unwrap_or_default();
        let key = {
            let find = |set: &JwkSet| {
                set.keys
                    .iter()
                    .find(|k| {
                        header.kid.is_none() || k.common.key_id.as_deref() == Some(kid.as_str())
                    })
                    .cloned()
            };
            let cached = keys.read().ok().and_then(|set| find(&set));
            match cached {
                Some(k) => k,
                None => {
                    // The issuer may have rotated its keys: read the JWKS again once.
                    let fresh = read_jwks(&config.jwks_file).map_err(|e| {
                        tracing::warn!("{e}");
                        Status::unavailable("the identity provider's keys are unavailable")
                    })?;
                    let found = find(&fresh);
                    if let Ok(mut set) = keys.write() {
                        *set = fresh;
                    }
                    found.ok_or_else(|| {
                        Status::unauthenticated("the token is signed by an unknown key")
                    })?
                }
            }
        };
        let decoding = DecodingKey::from_jwk(&key)
            .map_err(|_| Status::unauthenticated("the issuer's key is unusable"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = CLOCK_LEEWAY_SECS;
        let data = decode::<Claims>(token, &decoding, &validation)
            .map_err(|e| Status::unauthenticated(format!("invalid ID token: {e}")))?;
        if data
            .claims
            .iat
            .is_some_and(|iat| iat > now_secs() + CLOCK_LEEWAY_SECS)
        {
            return Err(Status::unauthenticated(
                "invalid ID token: issued in the future (`iat`); check the clocks",
            ));
        }
        let (issuer, subject) = (config.issuer.as_str(), data.claims.sub.as_str());
        if let Some(user) = self.store.user_by_identity(issuer, subject).await? {
            return Self::enabled(user);
        }
        let proposed = data.claims.preferred_username.as_deref().unwrap_or(subject);
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
                    tracing::info!(user = %user.name, proposed, subject, "OIDC sign-up: the proposed name is taken");
                }
                Self::enabled(user)
            }
            Err(UserError::Store(e)) => Err(e.into()),
            Err(e) => Err(Status::unauthenticated(format!(
                "{e}; an operator can bind this identity with `cordium-server user link NAME --subject {}`",
                truncate(subject)
            ))),
        }
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

/// Whether `token` is one of ours (an API token or a session credential, kept as a hash), not
/// an OIDC ID token.
fn is_hashed(token: &str) -> bool {
    token.starts_with("cdm_") || token.starts_with(SESSION_TOKEN_PREFIX)
}

/// At most 64 characters of a claim quoted in an error.
fn truncate(claim: &str) -> String {
    match claim.char_indices().nth(64) {
        Some((end, _)) => format!("{}...", &claim[..end]),
        None => claim.to_owned(),
    }
}
