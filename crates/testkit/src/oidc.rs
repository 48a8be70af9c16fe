//! A real OpenID Connect issuer for the identity tests: npm `oidc-provider` (installed into
//! `<repo>/.tools/node` by `scripts/install-test-tools.sh`) run by
//! `tests/tools/oidc/issuer.mjs` over HTTPS on 127.0.0.1, with a certificate from a test CA
//! made here with openssl; and `tests/tools/oidc/browser.mjs`, which plays the browser on its
//! development login and consent pages.
//!
//! The tests make the issuer's signing keys ([`SigningKey`], ES256) and hand them to it, so
//! they can also rotate them (restart on the same port with other keys) and sign tokens the
//! issuer would never issue (expired ones, with its real key; forged ones, with another key
//! under the same key id).

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use p256::pkcs8::EncodePrivateKey as _;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const INSTALL: &str =
    "run scripts/install-test-tools.sh (it installs oidc-provider into .tools/node)";

/// A test CA and a certificate for 127.0.0.1 signed by it (openssl).
#[derive(Debug)]
pub struct TestCa {
    dir: tempfile::TempDir,
}

impl TestCa {
    /// A new CA and leaf certificate for 127.0.0.1.
    pub fn new() -> Self {
        Self::for_address("127.0.0.1")
    }

    /// A new CA and a leaf certificate for 127.0.0.1 and `address` (an IP, e.g. podman's
    /// gateway, for servers containers reach).
    pub fn for_address(address: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let sh = |script: &str| {
            crate::run(
                Command::new("sh")
                    .arg("-ec")
                    .arg(script)
                    .env(
                        "CORDIUM_TEST_SAN",
                        if address == "127.0.0.1" {
                            "IP:127.0.0.1".to_owned()
                        } else {
                            format!("IP:127.0.0.1,IP:{address}")
                        },
                    )
                    .current_dir(dir.path()),
                "openssl (apt-get install openssl)",
            )
        };
        sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
              -keyout ca.key -out ca.pem -days 2 -subj /CN=cordium-test-ca 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
              -keyout leaf.key -out leaf.csr -subj /CN=127.0.0.1 2>/dev/null
            printf 'subjectAltName=%s\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' \"$CORDIUM_TEST_SAN\" > ext
            openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
              -out leaf.pem -days 2 -extfile ext 2>/dev/null");
        Self { dir }
    }

    /// The CA certificate (PEM), for clients to trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn leaf(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("leaf.pem"),
            self.dir.path().join("leaf.key"),
        )
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// An ES256 signing key with a key id.
#[derive(Debug, Clone)]
pub struct SigningKey {
    /// The key id (`kid`).
    pub kid: String,
    secret: p256::SecretKey,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl SigningKey {
    /// A new random key.
    pub fn new(kid: &str) -> Self {
        let mut bytes = [0u8; 32];
        loop {
            getrandom::fill(&mut bytes).expect("random");
            if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
                return Self {
                    kid: kid.into(),
                    secret,
                };
            }
        }
    }

    /// The public JWK.
    pub fn jwk(&self) -> serde_json::Value {
        let point = self.secret.public_key().to_sec1_bytes();
        serde_json::json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": b64(&point[1..33]), "y": b64(&point[33..65])})
    }

    /// The private JWK (for the issuer).
    pub fn private_jwk(&self) -> serde_json::Value {
        let mut jwk = self.jwk();
        jwk["d"] = serde_json::Value::String(b64(&self.secret.to_bytes()));
        jwk
    }

    /// A JWT of `claims` signed with this key.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let der = self.secret.to_pkcs8_der().expect("pkcs8");
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &EncodingKey::from_ec_der(der.as_bytes())).expect("sign")
    }
}

/// A public client of the issuer (PKCE, any loopback port, refresh tokens).
pub fn public_client(client_id: &str) -> serde_json::Value {
    serde_json::json!({
        "client_id": client_id,
        "token_endpoint_auth_method": "none",
        "application_type": "native",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "id_token_signed_response_alg": "ES256",
    })
}

/// How an [`Issuer`] is set up.
#[derive(Debug, Clone)]
pub struct IssuerSetup {
    /// Its clients (oidc-provider metadata), e.g. [`public_client`].
    pub clients: Vec<serde_json::Value>,
    /// `groups` claims by login.
    pub groups: serde_json::Value,
    /// ID and access token lifetime in seconds.
    pub token_ttl: u64,
}

/// A running `oidc-provider`; stopped when dropped (and when the test process ends: it
/// exits when its standard input closes).
#[derive(Debug)]
pub struct Issuer {
    /// Its URL, `https://127.0.0.1:PORT` (the tokens' `iss`).
    pub url: String,
    port: u16,
    setup: IssuerSetup,
    config: tempfile::TempDir,
    ca: PathBuf,
    leaf: (PathBuf, PathBuf),
    child: Option<(Child, ChildStdin)>,
}

/// Starts `node SCRIPT CONFIG` (a script under the repository), waits for its `listening
/// URL` line and keeps reading its output into the returned lines (so it never blocks).
fn launch_node(
    script: &str,
    config: &Path,
) -> (Child, ChildStdin, String, Arc<Mutex<Vec<String>>>) {
    assert!(
        repo()
            .join(".tools/node/node_modules/oidc-provider")
            .is_dir(),
        "oidc-provider is missing: {INSTALL}"
    );
    let mut child = Command::new("node")
        .arg(repo().join(script))
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("node: {e} (apt-get install nodejs npm; {INSTALL})"));
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("listening ") {
                    break url.to_owned();
                }
            }
            _ => panic!("{script} did not start ({INSTALL})"),
        }
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&seen);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Ok(mut seen) = keep.lock() {
                seen.push(line);
            }
        }
    });
    (child, stdin, url, seen)
}

fn browser_command(ca: &Path) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(repo().join("tests/tools/oidc/browser.mjs"))
        .env("NODE_EXTRA_CA_CERTS", ca);
    cmd
}

/// `browser.mjs MODE URL LOGIN` trusting `ca`; what it printed.
pub fn browse(ca: &TestCa, mode: &str, url: &str, login: &str) -> String {
    crate::run(
        browser_command(&ca.ca_file()).args([mode, url, login]),
        "browser.mjs",
    )
    .trim()
    .to_owned()
}

/// A fake GitHub or GitLab (`tests/tools/githost/fake.mjs`): OAuth2 authorize and token
/// endpoints and the REST profile endpoints in their published shapes, over HTTPS with the
/// test CA; the one user consents at once. Stopped when dropped.
#[derive(Debug)]
pub struct GitHostFake {
    /// Its web URL, `https://127.0.0.1:PORT`.
    pub url: String,
    child: Child,
    _stdin: ChildStdin,
    output: Arc<Mutex<Vec<String>>>,
    _config: tempfile::TempDir,
}

impl GitHostFake {
    /// Starts a fake `kind` (`github` or `gitlab`) for the OAuth2 application `client_id`
    /// with `client_secret`, whose access tokens expire in `expires_in` seconds.
    pub fn start(
        ca: &TestCa,
        kind: &str,
        client_id: &str,
        client_secret: &str,
        expires_in: u64,
    ) -> Self {
        Self::launch(
            serde_json::json!({"kind": kind, "clientId": client_id,
            "clientSecret": client_secret, "expiresIn": expires_in}),
            ca,
        )
    }

    /// As [`GitHostFake::start`] for GitHub, also serving git's smart HTTP for the bare
    /// repositories under `repositories` to its valid access tokens only, on every address,
    /// named by `address` (podman's gateway: containers reach it; `ca` must be
    /// [`TestCa::for_address`] of it).
    pub fn serving_git(
        ca: &TestCa,
        client: (&str, &str),
        expires_in: u64,
        address: &str,
        repositories: &Path,
    ) -> Self {
        Self::launch(
            serde_json::json!({"kind": "github", "clientId": client.0,
            "clientSecret": client.1, "expiresIn": expires_in, "listen": "0.0.0.0",
            "shownHost": address, "repositories": repositories}),
            ca,
        )
    }

    fn launch(mut config: serde_json::Value, ca: &TestCa) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fake.json");
        let (cert, key) = ca.leaf();
        config["cert"] = serde_json::json!(cert);
        config["key"] = serde_json::json!(key);
        std::fs::write(&path, config.to_string()).expect("write fake config");
        let (child, stdin, url, output) = launch_node("tests/tools/githost/fake.mjs", &path);
        Self {
            url,
            child,
            _stdin: stdin,
            output,
            _config: dir,
        }
    }

    /// Every access token issued so far.
    pub fn issued(&self) -> Vec<String> {
        self.output
            .lock()
            .map(|lines| {
                lines
                    .iter()
                    .filter_map(|l| l.strip_prefix("issued ").map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Plays the browser: requests `authorization_url` (the fake consents at once) and
    /// then the redirect it answers (a CLI's loopback callback); returns `STATUS BODY`.
    pub fn visit(&self, ca: &TestCa, authorization_url: &str) -> String {
        browse(ca, "visit", authorization_url, "nobody")
    }
}

impl Drop for GitHostFake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Issuer {
    /// Starts an issuer signing with `keys` (the first signs), its TLS certificate from `ca`.
    pub fn start(ca: &TestCa, keys: &[&SigningKey], setup: IssuerSetup) -> Self {
        let mut issuer = Self {
            url: String::new(),
            port: 0,
            setup,
            config: tempfile::tempdir().expect("tempdir"),
            ca: ca.ca_file(),
            leaf: ca.leaf(),
            child: None,
        };
        issuer.launch(keys);
        issuer
    }

    /// Restarts on the same port with other keys: the issuer rotated its keys (sessions and
    /// grants are forgotten too).
    pub fn rotate(&mut self, keys: &[&SigningKey]) {
        self.stop();
        self.launch(keys);
    }

    /// Stops the issuer (it is down until [`Issuer::rotate`]).
    pub fn stop(&mut self) {
        if let Some((mut child, stdin)) = self.child.take() {
            drop(stdin);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn launch(&mut self, keys: &[&SigningKey]) {
        let path = self.config.path().join("issuer.json");
        let config = serde_json::json!({
            "port": self.port,
            "cert": self.leaf.0, "key": self.leaf.1,
            "jwks": {"keys": keys.iter().map(|k| k.private_jwk()).collect::<Vec<_>>()},
            "clients": self.setup.clients,
            "groups": self.setup.groups,
            "idTokenTtl": self.setup.token_ttl,
        });
        std::fs::write(&path, config.to_string()).expect("write issuer config");
        let (child, stdin, url, _) = launch_node("tests/tools/oidc/issuer.mjs", &path);
        self.port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        self.url = url;
        self.child = Some((child, stdin));
    }

    fn browser(&self) -> Command {
        browser_command(&self.ca)
    }

    /// Plays the browser from `authorization_url` as `login` (sign in, consent) and returns
    /// the redirect it ends on, not requested (it carries the code).
    pub fn locate(&self, authorization_url: &str, login: &str) -> String {
        crate::run(
            self.browser().args(["locate", authorization_url, login]),
            "browser.mjs locate",
        )
        .trim()
        .to_owned()
    }

    /// The token endpoint's answer (`id_token`, `refresh_token`...) for `login` signing in
    /// to `client_id` through the authorization code flow with PKCE, played headlessly.
    pub fn tokens(&self, client_id: &str, login: &str) -> serde_json::Value {
        let out = crate::run(
            self.browser().args(["token", &self.url, client_id, login]),
            "browser.mjs token",
        );
        serde_json::from_str(out.trim()).expect("token answer")
    }

    /// An ID token for `login` from `client_id`.
    pub fn id_token(&self, client_id: &str, login: &str) -> String {
        let tokens = self.tokens(client_id, login);
        tokens["id_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no id_token: {tokens}"))
            .to_owned()
    }

    /// Plays the browser from `authorization_url` as `login` (sign in, consent), then
    /// requests the redirect it ends on; returns `STATUS BODY` of that last request.
    pub fn visit(&self, authorization_url: &str, login: &str) -> String {
        crate::run(
            self.browser().args(["visit", authorization_url, login]),
            "browser.mjs visit",
        )
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.stop();
    }
}
