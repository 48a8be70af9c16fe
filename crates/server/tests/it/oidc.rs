//! OIDC ID tokens: verified against the issuer's JWKS file (signature, issuer, audience,
//! expiry), users keyed by (issuer, subject) with `preferred_username` only proposing the name
//! of a new user, and rotated keys picked up by re-reading the file.

use cordium_server::auth::{Authenticator, IssuerConfig, OidcConfig};
use cordium_server::store::Store;
use cordium_testkit::oidc::SigningKey as Key;
use std::path::Path;
use tonic::Code;

crate::on_both_backends!(
    identities_are_keyed_by_issuer_and_subject,
    concurrent_first_sign_ins_get_distinct_names,
);

const ISSUER: &str = "https://id.example.com";
const AUDIENCE: &str = "cordium";

/// One issuer whose keys are a JWKS file.
fn file_config(jwks_file: std::path::PathBuf) -> OidcConfig {
    OidcConfig {
        issuers: vec![IssuerConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            user_claim: None,
            admin_claim: None,
            jwks_file: Some(jwks_file),
        }],
        ..OidcConfig::default()
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
    claims_of(&format!("id-{user}"), user, aud, exp)
}

fn claims_of(sub: &str, user: &str, aud: &str, exp: u64) -> serde_json::Value {
    serde_json::json!({"iss": ISSUER, "aud": aud, "sub": sub, "preferred_username": user, "exp": exp, "iat": now()})
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
    let auth = Authenticator::new(store, Some(file_config(jwks.clone()))).expect("oidc");

    let alice = auth
        .authenticate(&first.sign(&claims("alice", AUDIENCE, now() + 600)))
        .await
        .expect("valid token");
    assert_eq!((alice.name.as_str(), alice.admin), ("alice", false));
    // The API-token administrator carol is not whoever the issuer calls `carol`: that
    // identity signs up as a user of its own (this used to assert it was carol, admin).
    let carol = auth
        .authenticate(&first.sign(&claims("carol", AUDIENCE, now() + 600)))
        .await
        .expect("valid token");
    assert_eq!((carol.name.as_str(), carol.admin), ("carol-2", false));

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
    let forger = Key::new("k2");
    let forged = forger.sign(&claims("alice", AUDIENCE, now() + 600));
    assert_eq!(
        auth.authenticate(&forged).await.expect_err("forged").code(),
        Code::Unauthenticated
    );
}

/// The takeover of issue 14: an account of the issuer calling itself `alice` is not the
/// API-token administrator alice; colliding names get derived ones; an operator's link is the
/// only way to act as an existing user; a disabled user's identity is refused.
async fn identities_are_keyed_by_issuer_and_subject(backend: crate::Backend) {
    use cordium_server::crypto::hash_token;
    let data = crate::Data::new(backend).await;
    let store = Store::open(&data.raw_url()).await.expect("store");
    store
        .add_user("alice", &hash_token("cdm_alice"), true)
        .await
        .expect("alice");
    let jwks = data.dir.path().join("jwks.json");
    let key = Key::new("k1");
    write_jwks(&jwks, &[&key]);
    let auth = Authenticator::new(store.clone(), Some(file_config(jwks))).expect("oidc");
    let sign_in = |sub: &str, name: &str| key.sign(&claims_of(sub, name, AUDIENCE, now() + 600));

    // Another subject calling itself alice: a new user, not alice, not an administrator.
    let mallory = auth
        .authenticate(&sign_in("mallory-sub", "alice"))
        .await
        .expect("sign-up");
    assert_eq!((mallory.name.as_str(), mallory.admin), ("alice-2", false));
    // A third one gets the next name; the first keeps hers, whatever she calls herself now.
    let third = auth
        .authenticate(&sign_in("eve-sub", "alice"))
        .await
        .expect("third");
    assert_eq!(third.name, "alice-3");
    let again = auth
        .authenticate(&sign_in("mallory-sub", "root"))
        .await
        .expect("again");
    assert_eq!((again.name.as_str(), again.admin), ("alice-2", false));
    // A free name is taken as proposed; `sub` proposes when there is no preferred_username.
    let erin = auth
        .authenticate(&sign_in("erin-sub", "erin"))
        .await
        .expect("erin");
    assert_eq!(erin.name, "erin");
    // A name that owns something without a user row (an OIDC user from before identities) is
    // taken too: the new identity does not inherit grace's resources.
    store
        .create(cordium_server::store::Write::new(
            &cordium_server::store::Record {
                kind: cordium_spec::Kind::UserConfig,
                scope: "grace".into(),
                name: "config".into(),
                owner: "grace".into(),
                space: String::new(),
                body: Vec::new(),
                version: 0,
                active: false,
            },
        ))
        .await
        .expect("grace's old UserConfig");
    assert_eq!(
        auth.authenticate(&sign_in("not-grace", "grace"))
            .await
            .expect("not grace")
            .name,
        "grace-2"
    );
    let no_name = key.sign(&serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "frank", "exp": now() + 600, "iat": now()}));
    assert_eq!(
        auth.authenticate(&no_name).await.expect("sub").name,
        "frank"
    );

    // The operator binds alice's real identity to her, explicitly.
    store
        .link_identity("alice", ISSUER, "alice-sub")
        .await
        .expect("link");
    let alice = auth
        .authenticate(&sign_in("alice-sub", "whatever"))
        .await
        .expect("alice");
    assert_eq!((alice.name.as_str(), alice.admin), ("alice", true));
    // An identity bound to one user cannot be bound to another.
    assert!(matches!(
        store.link_identity("alice", ISSUER, "mallory-sub").await,
        Err(cordium_server::store::UserError::IdentityTaken { .. })
    ));
    // The same subject from another issuer is another identity.
    store
        .link_identity("erin", "https://other.example.com", "alice-sub")
        .await
        .expect("other issuer");

    // Disabled: the identity is refused, and so is the API token.
    store.set_disabled("alice", true).await.expect("disable");
    for token in [sign_in("alice-sub", "alice"), "cdm_alice".to_owned()] {
        let e = auth.authenticate(&token).await.expect_err("disabled");
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    }
    // Deleted: the identity is gone with the user; signing in again makes a new user that
    // owns nothing of the old one (here under the freed name).
    store.delete_user("alice-2").await.expect("delete");
    let fresh = auth
        .authenticate(&sign_in("mallory-sub", "alice"))
        .await
        .expect("new sign-up");
    assert_eq!((fresh.name.as_str(), fresh.admin), ("alice-2", false));
}

#[test]
fn derived_names_stay_valid() {
    use cordium_server::store::users::candidate_names;
    let long = "a".repeat(40);
    for name in candidate_names(&long)
        .iter()
        .chain(&candidate_names("ab-c"))
    {
        assert!(
            cordium_spec::shapes::check_name(name).is_ok(),
            "`{name}` is not a valid name"
        );
    }
    assert_eq!(candidate_names("alice")[1], "alice-2");
    assert_eq!(candidate_names(&long)[19].len(), 40);
    // A sign-in proposing the reserved `cordium` (whose Spaces would be the organization's)
    // gets `cordium-2`.
    assert_eq!(candidate_names("cordium")[0], "cordium-2");
    // Whatever it is given (names are checked first), a cut never splits a character.
    let wide = "é".repeat(30);
    assert!(
        candidate_names(&wide)
            .iter()
            .all(|n| n.chars().count() <= 40)
    );
}

/// Concurrent first sign-ins proposing one name each get a user of their own, and one
/// identity signing in twice at once gets one user.
async fn concurrent_first_sign_ins_get_distinct_names(backend: crate::Backend) {
    let data = crate::Data::new(backend).await;
    let store = Store::open(&data.raw_url()).await.expect("store");
    let mut joins = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        joins.push(tokio::spawn(async move {
            let subject = format!("sub-{}", i % 6);
            store
                .sign_up(ISSUER, &subject, "zed")
                .await
                .map(|u| (subject, u.name))
        }));
    }
    let mut by_subject = std::collections::BTreeMap::new();
    for join in joins {
        let (subject, name) = join.await.expect("join").expect("sign-up");
        let previous = by_subject.insert(subject.clone(), name.clone());
        assert!(
            previous.is_none_or(|p| p == name),
            "{subject} got two users"
        );
    }
    let names: std::collections::BTreeSet<_> = by_subject.values().cloned().collect();
    assert_eq!(names.len(), 6, "{by_subject:?}");
    assert!(names.contains("zed"), "{names:?}");
}
