//! OIDC issuers the server trusts: their configuration, their keys (discovered and fetched
//! over HTTPS, cached, rotation followed) and the verification of their tokens.
//!
//! Decisions:
//! - **Discovery is lazy.** An issuer's `/.well-known/openid-configuration` is read at the
//!   first token it signs, not at startup: a provider that is down or slow never keeps the
//!   server from starting, and costs at most one bounded request
//!   ([`cordium_api::outbound::REQUEST_TIMEOUT`]) per refetch interval. The document's `issuer`
//!   must be the configured one exactly and its `jwks_uri` must be HTTPS.
//! - **Keys are cached per issuer** and fetched again only when a token names a key id the
//!   cache lacks (the issuer rotated its keys), at most once per
//!   [`OidcConfig::jwks_refetch_secs`] per issuer: forged tokens with made-up key ids cannot
//!   turn the server into a request amplifier against the issuer. A failed fetch counts too.
//! - **Air-gapped servers** give `jwksFile` instead: the file is read at start and again on
//!   every unknown key id (a local read needs no rate limit); no network is used for that
//!   issuer.
//! - **The token's `iss` picks the issuer** (read before verifying, then verified against that
//!   issuer's keys, `iss` and audience): several issuers coexist, each with its audience, the
//!   claim that names the user and an optional claim that grants administrator.
//! - **Workload issuers are separate** ([`WorkloadRule`]): a CI platform's token is never a
//!   sign-in; it is only exchanged, by its rules, for a short-lived API token.

use base64::Engine as _;
use cordium_api::outbound::{Outbound, OutboundError};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The clock skew allowed between the identity provider and this server when checking `exp`,
/// `nbf` and `iat`: small enough that a token is not honoured long after it expired or long
/// before it is meant to be used.
pub const CLOCK_LEEWAY_SECS: u64 = 30;

/// The default [`OidcConfig::jwks_refetch_secs`].
pub const DEFAULT_JWKS_REFETCH_SECS: u64 = 10;

/// The default lifetime of a workload token, 15 minutes.
pub const DEFAULT_WORKLOAD_TTL_SECS: u64 = 900;

/// The longest lifetime a workload rule may give its tokens, one day.
pub const MAX_WORKLOAD_TTL_SECS: u64 = 86_400;

/// Where ID tokens and workload tokens come from (`serve --oidc-config FILE`, JSON).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcConfig {
    /// Issuers whose ID tokens sign users in.
    #[serde(default)]
    pub issuers: Vec<IssuerConfig>,
    /// Rules mapping workload tokens to users.
    #[serde(default)]
    pub workloads: Vec<WorkloadRule>,
    /// A PEM file of extra CA certificates for the issuers' HTTPS (a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The fewest seconds between two key fetches of one issuer.
    #[serde(default = "default_refetch")]
    pub jwks_refetch_secs: u64,
}

fn default_refetch() -> u64 {
    DEFAULT_JWKS_REFETCH_SECS
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            workloads: Vec::new(),
            ca_file: None,
            jwks_refetch_secs: DEFAULT_JWKS_REFETCH_SECS,
        }
    }
}

/// One issuer whose ID tokens sign users in.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssuerConfig {
    /// The issuer's URL, exactly its tokens' `iss`.
    pub issuer: String,
    /// The expected `aud` (the client id Cordium is registered as).
    pub audience: String,
    /// The claim whose value proposes a new user's name (default `preferred_username`, else
    /// `sub`).
    #[serde(default)]
    pub user_claim: Option<String>,
    /// A claim that makes its bearer an administrator.
    #[serde(default)]
    pub admin_claim: Option<AdminClaim>,
    /// The issuer's JWKS document saved to a file (air-gapped servers: no discovery).
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
}

/// A claim granting administrator: the token's `claim` equals `value`, or is a list holding
/// it (e.g. `groups` holding `cordium-admins`). Checked on every token, never stored: a user
/// taken out of the group is no longer an administrator with their next token.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminClaim {
    /// The claim's name.
    pub claim: String,
    /// The value that grants.
    pub value: String,
}

/// A workload rule: a token from `issuer` for `audience` whose `sub` matches `subject` (exact,
/// or a prefix when it ends with `*`) is exchanged for a token acting as `user`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadRule {
    /// The platform's issuer URL (its tokens' `iss`).
    pub issuer: String,
    /// The expected `aud`.
    pub audience: String,
    /// The subject, or a prefix ending with `*`.
    pub subject: String,
    /// The existing Cordium user the workload acts as.
    pub user: String,
    /// How long the exchanged token lives, in seconds (default 900, at most 86,400).
    #[serde(default)]
    pub ttl_secs: Option<u64>,
    /// The platform's JWKS saved to a file (air-gapped servers: no discovery).
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
}

impl WorkloadRule {
    /// Whether the rule covers `subject`.
    pub fn matches(&self, subject: &str) -> bool {
        match self.subject.strip_suffix('*') {
            Some(prefix) => subject.starts_with(prefix),
            None => subject == self.subject,
        }
    }

    /// The lifetime of the tokens this rule gives.
    pub fn ttl(&self) -> u64 {
        self.ttl_secs
            .unwrap_or(DEFAULT_WORKLOAD_TTL_SECS)
            .clamp(1, MAX_WORKLOAD_TTL_SECS)
    }
}

/// Problems with the OIDC configuration or an issuer.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The configuration file.
    #[error("OIDC configuration {path}: {reason}")]
    Config {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A JWKS file.
    #[error("OIDC JWKS file {path}: {reason}")]
    JwksFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The outbound client or a request of it.
    #[error(transparent)]
    Outbound(#[from] OutboundError),
    /// The discovery document names another issuer or an unusable key URL.
    #[error("issuer {issuer}: {reason}")]
    Discovery {
        /// The issuer.
        issuer: String,
        /// Why.
        reason: String,
    },
}

impl OidcConfig {
    /// Reads a configuration file (JSON) and checks it.
    pub fn read(path: &std::path::Path) -> Result<Self, OidcError> {
        let fail = |reason: String| OidcError::Config {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let config: Self = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        config.check().map_err(fail)?;
        Ok(config)
    }

    /// Every issuer URL is HTTPS (or has a JWKS file), and no issuer signs users in and
    /// workloads both.
    pub fn check(&self) -> Result<(), String> {
        for issuer in &self.issuers {
            if issuer.jwks_file.is_none() && !issuer.issuer.starts_with("https://") {
                return Err(format!(
                    "issuers: `{}` is not an https:// URL (give jwksFile for an issuer without discovery)",
                    issuer.issuer
                ));
            }
            if self.workloads.iter().any(|w| w.issuer == issuer.issuer) {
                return Err(format!(
                    "`{}` is both a sign-in issuer and a workload issuer; a workload platform's tokens must not sign people in",
                    issuer.issuer
                ));
            }
        }
        for rule in &self.workloads {
            if rule.jwks_file.is_none() && !rule.issuer.starts_with("https://") {
                return Err(format!(
                    "workloads: `{}` is not an https:// URL",
                    rule.issuer
                ));
            }
            if rule.subject.is_empty() || rule.subject == "*" {
                return Err(format!(
                    "workloads: the rule for `{}` must name a subject or a non-empty prefix",
                    rule.user
                ));
            }
        }
        Ok(())
    }
}

/// Why a token was refused. Its text never holds the token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT at all.
    #[error("the token is neither an API token nor a JWT")]
    NotJwt,
    /// An issuer this server does not trust for this use.
    #[error("tokens from issuer `{0}` are not accepted here")]
    UnknownIssuer(String),
    /// The issuer's keys could not be had.
    #[error("the identity provider's keys are unavailable")]
    KeysUnavailable,
    /// No key of the issuer has the token's key id.
    #[error("the token is signed by an unknown key")]
    UnknownKey,
    /// Signature, audience, expiry...
    #[error("invalid ID token: {0}")]
    Invalid(String),
}

/// A verified token's issuer, subject and claims.
#[derive(Debug)]
pub struct Verified {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// Every claim.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// The keys of one issuer and how to get them again.
#[derive(Debug)]
struct Keys {
    issuer: String,
    jwks_file: Option<PathBuf>,
    set: RwLock<Arc<JwkSet>>,
    /// The discovered `jwks_uri` and the time of the last fetch (single flight).
    fetch: tokio::sync::Mutex<FetchState>,
}

#[derive(Debug, Default)]
struct FetchState {
    jwks_uri: Option<String>,
    last: Option<Instant>,
}

/// The trusted issuers (sign-in and workload) and their keys.
#[derive(Debug)]
pub struct Issuers {
    config: OidcConfig,
    keys: HashMap<String, Keys>,
    outbound: Outbound,
    refetch: Duration,
}

impl Issuers {
    /// The issuers of `config`, fetching over `outbound`; JWKS files are read now.
    pub fn new(config: OidcConfig, outbound: Outbound) -> Result<Self, OidcError> {
        let mut keys = HashMap::new();
        let sources = config
            .issuers
            .iter()
            .map(|i| (&i.issuer, &i.jwks_file))
            .chain(config.workloads.iter().map(|w| (&w.issuer, &w.jwks_file)));
        for (issuer, jwks_file) in sources {
            let set = match jwks_file {
                Some(path) => read_jwks(path)?,
                None => JwkSet { keys: Vec::new() },
            };
            keys.entry(issuer.clone()).or_insert_with(|| Keys {
                issuer: issuer.clone(),
                jwks_file: jwks_file.clone(),
                set: RwLock::new(Arc::new(set)),
                fetch: tokio::sync::Mutex::new(FetchState::default()),
            });
        }
        let refetch = Duration::from_secs(config.jwks_refetch_secs);
        Ok(Self {
            config,
            keys,
            outbound,
            refetch,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The sign-in issuer named `issuer`.
    pub fn sign_in_issuer(&self, issuer: &str) -> Option<&IssuerConfig> {
        self.config.issuers.iter().find(|i| i.issuer == issuer)
    }

    /// The `iss` a JWT claims, read without verifying it (to pick the keys that will).
    pub fn claimed_issuer(token: &str) -> Result<String, TokenError> {
        #[derive(serde::Deserialize)]
        struct Iss {
            iss: String,
        }
        let payload = token.split('.').nth(1).ok_or(TokenError::NotJwt)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| TokenError::NotJwt)?;
        let iss: Iss = serde_json::from_slice(&bytes).map_err(|_| TokenError::NotJwt)?;
        Ok(iss.iss)
    }

    /// Verifies `token`, signed by `issuer` for one of `audiences`: signature, `iss`, `aud`,
    /// `exp`, `nbf` and `iat` with [`CLOCK_LEEWAY_SECS`].
    pub async fn verify(
        &self,
        token: &str,
        issuer: &str,
        audiences: &[&str],
    ) -> Result<Verified, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::NotJwt)?;
        let keys = self
            .keys
            .get(issuer)
            .ok_or_else(|| TokenError::UnknownIssuer(truncate(issuer)))?;
        let key = self.key(keys, header.kid.as_deref()).await?;
        let decoding =
            DecodingKey::from_jwk(&key).map_err(|_| TokenError::Invalid("unusable key".into()))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[issuer]);
        validation.set_audience(audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = CLOCK_LEEWAY_SECS;
        let data =
            decode::<serde_json::Map<String, serde_json::Value>>(token, &decoding, &validation)
                .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let claims = data.claims;
        let iat = claims.get("iat").and_then(serde_json::Value::as_u64);
        if iat.is_some_and(|iat| iat > now_secs() + CLOCK_LEEWAY_SECS) {
            return Err(TokenError::Invalid(
                "issued in the future (`iat`); check the clocks".into(),
            ));
        }
        let subject = claims
            .get("sub")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| TokenError::Invalid("`sub` is not a string".into()))?
            .to_owned();
        Ok(Verified {
            issuer: issuer.to_owned(),
            subject,
            claims,
        })
    }

    /// The issuer's key with id `kid` (any key when the token names none), fetching the keys
    /// again when the cache lacks it and the last fetch is old enough.
    async fn key(&self, keys: &Keys, kid: Option<&str>) -> Result<Jwk, TokenError> {
        let find = |set: &JwkSet| {
            set.keys
                .iter()
                .find(|k| kid.is_none() || k.common.key_id.as_deref() == kid)
                .cloned()
        };
        let cached = keys.set.read().ok().map(|s| Arc::clone(&s));
        if let Some(key) = cached.as_deref().and_then(find) {
            return Ok(key);
        }
        let mut state = keys.fetch.lock().await;
        // Another caller may have fetched while this one waited.
        let current = keys.set.read().ok().map(|s| Arc::clone(&s));
        if let Some(key) = current.as_deref().and_then(find) {
            return Ok(key);
        }
        // A local file is cheap to read again; an issuer's URL is rate limited.
        let recent = state.last.is_some_and(|last| last.elapsed() < self.refetch);
        if recent && keys.jwks_file.is_none() {
            return Err(TokenError::UnknownKey);
        }
        state.last = Some(Instant::now());
        let fresh = self.fetch_keys(keys, &mut state).await.map_err(|e| {
            tracing::warn!(issuer = %keys.issuer, "OIDC keys: {e}");
            TokenError::KeysUnavailable
        })?;
        let found = find(&fresh);
        if let Ok(mut set) = keys.set.write() {
            *set = Arc::new(fresh);
        }
        found.ok_or(TokenError::UnknownKey)
    }

    /// Reads the issuer's JWKS: its file, or its `jwks_uri` (discovered once).
    async fn fetch_keys(&self, keys: &Keys, state: &mut FetchState) -> Result<JwkSet, OidcError> {
        if let Some(path) = &keys.jwks_file {
            return read_jwks(path);
        }
        let uri = match &state.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let uri = self.discover(&keys.issuer).await?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        Ok(self.outbound.get_json(&uri).await?)
    }

    /// The `jwks_uri` of `issuer`'s discovery document, checked.
    async fn discover(&self, issuer: &str) -> Result<String, OidcError> {
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc: Discovery = self.outbound.get_json(&url).await?;
        let fail = |reason: String| OidcError::Discovery {
            issuer: issuer.to_owned(),
            reason,
        };
        if doc.issuer != issuer {
            return Err(fail(format!(
                "the discovery document names issuer `{}`",
                truncate(&doc.issuer)
            )));
        }
        if !doc.jwks_uri.starts_with("https://") {
            return Err(fail("its jwks_uri is not https://".into()));
        }
        Ok(doc.jwks_uri)
    }
}

/// Whether `claims[claim]` is `value` or a list holding it.
pub fn claim_holds(
    claims: &serde_json::Map<String, serde_json::Value>,
    claim: &AdminClaim,
) -> bool {
    match claims.get(&claim.claim) {
        Some(serde_json::Value::String(s)) => *s == claim.value,
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .any(|v| v.as_str() == Some(claim.value.as_str())),
        _ => false,
    }
}

fn read_jwks(path: &std::path::Path) -> Result<JwkSet, OidcError> {
    let fail = |reason: String| OidcError::JwksFile {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| fail(e.to_string()))
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// At most 64 characters of a claim quoted in an error.
pub fn truncate(claim: &str) -> String {
    match claim.char_indices().nth(64) {
        Some((end, _)) => format!("{}...", &claim[..end]),
        None => claim.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(subject: &str) -> WorkloadRule {
        WorkloadRule {
            issuer: "https://ci".into(),
            audience: "cordium".into(),
            subject: subject.into(),
            user: "deployer".into(),
            ttl_secs: None,
            jwks_file: None,
        }
    }

    #[test]
    fn workload_subjects_match_exactly_or_by_prefix() {
        assert!(rule("repo:a/b:main").matches("repo:a/b:main"));
        assert!(!rule("repo:a/b:main").matches("repo:a/b:main2"));
        assert!(rule("repo:a/b:*").matches("repo:a/b:dev"));
        assert!(!rule("repo:a/b:*").matches("repo:a/c:dev"));
        assert_eq!(rule("x").ttl(), DEFAULT_WORKLOAD_TTL_SECS);
    }

    #[test]
    fn a_catch_all_workload_rule_and_a_shared_issuer_are_refused() {
        let mut config = OidcConfig {
            workloads: vec![rule("*")],
            ..OidcConfig::default()
        };
        assert!(config.check().is_err());
        config.workloads = vec![rule("job")];
        config.issuers = vec![IssuerConfig {
            issuer: "https://ci".into(),
            audience: "cordium".into(),
            user_claim: None,
            admin_claim: None,
            jwks_file: None,
        }];
        assert!(config.check().expect_err("shared issuer").contains("both"));
    }

    #[test]
    fn admin_claims_match_a_value_or_a_list_member() {
        let claim = AdminClaim {
            claim: "groups".into(),
            value: "admins".into(),
        };
        let of = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        assert!(claim_holds(
            &of(serde_json::json!({"groups": ["x", "admins"]})),
            &claim
        ));
        assert!(claim_holds(
            &of(serde_json::json!({"groups": "admins"})),
            &claim
        ));
        assert!(!claim_holds(
            &of(serde_json::json!({"groups": ["adminsx"]})),
            &claim
        ));
        assert!(!claim_holds(&of(serde_json::json!({})), &claim));
    }
}
