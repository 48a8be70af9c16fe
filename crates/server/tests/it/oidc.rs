//! OIDC ID tokens: verified against the issuer's JWKS file (signature, issuer, audience,
//! expiry), the user named by `preferred_username`, and rotated keys picked up by re-reading
//! the file.

use base64::Engine as _;
use cordium_server::auth::{Authenticator, OidcConfig};
use cordium_server::store::Store;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use p256::pkcs8::EncodePrivateKey as _;
use std::path::Path;
use tonic::Code;

const ISSUER: &str = "https://id.example.com";
const AUDIENCE: &str = "cordium";

struct Key {
    kid: String,
    secret: p256::SecretKey,
}

impl Key {
    fn new(kid: &str) -> Self {
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

    fn jwk(&self) -> serde_json::Value {
        let point = self.secret.public_key().to_sec1_bytes();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        serde_json::json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid, "x": b64(&point[1..33]), "y": b64(&point[33..65])})
    }

    fn sign(&self, claims: &serde_json::Value) -> String {
        let der = self.secret.to_pkcs8_der().expect("pkcs8");
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &EncodingKey::from_ec_der(der.as_bytes())).expect("sign")
    }
}

fn write_jwks(path: &Path, keys: &[&Key]) {
    let set = serde_json::json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()});
    std::fs::write(path, set.to_string()).expect("write jwks");
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn claims(user: &str, aud: &str, exp: u64) -> serde_json::Value {
    serde_json::json!({"iss": ISSUER, "aud": aud, "sub": format!("id-{user}"), "preferred_username": user, "exp": exp, "iat": now()})
}

#[tokio::test]
async fn id_tokens_are_verified_against_the_issuers_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&format!("sqlite://{}", dir.path().join("db").display()))
        .await
        .expect("store");
    store
        .add_user(
            "carol",
            &cordium_server::crypto::hash_token("cdm_unused"),
            true,
        )
        .await
        .expect("admin");
    let jwks = dir.path().join("jwks.json");
    let first = Key::new("k1");
    write_jwks(&jwks, &[&first]);
    let auth = Authenticator::new(
        store,
        Some(OidcConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks_file: jwks.clone(),
        }),
    )
    .expect("oidc");

    let alice = auth
        .authenticate(&first.sign(&claims("alice", AUDIENCE, now() + 600)))
        .await
        .expect("valid token");
    assert_eq!((alice.name.as_str(), alice.admin), ("alice", false));
    let carol = auth
        .authenticate(&first.sign(&claims("carol", AUDIENCE, now() + 600)))
        .await
        .expect("valid token");
    assert!(
        carol.admin,
        "an OIDC user is an administrator when added with --admin"
    );

    for (why, token) in [
        (
            "expired",
            first.sign(&claims("alice", AUDIENCE, now() - 3600)),
        ),
        (
            "other audience",
            first.sign(&claims("alice", "someone-else", now() + 600)),
        ),
        (
            "invalid user name",
            first.sign(&claims("Not A Name", AUDIENCE, now() + 600)),
        ),
        ("not a JWT", "garbage".to_owned()),
        ("not valid before an hour from now", {
            let mut early = claims("alice", AUDIENCE, now() + 7200);
            early["nbf"] = (now() + 3600).into();
            first.sign(&early)
        }),
        ("issued an hour from now", {
            let mut future = claims("alice", AUDIENCE, now() + 7200);
            future["iat"] = (now() + 3600).into();
            first.sign(&future)
        }),
        (
            "expired a minute ago (past the leeway)",
            first.sign(&claims("alice", AUDIENCE, now() - 60)),
        ),
    ] {
        let e = auth.authenticate(&token).await.expect_err(why);
        assert_eq!(e.code(), Code::Unauthenticated, "{why}: {e:?}");
    }
    let mut other_issuer = claims("alice", AUDIENCE, now() + 600);
    other_issuer["iss"] = "https://evil.example.com".into();
    assert_eq!(
        auth.authenticate(&first.sign(&other_issuer))
            .await
            .expect_err("issuer")
            .code(),
        Code::Unauthenticated
    );

    // A token signed by a key that is not (yet) published is refused...
    let second = Key::new("k2");
    let token = second.sign(&claims("alice", AUDIENCE, now() + 600));
    assert_eq!(
        auth.authenticate(&token)
            .await
            .expect_err("unknown key")
            .code(),
        Code::Unauthenticated
    );
    // ...and accepted once the issuer rotates its keys: the file is read again.
    write_jwks(&jwks, &[&second]);
    assert_eq!(
        auth.authenticate(&token).await.expect("rotated key").name,
        "alice"
    );

    // A forged token: right header and claims, signed by a key the issuer never published
    // under that id.
    let forger = Key {
        kid: "k2".into(),
        secret: Key::new("x").secret,
    };
    let forged = forger.sign(&claims("alice", AUDIENCE, now() + 600));
    assert_eq!(
        auth.authenticate(&forged).await.expect_err("forged").code(),
        Code::Unauthenticated
    );
}
