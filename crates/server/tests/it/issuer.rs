//! Sign-in against a real OpenID Connect issuer (npm `oidc-provider` over HTTPS with a test
//! CA, `cordium_testkit::oidc`): discovery, keys fetched over HTTPS and followed through a
//! rotation, several issuers each with its audience, the admin claim, refusals (second
//! issuer, wrong audience, expired, forged), a provider that is down, and workload tokens
//! mapped by issuer and subject rules.

use cordium_server::auth::{Authenticator, IssuerConfig, OidcConfig};
use cordium_server::oidc::{AdminClaim, WorkloadRule};
use cordium_server::store::Store;
use cordium_testkit::oidc::{Issuer, IssuerSetup, SigningKey, TestCa, public_client};
use std::time::{Duration, Instant};
use tonic::Code;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn setup(clients: &[&str]) -> IssuerSetup {
    IssuerSetup {
        clients: clients.iter().map(|c| public_client(c)).collect(),
        groups: serde_json::json!({"alice": ["staff", "cordium-admins"], "bob": ["staff"]}),
        token_ttl: 3600,
    }
}

fn sign_in_issuer(issuer: &Issuer) -> IssuerConfig {
    IssuerConfig {
        issuer: issuer.url.clone(),
        audience: "cordium".into(),
        user_claim: None,
        admin_claim: Some(AdminClaim {
            claim: "groups".into(),
            value: "cordium-admins".into(),
        }),
        jwks_file: None,
    }
}

async fn store(dir: &tempfile::TempDir) -> Store {
    Store::open(&format!("sqlite://{}", dir.path().join("db").display()))
        .await
        .expect("store")
}

fn refused(result: Result<cordium_server::service::Caller, tonic::Status>, what: &str) -> String {
    let status = result.expect_err(what);
    assert_eq!(status.code(), Code::Unauthenticated, "{what}: {status:?}");
    status.message().to_owned()
}

#[tokio::test]
async fn id_tokens_from_discovered_issuers_sign_users_in_and_rotation_is_followed() {
    let ca = TestCa::new();
    let first = SigningKey::new("first");
    let mut issuer = Issuer::start(&ca, &[&first], setup(&["cordium", "other-app"]));
    let stranger_key = SigningKey::new("first");
    let stranger = Issuer::start(&ca, &[&stranger_key], setup(&["cordium"]));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir).await;
    let config = OidcConfig {
        issuers: vec![sign_in_issuer(&issuer)],
        ca_file: Some(ca.ca_file()),
        jwks_refetch_secs: 1,
        ..OidcConfig::default()
    };
    let auth = Authenticator::new(store.clone(), Some(config)).expect("authenticator");

    // A first sign-in creates the user, keyed by (issuer, subject); the group claim grants
    // administrator, for that token.
    let alice = auth
        .authenticate(&issuer.id_token("cordium", "alice"))
        .await
        .expect("alice signs in");
    assert_eq!((alice.name.as_str(), alice.admin), ("alice", true));
    let bob_token = issuer.id_token("cordium", "bob");
    let bob = auth.authenticate(&bob_token).await.expect("bob signs in");
    assert_eq!((bob.name.as_str(), bob.admin), ("bob", false));
    assert_eq!(
        store
            .user_by_identity(&issuer.url, "bob")
            .await
            .expect("lookup")
            .map(|u| u.name),
        Some("bob".to_owned())
    );
    assert!(
        !store.user_is_admin("alice").await.expect("admin"),
        "the claim is not stored"
    );

    // Refused: a token for another client (audience), from an issuer not configured (even
    // signed under the same key id), expired though signed by the issuer's real key, forged
    // with another key under the issuer's key id.
    let message = refused(
        auth.authenticate(&issuer.id_token("other-app", "bob"))
            .await,
        "wrong audience",
    );
    assert!(message.contains("InvalidAudience"), "{message}");
    let message = refused(
        auth.authenticate(&stranger.id_token("cordium", "bob"))
            .await,
        "second issuer",
    );
    assert!(message.contains("not accepted"), "{message}");
    let claims = |exp: u64| serde_json::json!({"iss": issuer.url, "aud": "cordium", "sub": "bob", "exp": exp, "iat": now() - 7200});
    let message = refused(
        auth.authenticate(&first.sign(&claims(now() - 3600))).await,
        "expired",
    );
    assert!(message.contains("ExpiredSignature"), "{message}");
    let forged = SigningKey::new("first").sign(&claims(now() + 600));
    let message = refused(auth.authenticate(&forged).await, "forged");
    assert!(message.contains("InvalidSignature"), "{message}");
    assert!(!message.contains(&forged), "no token in the error");

    // The issuer rotates to a new key: its new tokens are accepted (the server fetches the
    // keys again on the unknown key id), and tokens of the retired key no longer are.
    let second = SigningKey::new("second");
    issuer.rotate(&[&second]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let carol = auth
        .authenticate(&issuer.id_token("cordium", "carol"))
        .await
        .expect("a token signed by the rotated key");
    assert_eq!(carol.name, "carol");
    let message = refused(auth.authenticate(&bob_token).await, "retired key");
    assert!(message.contains("unknown key"), "{message}");

    // Provider down: a token naming a key the server lacks is refused at once (connection
    // refused, within the outbound timeouts), with no token in the text; cached keys go on
    // working without the provider.
    let cached = issuer.id_token("cordium", "carol");
    issuer.stop();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let unknown = SigningKey::new("third").sign(&serde_json::json!({"iss": issuer.url, "aud": "cordium", "sub": "carol", "exp": now() + 600, "iat": now()}));
    let started = Instant::now();
    let status = auth
        .authenticate(&unknown)
        .await
        .expect_err("provider down");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(!status.message().contains(&unknown));
    assert!(started.elapsed() < cordium_api::outbound::REQUEST_TIMEOUT * 2);
    auth.authenticate(&cached)
        .await
        .expect("cached keys need no provider");
}

#[tokio::test]
async fn workload_tokens_map_to_users_by_issuer_and_subject_rules() {
    let ca = TestCa::new();
    let platform_key = SigningKey::new("ci");
    let platform = Issuer::start(&ca, &[&platform_key], setup(&["cordium-ci"]));
    let people_key = SigningKey::new("people");
    let people = Issuer::start(&ca, &[&people_key], setup(&["cordium", "cordium-ci"]));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir).await;
    store
        .add_user(
            "deployer",
            &cordium_server::crypto::hash_token("cdm_x"),
            false,
        )
        .await
        .expect("deployer");
    let config = OidcConfig {
        issuers: vec![sign_in_issuer(&people)],
        workloads: vec![WorkloadRule {
            issuer: platform.url.clone(),
            audience: "cordium-ci".into(),
            subject: "job-*".into(),
            user: "deployer".into(),
            ttl_secs: Some(300),
            jwks_file: None,
        }],
        ca_file: Some(ca.ca_file()),
        jwks_refetch_secs: 1,
    };
    let auth = Authenticator::new(store.clone(), Some(config)).expect("authenticator");

    let job = platform.id_token("cordium-ci", "job-42");
    let given = auth.exchange_workload(&job).await.expect("exchange");
    assert_eq!(given.user, "deployer");
    assert!(given.token.starts_with("cdw_"));
    assert!(given.expires_at <= now() + 300 && given.expires_at > now() + 200);
    let caller = auth
        .authenticate(&given.token)
        .await
        .expect("workload token");
    assert_eq!((caller.name.as_str(), caller.admin), ("deployer", false));

    // One platform token holds a few live workload tokens: a job that loops cannot take its
    // user's whole allowance and lock the user's other jobs out.
    use cordium_server::store::workload_tokens::MAX_LIVE_PER_PLATFORM_TOKEN;
    for _ in 1..MAX_LIVE_PER_PLATFORM_TOKEN {
        auth.exchange_workload(&job).await.expect("within the cap");
    }
    let looping = auth
        .exchange_workload(&job)
        .await
        .expect_err("past the platform token's cap");
    assert_eq!(looping.code(), Code::ResourceExhausted, "{looping:?}");
    assert!(
        looping
            .message()
            .contains("this platform token already holds"),
        "{looping:?}"
    );
    auth.exchange_workload(&platform.id_token("cordium-ci", "job-43"))
        .await
        .expect("another job of the same user");

    // Outside the rules: another subject, a sign-in issuer's token, and the platform token
    // used directly as a bearer.
    let stranger = auth
        .exchange_workload(&platform.id_token("cordium-ci", "intruder"))
        .await
        .expect_err("subject outside the rules");
    assert_eq!(stranger.code(), Code::PermissionDenied, "{stranger:?}");
    assert!(stranger.message().contains("intruder"), "{stranger:?}");
    let person = auth
        .exchange_workload(&people.id_token("cordium-ci", "job-42"))
        .await
        .expect_err("not a workload issuer");
    assert_eq!(person.code(), Code::Unauthenticated, "{person:?}");
    let message = refused(auth.authenticate(&job).await, "platform token as bearer");
    assert!(message.contains("workload"), "{message}");

    // The user disabled: the exchanged token stops working, and no new one is given.
    store.set_disabled("deployer", true).await.expect("disable");
    let again = auth.exchange_workload(&job).await.expect_err("disabled");
    assert_eq!(again.code(), Code::PermissionDenied);
    assert!(auth.authenticate_fresh(&given.token).await.is_err());

    // The user deleted and a new one added under the name: the old token is gone with its
    // user, and never acts as the new one.
    store.delete_user("deployer").await.expect("delete");
    store
        .add_user(
            "deployer",
            &cordium_server::crypto::hash_token("cdm_y"),
            false,
        )
        .await
        .expect("a new deployer");
    assert!(
        auth.authenticate_fresh(&given.token).await.is_err(),
        "a deleted user's workload token acts as nobody"
    );
}
