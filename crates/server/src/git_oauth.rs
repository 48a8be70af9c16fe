//! OAuth2 against git hosts for GitProviders: where each kind's endpoints are, the code and
//! refresh exchanges (the server holds the client secret), and the user's profile.
//!
//! Decisions:
//! - **Endpoints.** GitHub: `<web>/login/oauth/authorize`, `<web>/login/oauth/access_token`,
//!   the REST API at `https://api.github.com` for github.com and `<web>/api/v3` for any other
//!   web URL (GitHub Enterprise Server's layout); profile from `GET /user` and the primary
//!   verified address of `GET /user/emails`. GitLab: `<web>/oauth/authorize`,
//!   `<web>/oauth/token`, `GET <web>/api/v4/user`. The web URLs default to github.com and
//!   gitlab.com (`serve --github-url`, `--gitlab-url` for self-hosted ones and tests). Generic
//!   (`oauth2`): the spec's `authURL` and `tokenURL`; its profile is the OIDC userinfo of the
//!   issuer at `authURL`'s origin (discovered there).
//! - **Git hosts** a connection serves credentials for: the web URL's host (with its port when
//!   it has one); for a generic provider, `authURL`'s host.
//! - **Scopes** are stored space-separated (GitHub answers them comma-separated).
//! - Every call goes through [`Outbound`] (HTTPS only, no redirects, timeouts, bounded
//!   answers); errors carry the URL and the OAuth2 error code, never a token or the secret.

use cordium_api::outbound::{Outbound, OutboundError, Url};
use serde_json::Value as Json;

/// Where GitHub and GitLab are.
#[derive(Debug, Clone)]
pub struct GitHosts {
    /// GitHub's web URL (default `https://github.com`).
    pub github: String,
    /// GitLab's web URL (default `https://gitlab.com`).
    pub gitlab: String,
}

impl Default for GitHosts {
    fn default() -> Self {
        Self {
            github: "https://github.com".into(),
            gitlab: "https://gitlab.com".into(),
        }
    }
}

/// The kind of a GitProvider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// GitHub (or GitHub Enterprise Server).
    Github,
    /// GitLab.
    Gitlab,
    /// Any OAuth2 provider with OIDC userinfo.
    Generic,
}

/// A GitProvider's OAuth2 application and endpoints.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The kind.
    pub kind: ProviderKind,
    /// The client id.
    pub client_id: String,
    /// The Secret (in the provider's Space) holding the client secret.
    pub client_secret: String,
    /// Scopes to ask for.
    pub scopes: Vec<String>,
    /// The authorization endpoint.
    pub authorize: String,
    /// The token endpoint.
    pub token: String,
    /// The REST API base (GitHub, GitLab) or the issuer origin (generic).
    pub api: String,
    /// The git hosts (`host` or `host:port`) credentials are given for.
    pub hosts: Vec<String>,
}

/// Why a GitProvider cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GitOAuthError {
    /// The spec lacks something.
    #[error("GitProvider spec: {0}")]
    Spec(String),
    /// A call to the provider failed.
    #[error(transparent)]
    Outbound(#[from] OutboundError),
    /// The provider answered without what is needed.
    #[error("the provider's answer has no {0}")]
    Missing(&'static str),
}

/// The tokens of a code or refresh exchange.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access token.
    pub access: String,
    /// The refresh token, when given.
    pub refresh: Option<String>,
    /// When the access token expires (0: never said).
    pub expires_at: u64,
    /// The granted scopes, space-separated.
    pub scopes: String,
}

/// The user's profile at the provider.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// The login (user name).
    pub login: String,
    /// The display name (the login when there is none).
    pub name: String,
    /// The primary verified email.
    pub email: String,
    /// The account's stable id at the provider (GitHub's and GitLab's numeric `id`, OIDC's
    /// `sub`): what a sign-in is keyed by, since logins can be renamed.
    pub subject: String,
}

fn host_of(url: &str) -> Result<String, GitOAuthError> {
    let parsed = Url::parse(url).map_err(|e| GitOAuthError::Spec(format!("`{url}`: {e}")))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| GitOAuthError::Spec(format!("`{url}` has no host")))?;
    Ok(match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

fn text(v: &Json, field: &str) -> Result<String, GitOAuthError> {
    v.get(field)
        .and_then(Json::as_str)
        .map(str::to_owned)
        .ok_or_else(|| GitOAuthError::Spec(format!("`{field}` is missing")))
}

impl Endpoints {
    /// The endpoints of a GitProvider spec (its JSON), with `hosts` for GitHub and GitLab.
    pub fn of(spec: &Json, hosts: &GitHosts) -> Result<Self, GitOAuthError> {
        let (kind, app) = [
            ("github", ProviderKind::Github),
            ("gitlab", ProviderKind::Gitlab),
            ("oauth2", ProviderKind::Generic),
        ]
        .into_iter()
        .find_map(|(key, kind)| spec.get(key).map(|app| (kind, app)))
        .ok_or_else(|| GitOAuthError::Spec("none of github, gitlab, oauth2".into()))?;
        let client_id = text(app, "clientID")?;
        let client_secret = app.get("clientSecret").map_or_else(
            || Err(GitOAuthError::Spec("`clientSecret` is missing".into())),
            |s| text(s, "fromSecret"),
        )?;
        let scopes = app
            .get("scopes")
            .and_then(Json::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Json::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let (authorize, token, api, web) = match kind {
            ProviderKind::Github => {
                let web = hosts.github.trim_end_matches('/');
                let api = if web == "https://github.com" {
                    "https://api.github.com".to_owned()
                } else {
                    format!("{web}/api/v3")
                };
                (
                    format!("{web}/login/oauth/authorize"),
                    format!("{web}/login/oauth/access_token"),
                    api,
                    web.to_owned(),
                )
            }
            ProviderKind::Gitlab => {
                let web = hosts.gitlab.trim_end_matches('/');
                (
                    format!("{web}/oauth/authorize"),
                    format!("{web}/oauth/token"),
                    format!("{web}/api/v4"),
                    web.to_owned(),
                )
            }
            ProviderKind::Generic => {
                let authorize = text(app, "authURL")?;
                let parsed = Url::parse(&authorize)
                    .map_err(|e| GitOAuthError::Spec(format!("authURL: {e}")))?;
                let origin = parsed.origin().ascii_serialization();
                (authorize.clone(), text(app, "tokenURL")?, origin, authorize)
            }
        };
        Ok(Self {
            kind,
            client_id,
            client_secret,
            scopes,
            authorize,
            token,
            api,
            hosts: vec![host_of(&web)?],
        })
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        outbound: &Outbound,
        secret: &str,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<Tokens, GitOAuthError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", self.client_id.as_str()),
            ("client_secret", secret),
            ("code_verifier", verifier),
        ];
        self.tokens(outbound, &form, None).await
    }

    /// Exchanges a refresh token for new tokens (the old refresh token is kept when the
    /// provider does not rotate it).
    pub async fn refresh(
        &self,
        outbound: &Outbound,
        secret: &str,
        refresh_token: &str,
    ) -> Result<Tokens, GitOAuthError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", self.client_id.as_str()),
            ("client_secret", secret),
        ];
        self.tokens(outbound, &form, Some(refresh_token)).await
    }

    async fn tokens(
        &self,
        outbound: &Outbound,
        form: &[(&str, &str)],
        old_refresh: Option<&str>,
    ) -> Result<Tokens, GitOAuthError> {
        let answer: Json = outbound.post_form(&self.token, form).await?;
        let access = answer
            .get("access_token")
            .and_then(Json::as_str)
            .ok_or(GitOAuthError::Missing("access_token"))?
            .to_owned();
        let expires_at = answer
            .get("expires_in")
            .and_then(Json::as_u64)
            .map_or(0, |secs| crate::oidc::now_secs() + secs);
        let scopes = answer
            .get("scope")
            .and_then(Json::as_str)
            .map_or_else(|| self.scopes.join(" "), |s| s.replace(',', " "));
        let refresh = answer
            .get("refresh_token")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .or_else(|| old_refresh.map(str::to_owned));
        Ok(Tokens {
            access,
            refresh,
            expires_at,
            scopes,
        })
    }

    /// The user's profile, read with `access`.
    pub async fn profile(
        &self,
        outbound: &Outbound,
        access: &str,
    ) -> Result<Profile, GitOAuthError> {
        let field = |v: &Json, name: &str| v.get(name).and_then(Json::as_str).map(str::to_owned);
        let get =
            |url: String| async move { outbound.get_json_with::<Json>(&url, Some(access)).await };
        let (user, login_field, email) = match self.kind {
            ProviderKind::Github => {
                let user = get(format!("{}/user", self.api)).await?;
                let emails = get(format!("{}/user/emails", self.api)).await?;
                let email = emails
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|e| {
                        e.get("primary").and_then(Json::as_bool) == Some(true)
                            && e.get("verified").and_then(Json::as_bool) == Some(true)
                    })
                    .and_then(|e| field(e, "email"));
                (user, "login", email)
            }
            ProviderKind::Gitlab => {
                let user = get(format!("{}/user", self.api)).await?;
                let email = field(&user, "commit_email").or_else(|| field(&user, "email"));
                (user, "username", email)
            }
            ProviderKind::Generic => {
                let discovery: Json = outbound
                    .get_json(&format!("{}/.well-known/openid-configuration", self.api))
                    .await?;
                let userinfo = field(&discovery, "userinfo_endpoint")
                    .ok_or(GitOAuthError::Missing("userinfo_endpoint"))?;
                let user = get(userinfo).await?;
                let verified = user.get("email_verified").and_then(Json::as_bool) != Some(false);
                let email = field(&user, "email").filter(|_| verified);
                (user, "preferred_username", email)
            }
        };
        let login = field(&user, login_field)
            .or_else(|| field(&user, "sub"))
            .ok_or(GitOAuthError::Missing("login"))?;
        Ok(Profile {
            name: field(&user, "name").unwrap_or_else(|| login.clone()),
            email: email.unwrap_or_default(),
            subject: user
                .get("id")
                .map(Json::to_string)
                .or_else(|| field(&user, "sub"))
                .unwrap_or_default(),
            login,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_each_kind_and_the_configured_hosts() {
        let hosts = GitHosts {
            github: "https://ghe.example:8443".into(),
            gitlab: "https://gitlab.example".into(),
        };
        let gh = serde_json::json!({"github": {"clientID": "c", "clientSecret": {"fromSecret": "s"}, "scopes": ["repo"]}});
        let e = Endpoints::of(&gh, &hosts).expect("github");
        assert_eq!(e.token, "https://ghe.example:8443/login/oauth/access_token");
        assert_eq!(e.api, "https://ghe.example:8443/api/v3");
        assert_eq!(e.hosts, ["ghe.example:8443"]);
        let e = Endpoints::of(&gh, &GitHosts::default()).expect("github.com");
        assert_eq!(e.api, "https://api.github.com");
        let gl =
            serde_json::json!({"gitlab": {"clientID": "c", "clientSecret": {"fromSecret": "s"}}});
        assert_eq!(
            Endpoints::of(&gl, &hosts).expect("gitlab").api,
            "https://gitlab.example/api/v4"
        );
        let generic = serde_json::json!({"oauth2": {"clientID": "c", "clientSecret": {"fromSecret": "s"},
            "authURL": "https://id.example/auth", "tokenURL": "https://id.example/token", "scopes": ["openid"]}});
        let e = Endpoints::of(&generic, &hosts).expect("generic");
        assert_eq!(
            (e.api.as_str(), e.hosts[0].as_str()),
            ("https://id.example", "id.example")
        );
        assert!(Endpoints::of(&serde_json::json!({"github": {}}), &hosts).is_err());
    }
}
