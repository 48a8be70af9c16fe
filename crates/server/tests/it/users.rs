//! Users: re-adding a name is refused, tokens rotate, a disabled user's every credential is
//! refused, and a deleted user's resources go with them (a re-added name sees none of them).

use crate::{
    Backend, Env, add_user_with_binary, fails, meta, name_of, ok, r, secret, space, workspace,
};
use cordium_server::auth::Authenticator;
use cordium_server::crypto::hash_token;
use cordium_server::pb;
use cordium_server::store::{UserError, Write};
use cordium_spec::Kind;
use tonic::Code;

crate::on_both_backends!(
    re_adding_a_name_is_refused_and_tokens_rotate,
    a_disabled_user_is_refused_every_credential,
    delete_removes_everything_and_a_new_user_of_the_name_sees_none_of_it,
    delete_is_refused_while_a_workspace_runs,
    the_user_commands_of_the_binary,
    a_remembered_credential_follows_changes,
);

fn list() -> pb::ListRequest {
    pb::ListRequest::default()
}

async fn re_adding_a_name_is_refused_and_tokens_rotate(backend: Backend) {
    let env = Env::new(backend).await;
    let e = env
        .server
        .store
        .add_user("alice", &hash_token("cdm_someone_else"), true)
        .await
        .expect_err("alice exists");
    assert!(
        matches!(e, UserError::AlreadyExists(ref n) if n == "alice"),
        "{e}"
    );
    // `cordium` is no user's: `<name>.cordium` Spaces are the organization's.
    let e = env
        .server
        .store
        .add_user("cordium", &hash_token("cdm_org"), false)
        .await
        .expect_err("reserved");
    assert!(matches!(e, UserError::Reserved(_)), "{e}");
    // Alice is still herself, with her token, and not an administrator.
    let auth = Authenticator::new(env.server.store.clone(), None).expect("auth");
    let alice = auth.authenticate(&env.alice_token).await.expect("alice");
    assert_eq!((alice.name.as_str(), alice.admin), ("alice", false));
    assert!(auth.authenticate("cdm_someone_else").await.is_err());

    let fresh = cordium_server::crypto::new_token().expect("token");
    env.server
        .store
        .rotate_token("alice", &hash_token(&fresh))
        .await
        .expect("rotate");
    assert_eq!(
        auth.authenticate(&env.alice_token)
            .await
            .expect_err("old token")
            .code(),
        Code::Unauthenticated
    );
    assert_eq!(auth.authenticate(&fresh).await.expect("new").name, "alice");
    assert!(matches!(
        env.server.store.rotate_token("nobody", "x").await,
        Err(UserError::NotFound(_))
    ));
}

async fn a_disabled_user_is_refused_every_credential(backend: Backend) {
    let env = Env::new(backend).await;
    let store = &env.server.store;
    store
        .add_session(&hash_token("cds_alice_run"), "ws1", "alice")
        .await
        .expect("session");
    let auth = Authenticator::new(store.clone(), None).expect("auth");
    auth.authenticate("cds_alice_run").await.expect("session");
    let mut alice = env.alice.clone();
    ok("ListSpace", alice.list_space(list()).await);

    store.set_disabled("alice", true).await.expect("disable");
    fails(
        "ListSpace disabled",
        alice.list_space(list()).await,
        &[Code::Unauthenticated],
    );
    for token in [env.alice_token.as_str(), "cds_alice_run"] {
        let e = auth.authenticate(token).await.expect_err("disabled");
        assert_eq!(e.code(), Code::Unauthenticated, "{token}: {e:?}");
    }
    // Others are untouched.
    ok("ListSpace bob", env.bob.clone().list_space(list()).await);
    // What the driver asks of its running workspaces' owners.
    let disabled = store
        .disabled_among(&["alice", "bob", "nobody"])
        .await
        .expect("disabled among");
    assert_eq!(disabled, ["alice".to_owned()].into_iter().collect());

    store.set_disabled("alice", false).await.expect("enable");
    assert!(
        store
            .disabled_among(&["alice"])
            .await
            .expect("again")
            .is_empty()
    );
    ok("ListSpace enabled", alice.list_space(list()).await);
    auth.authenticate("cds_alice_run").await.expect("session");
}

async fn delete_removes_everything_and_a_new_user_of_the_name_sees_none_of_it(backend: Backend) {
    let env = Env::new(backend).await;
    let store = &env.server.store;
    let (mut alice, mut bob) = (env.alice.clone(), env.bob.clone());
    ok(
        "CreateSpace",
        alice.create_space(space("proj.alice", None)).await,
    );
    ok(
        "CreateSecret",
        alice.create_secret(secret("proj.alice", "db", "v")).await,
    );
    let ws = name_of(
        &ok(
            "CreateWorkspace",
            alice.create_workspace(workspace("", "", None)).await,
        )
        .metadata,
    );
    ok(
        "CreateUserSecret",
        alice
            .create_user_secret(pb::UserSecret {
                metadata: meta("npm-token"),
                r#type: pb::UserSecretType::Default as i32,
                data: Some(pb::SecretData {
                    value: Some(pb::secret_data::Value::Text("alice-npm".into())),
                }),
                status: None,
            })
            .await,
    );
    ok(
        "UpdateUserConfig",
        alice
            .update_user_config(pb::UserConfig {
                metadata: None,
                spec: Some(crate::spec(
                    serde_json::json!({"envVars": [{"key": "EDITOR", "value": "vim"}]}),
                )),
            })
            .await,
    );
    let bob_ws = ok(
        "CreateWorkspace bob",
        bob.create_workspace(workspace("", "", None)).await,
    );
    store
        .add_session(&hash_token("cds_alice_run"), &ws, "alice")
        .await
        .expect("session");

    // Bob's Space lists alice as a member (no RPC sets members yet: written directly).
    ok(
        "CreateSpace bob",
        bob.create_space(space("team.bob", None)).await,
    );
    let mut team = store
        .get(Kind::Space, "", "team.bob")
        .await
        .expect("get")
        .expect("stored");
    let mut body = <pb::Space as prost::Message>::decode(team.body.as_slice()).expect("space");
    body.status.as_mut().expect("status").members = vec!["alice".into(), "carl".into()];
    team.body = prost::Message::encode_to_vec(&body);
    store.update(Write::new(&team)).await.expect("add member");

    let deleted = store.delete_user("alice").await.expect("delete");
    let team = store
        .get(Kind::Space, "", "team.bob")
        .await
        .expect("get")
        .expect("bob's Space stays");
    let body = <pb::Space as prost::Message>::decode(team.body.as_slice()).expect("space");
    assert_eq!(
        body.status.expect("status").members,
        vec!["carl".to_owned()]
    );
    assert!(deleted.resources >= 6, "{deleted:?}");
    assert_eq!(deleted.sessions, 1);
    let pool = env.data.raw_pool().await;
    let left: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM resources WHERE owner = 'alice' OR scope = 'alice' OR space LIKE '%.alice'")
            .fetch_one(&pool)
            .await
            .expect("count"),
        0,
    );
    assert_eq!(left, 0, "every resource of alice's is gone");
    let memberships: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM space_members WHERE member = 'alice'")
            .fetch_one(&pool)
            .await
            .expect("count"),
        0,
    );
    assert_eq!(
        memberships, 0,
        "the membership index lists read forgets alice too"
    );
    let auth = Authenticator::new(store.clone(), None).expect("auth");
    for token in [env.alice_token.as_str(), "cds_alice_run"] {
        assert_eq!(
            auth.authenticate(token).await.expect_err("deleted").code(),
            Code::Unauthenticated
        );
    }
    assert!(matches!(
        store.delete_user("alice").await,
        Err(UserError::NotFound(_))
    ));
    // Bob's things are untouched.
    ok(
        "GetWorkspace bob",
        bob.get_workspace(r("", &name_of(&bob_ws.metadata))).await,
    );

    // A new alice (added by the operator's command) starts with nothing.
    let token = add_user_with_binary(env.data.dir.path(), env.data.database_url(), "alice", false);
    let mut new_alice = env.server.client(&token);
    assert!(
        ok("ListWorkspace", new_alice.list_workspace(list()).await)
            .items
            .is_empty()
    );
    assert!(
        ok("ListUserSecret", new_alice.list_user_secret(list()).await)
            .items
            .is_empty()
    );
    let spaces = ok("ListSpace", new_alice.list_space(list()).await).items;
    assert!(
        spaces.iter().all(|s| name_of(&s.metadata) != "proj.alice"),
        "{spaces:?}"
    );
    fails(
        "GetSecret",
        new_alice.get_secret(r("proj.alice", "db")).await,
        &[Code::NotFound, Code::PermissionDenied],
    );
    let config = ok(
        "GetUserConfig",
        new_alice.get_user_config(pb::Empty {}).await,
    );
    assert!(
        config.spec.is_none_or(|s| s.fields.is_empty()),
        "the old UserConfig is gone"
    );

    // Her watches replay nothing of the old alice's workspaces, whose events are still kept:
    // the first event of a watch resuming from the first id is her own first workspace's.
    let mut events = ok(
        "WatchWorkspace",
        new_alice
            .watch_workspace(pb::WatchWorkspaceRequest {
                resume_after: 1,
                ..Default::default()
            })
            .await,
    );
    let mine = name_of(
        &ok(
            "CreateWorkspace",
            new_alice.create_workspace(workspace("", "", None)).await,
        )
        .metadata,
    );
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), events.message())
        .await
        .expect("an event within 10 s")
        .expect("the watch goes on")
        .expect("an event");
    let named = match first.event {
        Some(pb::workspace_event::Event::Created(ws)) => name_of(&ws.metadata),
        other => panic!("expected her workspace's creation, got {other:?}"),
    };
    assert_eq!(
        named, mine,
        "the old alice's workspace ({ws}) is not replayed"
    );
}

async fn delete_is_refused_while_a_workspace_runs(backend: Backend) {
    let env = Env::new(backend).await;
    let store = &env.server.store;
    let ws = name_of(
        &ok(
            "CreateWorkspace",
            env.alice
                .clone()
                .create_workspace(workspace("", "", None))
                .await,
        )
        .metadata,
    );
    let mut record = store
        .get(Kind::Workspace, "", &ws)
        .await
        .expect("get")
        .expect("stored");
    record.active = true;
    store
        .update(Write::new(&record))
        .await
        .expect("mark active");
    match store.delete_user("alice").await {
        Err(UserError::StillRunning { workspaces, .. }) => assert_eq!(workspaces, vec![ws.clone()]),
        other => panic!("expected StillRunning, got {other:?}"),
    }
    // Nothing was removed.
    assert!(
        store
            .get(Kind::Workspace, "", &ws)
            .await
            .expect("get")
            .is_some()
    );
    env.server
        .store
        .clone()
        .delete_user("bob")
        .await
        .expect("bob runs nothing");
}

/// `cordium-server user ...`, run as the operator would.
async fn the_user_commands_of_the_binary(backend: Backend) {
    let data = crate::Data::new(backend).await;
    let run = |args: &[&str]| {
        let out = crate::base_command(data.dir.path(), data.database_url())
            .args(args)
            .output()
            .expect("run cordium-server");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let first = add_user_with_binary(data.dir.path(), data.database_url(), "dora", false);
    let (ok_again, _, err) = run(&["user", "add", "dora", "--admin"]);
    assert!(!ok_again && err.contains("already exists"), "{err}");
    let store = cordium_server::store::Store::open(&data.raw_url())
        .await
        .expect("store");
    // Another process changed the users: read them afresh (the memo of calls follows
    // within its TTL, `a_remembered_credential_follows_changes`).
    let auth = Authenticator::new(store.clone(), None).expect("auth");
    assert!(!auth.authenticate_fresh(&first).await.expect("dora").admin);

    let (rotated, token, err) = run(&["user", "token", "dora"]);
    assert!(rotated && token.starts_with("cdm_"), "{err}");
    assert!(
        auth.authenticate_fresh(&first).await.is_err(),
        "the old token"
    );
    auth.authenticate_fresh(&token)
        .await
        .expect("the new token");

    assert!(run(&["user", "admin", "dora"]).0);
    assert!(auth.authenticate_fresh(&token).await.expect("dora").admin);
    assert!(run(&["user", "disable", "dora"]).0);
    assert!(auth.authenticate_fresh(&token).await.is_err(), "disabled");
    assert!(run(&["user", "enable", "dora"]).0);
    auth.authenticate_fresh(&token).await.expect("enabled");

    let (linked, _, err) = run(&[
        "user",
        "link",
        "dora",
        "--subject",
        "s-1",
        "--issuer",
        "https://id.example.com",
    ]);
    assert!(linked, "{err}");
    assert_eq!(
        store
            .user_by_identity("https://id.example.com", "s-1")
            .await
            .expect("identity")
            .map(|u| u.name),
        Some("dora".to_owned())
    );
    let (no_issuer, _, err) = run(&["user", "link", "dora", "--subject", "s-2"]);
    assert!(!no_issuer && err.contains("--issuer"), "{err}");

    let (deleted, _, err) = run(&["user", "delete", "dora"]);
    assert!(deleted, "{err}");
    assert!(auth.authenticate(&token).await.is_err(), "deleted");
    assert!(
        store
            .user_by_identity("https://id.example.com", "s-1")
            .await
            .expect("identity")
            .is_none()
    );
    let (again, _, err) = run(&["user", "delete", "dora"]);
    assert!(!again && err.contains("no user `dora`"), "{err}");
}

/// Calls remember who a token is (`crate::cache`): a change this server makes shows at once;
/// one made by another process sharing the database (the `user` commands) within the TTL.
async fn a_remembered_credential_follows_changes(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    ok("ListSpace", alice.list_space(list()).await);
    ok(
        "ListSpace again, remembered",
        alice.list_space(list()).await,
    );

    env.server
        .store
        .set_disabled("alice", true)
        .await
        .expect("disable here");
    fails(
        "ListSpace at once after this server disabled alice",
        alice.list_space(list()).await,
        &[Code::Unauthenticated],
    );
    env.server
        .store
        .set_disabled("alice", false)
        .await
        .expect("enable");
    ok("ListSpace enabled", alice.list_space(list()).await);

    let elsewhere = cordium_server::store::Store::open(&env.data.raw_url())
        .await
        .expect("a second process's store");
    elsewhere
        .set_disabled("alice", true)
        .await
        .expect("disable elsewhere");
    let changed = std::time::Instant::now();
    loop {
        let answer = alice.list_space(list()).await;
        if answer
            .as_ref()
            .is_err_and(|s| s.code() == Code::Unauthenticated)
        {
            break;
        }
        assert!(
            changed.elapsed() < cordium_server::CACHE_TTL * 5,
            "still accepted {:?} after another process disabled alice",
            changed.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
