//! The one outbound HTTP client of the server and the CLI: OIDC discovery, JWKS documents and
//! token endpoints all go through [`Outbound`].
//!
//! Why one client with these settings:
//! - rustls on the `ring` provider (never aws-lc, which needs cmake), HTTPS only: identity
//!   documents and tokens never travel in the clear;
//! - roots: the system's, plus one extra CA file when given (a private issuer, or the tests'
//!   CA);
//! - bounded everything: 5 s to connect, 10 s per request, 1 MiB per answer;
//! - no redirects at all: a token endpoint that redirects could send the code or refresh token
//!   to another host, and discovery and JWKS documents are served where they are named;
//! - errors name the URL and what went wrong, never a request body (which holds codes, secrets
//!   and tokens) nor an answer's body (which may hold tokens): only an OAuth2 `error` code.

use std::path::Path;

/// URLs, as the client parses them (for building authorization URLs and reading redirects).
pub use reqwest::Url;
use std::sync::Arc;
use std::time::Duration;

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most bytes an answer may have.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Why an outbound call failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The extra CA file could not be used.
    #[error("CA file {path}: {reason}")]
    Ca {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The TLS or client setup failed.
    #[error("HTTP client: {0}")]
    Setup(String),
    /// A URL that is not `https://`.
    #[error("`{0}` is not an https:// URL")]
    NotHttps(String),
    /// The request did not complete (connection, TLS, timeout).
    #[error("{url}: {reason}")]
    Request {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The answer's status was not a success.
    #[error("{url} answered {status}{}", error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default())]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The OAuth2 `error` code of the answer, when it has one.
        error: Option<String>,
    },
    /// The answer was larger than [`MAX_ANSWER_BYTES`].
    #[error("{url}: the answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge {
        /// The URL.
        url: String,
    },
    /// The answer is not the JSON expected.
    #[error("{url}: unexpected answer: {reason}")]
    Json {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// The outbound HTTP client (cheap to clone: one connection pool).
#[derive(Debug, Clone)]
pub struct Outbound {
    client: reqwest::Client,
}

impl Outbound {
    /// A client trusting the system's roots and, when given, the CA certificates (PEM) in
    /// `extra_ca`.
    pub fn new(extra_ca: Option<&Path>) -> Result<Self, OutboundError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A system certificate rustls cannot use is skipped, as browsers do.
            let _ = roots.add(cert);
        }
        if let Some(path) = extra_ca {
            add_pem(&mut roots, path)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| OutboundError::Setup(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent("cordium")
            .build()
            .map_err(|e| OutboundError::Setup(error_chain(&e)))?;
        Ok(Self { client })
    }

    /// GETs `url` and decodes its JSON answer.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, OutboundError> {
        self.get_json_with(url, None).await
    }

    /// GETs `url` with `Authorization: Bearer <bearer>` (e.g. a userinfo endpoint) and
    /// decodes its JSON answer.
    pub async fn get_json_with<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<T, OutboundError> {
        check_https(url)?;
        let mut request = self.client.get(url).header("accept", "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        self.json(url, request).await
    }

    /// POSTs `form` (`application/x-www-form-urlencoded`) to `url`, a token endpoint, and
    /// decodes its JSON answer. The form never appears in an error.
    pub async fn post_form<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<T, OutboundError> {
        check_https(url)?;
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self
            .client
            .post(url)
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.json(url, request).await
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, OutboundError> {
        let failed = |e: reqwest::Error| OutboundError::Request {
            url: url.to_owned(),
            reason: error_chain(&e.without_url()),
        };
        let mut answer = request.send().await.map_err(failed)?;
        let status = answer.status();
        let mut body = Vec::new();
        while let Some(chunk) = answer.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(OutboundError::TooLarge {
                    url: url.to_owned(),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(OutboundError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                error: oauth_error(&body),
            });
        }
        serde_json::from_slice(&body).map_err(|e| OutboundError::Json {
            url: url.to_owned(),
            reason: e.to_string(),
        })
    }
}

/// The OAuth2 `error` code of an error answer (RFC 6749 §5.2): a short token from a fixed
/// vocabulary, safe to show; `error_description` is left out (free text from the provider).
fn oauth_error(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        error: String,
    }
    let answer: Answer = serde_json::from_slice(body).ok()?;
    let code: String = answer
        .error
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    Some(code)
}

fn check_https(url: &str) -> Result<(), OutboundError> {
    if url.starts_with("https://") {
        Ok(())
    } else {
        Err(OutboundError::NotHttps(url.chars().take(200).collect()))
    }
}

/// Adds every certificate of the PEM file `path` to `roots`.
fn add_pem(roots: &mut rustls::RootCertStore, path: &Path) -> Result<(), OutboundError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let fail = |reason: String| OutboundError::Ca {
        path: path.display().to_string(),
        reason,
    };
    let mut added = 0;
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| fail(e.to_string()))? {
        let cert = cert.map_err(|e| fail(e.to_string()))?;
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(fail("no PEM certificate in it".into()));
    }
    Ok(())
}

/// Percent-encodes a form value (RFC 3986 unreserved characters stay).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An error and its causes, `: `-separated (reqwest's own text omits the causes).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode("AZaz09-._~"), "AZaz09-._~");
    }

    #[test]
    fn only_the_oauth_error_code_of_an_answer_is_kept() {
        let body = br#"{"error":"invalid_grant","error_description":"token abc expired"}"#;
        assert_eq!(oauth_error(body).as_deref(), Some("invalid_grant"));
        assert_eq!(oauth_error(b"<html>"), None);
    }

    #[tokio::test]
    async fn plain_http_is_refused_before_any_connection() {
        let client = Outbound::new(None).expect("client");
        let error = client
            .get_json::<serde_json::Value>("http://127.0.0.1:1/x")
            .await
            .expect_err("refused");
        assert!(matches!(error, OutboundError::NotHttps(_)), "{error}");
    }
}
