//! Store conformance: the same suite on SQLite and on PostgreSQL, through the store's own
//! interface and through the API that sits on it.

use crate::{
    Backend, Data, Env, fails, meta, ok, r, secret, space, spec, template, version_of, workspace,
};
use cordium_server::pb;
use cordium_server::store::{After, EventKind, Precondition, Record, Store, StoreError, Write};
use cordium_spec::Kind;
use sqlx::Row as _;
use std::time::Duration;
use tonic::Code;

crate::on_both_backends!(
    crud_and_version_conflicts,
    stale_updates_are_aborted_over_the_api,
    create_all_is_atomic,
    deleting_a_space_cascades,
    migrations_are_versioned,
    a_store_from_before_the_members_table_is_backfilled,
    the_installation_is_chosen_once_per_database,
    the_active_workspaces_are_read_by_their_own_index,
    deletes_of_workspaces_are_recorded_until_forgotten,
    events_reach_subscribers,
    concurrent_creates_fail_alone,
    live_workload_tokens_are_capped_per_user,
);

async fn open(data: &Data) -> Store {
    Store::open(&data.raw_url()).await.expect("open the store")
}

fn record(kind: Kind, scope: &str, name: &str, space: &str, body: &[u8]) -> Record {
    Record {
        kind,
        scope: scope.into(),
        name: name.into(),
        owner: "alice".into(),
        space: space.into(),
        body: body.to_vec(),
        version: 0,
        active: false,
    }
}

/// A write expecting the record's own version (0: any), as a request's resourceVersion asks.
fn write(record: &Record) -> Write<'_> {
    Write::new(record).expecting(Precondition::from_resource_version(record.version))
}

async fn crud_and_version_conflicts(backend: Backend) {
    let data = Data::new(backend).await;
    let store = open(&data).await;

    let a = record(Kind::Template, "s.alice", "one", "s.alice", b"first");
    store.create(write(&a)).await.expect("create");
    assert!(
        matches!(
            store.create(write(&a)).await,
            Err(StoreError::AlreadyExists { .. })
        ),
        "a second create of the same key fails"
    );
    // The same name under another kind or scope is another resource.
    store
        .create(write(&record(
            Kind::Template,
            "t.alice",
            "one",
            "t.alice",
            b"other scope",
        )))
        .await
        .expect("other scope");
    store
        .create(write(&record(
            Kind::GitProvider,
            "s.alice",
            "one",
            "s.alice",
            b"other kind",
        )))
        .await
        .expect("other kind");

    let got = store
        .get(Kind::Template, "s.alice", "one")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        (
            got.body.as_slice(),
            got.version,
            got.owner.as_str(),
            got.space.as_str()
        ),
        (b"first".as_slice(), 1, "alice", "s.alice")
    );
    assert!(
        store
            .get(Kind::Template, "s.alice", "missing")
            .await
            .expect("get")
            .is_none()
    );

    store
        .create(write(&record(
            Kind::Template,
            "s.alice",
            "two",
            "s.alice",
            b"second",
        )))
        .await
        .expect("create two");
    let names = |records: Vec<Record>| records.into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert_eq!(
        names(
            store
                .list(Kind::Template, Some("s.alice"))
                .await
                .expect("list")
        ),
        ["one", "two"]
    );
    assert_eq!(
        names(store.list(Kind::Template, None).await.expect("list all")),
        ["one", "two", "one"],
        "by scope, then name"
    );
    assert_eq!(
        names(
            store
                .list_in_space(Kind::Template, "t.alice")
                .await
                .expect("in space")
        ),
        ["one"]
    );
    assert_eq!(
        store
            .count_owned(Kind::Template, "alice")
            .await
            .expect("count"),
        3
    );
    assert_eq!(
        store
            .count_owned(Kind::Template, "bob")
            .await
            .expect("count"),
        0
    );

    // Updates: with the current version, then stale, then unconditional.
    let v2 = store
        .update(write(&Record {
            body: b"v2".to_vec(),
            version: 1,
            ..a.clone()
        }))
        .await
        .expect("update at version 1");
    assert_eq!(v2, 2);
    match store
        .update(write(&Record {
            body: b"stale".to_vec(),
            version: 1,
            ..a.clone()
        }))
        .await
    {
        Err(StoreError::Conflict { expected: 1, .. }) => {}
        other => panic!("a stale update must conflict, got {other:?}"),
    }
    let v3 = store
        .update(write(&Record {
            body: b"v3".to_vec(),
            version: 0,
            ..a.clone()
        }))
        .await
        .expect("unconditional update");
    assert_eq!(v3, 3);
    let got = store
        .get(Kind::Template, "s.alice", "one")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        (got.body.as_slice(), got.version),
        (b"v3".as_slice(), 3),
        "the stale write changed nothing"
    );
    assert!(matches!(
        store
            .update(write(&record(
                Kind::Template,
                "s.alice",
                "nope",
                "s.alice",
                b"x"
            )))
            .await,
        Err(StoreError::NotFound { .. })
    ));

    // Secrets live beside their resource and go with it.
    let s = record(Kind::Secret, "s.alice", "db", "s.alice", b"secret resource");
    store
        .create(Write::new(&s).sealed(Some(b"ciphertext-1")))
        .await
        .expect("create secret");
    assert_eq!(
        store
            .secret_ciphertext(Kind::Secret, "s.alice", "db")
            .await
            .expect("ct")
            .as_deref(),
        Some(b"ciphertext-1".as_slice())
    );
    store
        .update(Write::new(&s).sealed(Some(b"ciphertext-2")))
        .await
        .expect("update secret");
    assert_eq!(
        store
            .secret_ciphertext(Kind::Secret, "s.alice", "db")
            .await
            .expect("ct")
            .as_deref(),
        Some(b"ciphertext-2".as_slice())
    );
    store
        .update(write(&s))
        .await
        .expect("update without a new value");
    assert_eq!(
        store
            .secret_ciphertext(Kind::Secret, "s.alice", "db")
            .await
            .expect("ct")
            .as_deref(),
        Some(b"ciphertext-2".as_slice()),
        "kept"
    );

    // Delete.
    let deleted = store
        .delete(Kind::Template, "s.alice", "one", false)
        .await
        .expect("delete");
    assert_eq!(deleted.body, b"v3");
    assert!(
        store
            .get(Kind::Template, "s.alice", "one")
            .await
            .expect("get")
            .is_none()
    );
    assert!(matches!(
        store.delete(Kind::Template, "s.alice", "one", false).await,
        Err(StoreError::NotFound { .. })
    ));
    store
        .delete(Kind::Secret, "s.alice", "db", false)
        .await
        .expect("delete secret");
    assert!(
        store
            .secret_ciphertext(Kind::Secret, "s.alice", "db")
            .await
            .expect("ct")
            .is_none(),
        "the value went with the Secret"
    );
    // A deleted key can be created again, from version 1.
    store.create(write(&a)).await.expect("re-create");
    assert_eq!(
        store
            .get(Kind::Template, "s.alice", "one")
            .await
            .expect("get")
            .expect("present")
            .version,
        1
    );
}

async fn stale_updates_are_aborted_over_the_api(backend: Backend) {
    let env = Env::new(backend).await;
    let (mut alice, mut admin) = (env.alice.clone(), env.management(&env.admin_token));

    let created = ok(
        "CreateSpace",
        alice.create_space(space("conf.alice", None)).await,
    );
    assert_eq!(version_of(&created.metadata), 1);
    let got = ok("GetSpace", alice.get_space(r("", "conf.alice")).await);
    assert_eq!(got.status.as_ref().expect("status").owner, "alice");
    let listed = ok(
        "ListSpace",
        alice.list_space(pb::ListRequest::default()).await,
    );
    assert!(
        listed
            .items
            .iter()
            .any(|s| crate::name_of(&s.metadata) == "conf.alice")
    );

    let mut update = got.clone();
    update.metadata.as_mut().expect("metadata").display_name = "Conformance".into();
    let v2 = ok(
        "UpdateSpace at v1",
        alice.update_space(update.clone()).await,
    );
    assert_eq!(version_of(&v2.metadata), 2);
    assert_eq!(
        v2.metadata.as_ref().expect("metadata").display_name,
        "Conformance"
    );
    assert_eq!(
        v2.metadata.as_ref().expect("metadata").uid,
        got.metadata.as_ref().expect("metadata").uid,
        "identity kept"
    );
    fails(
        "UpdateSpace with a stale version",
        alice.update_space(update).await,
        &[Code::Aborted],
    );

    let t = ok(
        "CreateTemplate",
        alice
            .create_template(template("conf.alice", "tmpl", None))
            .await,
    );
    ok("UpdateTemplate", alice.update_template(t.clone()).await);
    fails(
        "UpdateTemplate stale",
        alice.update_template(t).await,
        &[Code::Aborted],
    );

    let ws = ok(
        "CreateWorkspace",
        alice
            .create_workspace(workspace("conf.alice", "tmpl", None))
            .await,
    );
    ok("UpdateWorkspace", alice.update_workspace(ws.clone()).await);
    let mut future = ws.clone();
    fails(
        "UpdateWorkspace stale",
        alice.update_workspace(ws).await,
        &[Code::Aborted],
    );
    // A version the workspace never had is not called stale: the answer says what is wrong
    // either way.
    if let Some(m) = future.metadata.as_mut() {
        m.resource_version = 99;
    }
    let s = fails(
        "UpdateWorkspace at a future version",
        alice.update_workspace(future).await,
        &[Code::Aborted],
    );
    assert!(
        s.message().contains("is not at version 99") && !s.message().contains("stale"),
        "{}",
        s.message()
    );

    let s = ok(
        "CreateSecret",
        alice
            .create_secret(secret("conf.alice", "db", "value-1"))
            .await,
    );
    ok(
        "UpdateSecret",
        alice
            .update_secret(pb::Secret {
                data: None,
                ..s.clone()
            })
            .await,
    );
    fails(
        "UpdateSecret stale",
        alice.update_secret(pb::Secret { data: None, ..s }).await,
        &[Code::Aborted],
    );

    let g = ok(
        "CreateGitProvider",
        alice
            .create_git_provider(crate::git_provider("conf.alice", "gh"))
            .await,
    );
    ok(
        "UpdateGitProvider",
        alice.update_git_provider(g.clone()).await,
    );
    fails(
        "UpdateGitProvider stale",
        alice.update_git_provider(g).await,
        &[Code::Aborted],
    );

    let us = pb::UserSecret {
        metadata: meta("token"),
        r#type: pb::UserSecretType::Default as i32,
        data: Some(pb::SecretData {
            value: Some(pb::secret_data::Value::Text("v".into())),
        }),
        status: None,
    };
    let us = ok("CreateUserSecret", alice.create_user_secret(us).await);
    ok(
        "UpdateUserSecret",
        alice.update_user_secret(us.clone()).await,
    );
    fails(
        "UpdateUserSecret stale",
        alice.update_user_secret(us).await,
        &[Code::Aborted],
    );

    let uc = ok("GetUserConfig", alice.get_user_config(pb::Empty {}).await);
    ok(
        "UpdateUserConfig",
        alice.update_user_config(uc.clone()).await,
    );
    fails(
        "UpdateUserConfig stale",
        alice.update_user_config(uc).await,
        &[Code::Aborted],
    );

    let cc = pb::ClusterConfig {
        metadata: None,
        spec: Some(spec(
            serde_json::json!({"workspace": {"limit": {"maxPerUser": 50}}}),
        )),
    };
    let cc = ok(
        "UpdateClusterConfig (creates)",
        admin.update_cluster_config(cc).await,
    );
    assert_eq!(version_of(&cc.metadata), 1);
    let cc2 = ok(
        "UpdateClusterConfig at v1",
        admin.update_cluster_config(cc.clone()).await,
    );
    assert_eq!(version_of(&cc2.metadata), 2);
    fails(
        "UpdateClusterConfig stale",
        admin.update_cluster_config(cc).await,
        &[Code::Aborted],
    );
    let got = ok(
        "GetClusterConfig",
        admin.get_cluster_config(pb::Empty {}).await,
    );
    assert_eq!(version_of(&got.metadata), 2);
    assert_eq!(
        crate::json(got.spec.as_ref().expect("spec"))["workspace"]["limit"]["maxPerUser"],
        50
    );
}

async fn create_all_is_atomic(backend: Backend) {
    let data = Data::new(backend).await;
    let store = open(&data).await;
    let mut events = store.subscribe();

    let taken = record(
        Kind::Template,
        "s.alice",
        "taken",
        "s.alice",
        b"already here",
    );
    store.create(write(&taken)).await.expect("create");

    // The first write is fine, the second collides: neither may remain.
    let first = record(Kind::Workspace, "", "abc", "s.alice", b"workspace");
    let second = Record {
        body: b"collides".to_vec(),
        ..taken.clone()
    };
    let result = store
        .create_all(&[
            Write::new(&first).sealed(Some(b"sealed")).event(true),
            Write::new(&second).sealed(Some(b"sealed-2")),
        ])
        .await;
    assert!(
        matches!(result, Err(StoreError::AlreadyExists { .. })),
        "got {result:?}"
    );
    assert!(
        store
            .get(Kind::Workspace, "", "abc")
            .await
            .expect("get")
            .is_none(),
        "the first write was rolled back"
    );
    assert!(
        store
            .secret_ciphertext(Kind::Workspace, "", "abc")
            .await
            .expect("ct")
            .is_none(),
        "its secret value too"
    );
    assert_eq!(
        store
            .get(Kind::Template, "s.alice", "taken")
            .await
            .expect("get")
            .expect("kept")
            .body,
        b"already here",
        "the existing one is untouched"
    );

    // Two writes of the same new key in one batch: the batch fails as a whole.
    let twin = record(Kind::Space, "", "twin.alice", "", b"twin");
    assert!(
        store
            .create_all(&[write(&twin), write(&twin)])
            .await
            .is_err()
    );
    assert!(
        store
            .get(Kind::Space, "", "twin.alice")
            .await
            .expect("get")
            .is_none()
    );

    // No event was announced for the failed batches: the next event is the next success.
    let ok_ws = record(Kind::Workspace, "", "xyz", "s.alice", b"ok");
    store
        .create_all(&[
            Write::new(&ok_ws).event(true),
            write(&record(Kind::Template, "s.alice", "fresh", "s.alice", b"t")),
        ])
        .await
        .expect("a good batch");
    let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event in time")
        .expect("event");
    assert_eq!(
        (event.kind, event.name.as_str()),
        (EventKind::Created, "xyz")
    );
    assert!(
        store
            .get(Kind::Template, "s.alice", "fresh")
            .await
            .expect("get")
            .is_some()
    );

    // And the database holds no event row for the rolled-back workspace.
    let pool = data.raw_pool().await;
    let rows = sqlx::query("SELECT name FROM events ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("events");
    let names: Vec<String> = rows.iter().map(|r| r.try_get(0).expect("name")).collect();
    assert_eq!(names, ["xyz"]);
}

async fn deleting_a_space_cascades(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    ok(
        "CreateSpace",
        alice.create_space(space("doomed.alice", None)).await,
    );
    ok(
        "CreateSpace",
        alice.create_space(space("kept.alice", None)).await,
    );
    for s in ["doomed.alice", "kept.alice"] {
        ok(
            "CreateTemplate",
            alice.create_template(template(s, "tmpl", None)).await,
        );
        ok(
            "CreateSecret",
            alice.create_secret(secret(s, "db", "cascade-value")).await,
        );
        ok(
            "CreateGitProvider",
            alice
                .create_git_provider(crate::git_provider(s, "gh"))
                .await,
        );
    }
    let doomed_ws = ok(
        "CreateWorkspace",
        alice
            .create_workspace(workspace("doomed.alice", "tmpl", None))
            .await,
    );
    let kept_ws = ok(
        "CreateWorkspace",
        alice
            .create_workspace(workspace("kept.alice", "tmpl", None))
            .await,
    );
    let build = ok(
        "BuildTemplate",
        alice
            .build_template(pb::BuildTemplateRequest {
                name: "doomed.alice/tmpl".into(),
                tags: vec![],
            })
            .await,
    );
    let build_ws = format!(
        "build-{}",
        build
            .status
            .as_ref()
            .expect("status")
            .current_running_build_id
    );
    assert!(
        env.server
            .store
            .get(Kind::Workspace, "", &build_ws)
            .await
            .expect("get")
            .is_some()
    );
    let mut watch = alice
        .watch_workspace(pb::WatchWorkspaceRequest {
            name: String::new(),
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();

    ok(
        "DeleteSpace",
        alice.delete_space(r("", "doomed.alice")).await,
    );

    let store = &env.server.store;
    assert!(
        store
            .get(Kind::Space, "", "doomed.alice")
            .await
            .expect("get")
            .is_none()
    );
    let left = store
        .list_in_space(Kind::Template, "doomed.alice")
        .await
        .expect("templates");
    assert!(left.is_empty(), "templates left: {left:?}");
    for kind in [Kind::Workspace, Kind::Secret, Kind::GitProvider] {
        assert!(
            store
                .list_in_space(kind, "doomed.alice")
                .await
                .expect("list")
                .is_empty(),
            "{}s left in the deleted Space",
            kind.as_str()
        );
    }
    assert!(
        store
            .secret_ciphertext(Kind::Secret, "doomed.alice", "db")
            .await
            .expect("ct")
            .is_none(),
        "the secret value is gone too"
    );
    fails(
        "GetSpace",
        alice.get_space(r("", "doomed.alice")).await,
        &[Code::NotFound],
    );
    fails(
        "GetTemplate",
        alice.get_template(r("doomed.alice", "tmpl")).await,
        &[Code::NotFound],
    );
    fails(
        "GetWorkspace",
        alice
            .get_workspace(r("", &crate::name_of(&doomed_ws.metadata)))
            .await,
        &[Code::NotFound],
    );
    fails(
        "GetWorkspace (build)",
        alice.get_workspace(r("", &build_ws)).await,
        &[Code::NotFound],
    );
    fails(
        "GetSecret",
        alice.get_secret(r("doomed.alice", "db")).await,
        &[Code::NotFound],
    );
    fails(
        "GetGitProvider",
        alice.get_git_provider(r("doomed.alice", "gh")).await,
        &[Code::NotFound],
    );

    // Watchers hear that the workspaces went.
    let mut deleted = Vec::new();
    while deleted.len() < 2 {
        let Some(event) = crate::next_within(&mut watch, Duration::from_secs(10)).await else {
            panic!("missing delete events, saw {deleted:?}")
        };
        if let Some(pb::workspace_event::Event::Deleted(ws)) = event.event {
            deleted.push(crate::name_of(&ws.metadata));
        }
    }
    deleted.sort();
    let mut expected = vec![crate::name_of(&doomed_ws.metadata), build_ws];
    expected.sort();
    assert_eq!(deleted, expected);

    // The other Space is whole.
    ok("GetSpace kept", alice.get_space(r("", "kept.alice")).await);
    ok(
        "GetTemplate kept",
        alice.get_template(r("kept.alice", "tmpl")).await,
    );
    ok(
        "GetWorkspace kept",
        alice
            .get_workspace(r("", &crate::name_of(&kept_ws.metadata)))
            .await,
    );
    ok(
        "GetSecret kept",
        alice.get_secret(r("kept.alice", "db")).await,
    );
    ok(
        "GetGitProvider kept",
        alice.get_git_provider(r("kept.alice", "gh")).await,
    );
    assert!(
        store
            .secret_ciphertext(Kind::Secret, "kept.alice", "db")
            .await
            .expect("ct")
            .is_some()
    );
    // The name is free again, with a fresh default Template.
    ok(
        "CreateSpace again",
        alice.create_space(space("doomed.alice", None)).await,
    );
    ok(
        "GetTemplate default",
        alice.get_template(r("doomed.alice", "default")).await,
    );
    fails(
        "GetTemplate old",
        alice.get_template(r("doomed.alice", "tmpl")).await,
        &[Code::NotFound],
    );
}

async fn migrations_are_versioned(backend: Backend) {
    let data = Data::new(backend).await;
    // Replicas may start together: both migrate, one after the other.
    let (a, b) = tokio::join!(open(&data), open(&data));
    a.create(write(&record(
        Kind::Template,
        "s.alice",
        "kept",
        "s.alice",
        b"body",
    )))
    .await
    .expect("create");
    drop((a, b));
    let again = open(&data).await;
    assert_eq!(
        again
            .get(Kind::Template, "s.alice", "kept")
            .await
            .expect("get")
            .expect("survives a reopen")
            .body,
        b"body"
    );
    let pool = data.raw_pool().await;
    let rows = sqlx::query("SELECT version FROM cordium_schema ORDER BY version")
        .fetch_all(&pool)
        .await
        .expect("schema versions");
    let versions: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get(0).expect("version"))
        .collect();
    assert!(!versions.is_empty(), "the schema version is recorded");
    let mut distinct = versions.clone();
    distinct.dedup();
    assert_eq!(versions, distinct, "each migration ran once");
    assert_eq!(
        versions,
        (1..=versions.len() as i64).collect::<Vec<_>>(),
        "versions are 1..N"
    );
}

/// The driver's health check and scan read the active workspaces only, through a partial
/// index, so their cost follows the active workspaces and not the store's size.
async fn the_active_workspaces_are_read_by_their_own_index(backend: Backend) {
    let data = Data::new(backend).await;
    let store = open(&data).await;
    for (name, active) in [("run1", true), ("idle", false), ("run2", true)] {
        let ws = Record {
            active,
            ..evented(name, b"ws")
        };
        store.create(write(&ws)).await.expect("create");
    }
    let names =
        |records: Vec<Record>| -> Vec<String> { records.into_iter().map(|r| r.name).collect() };
    assert_eq!(
        names(store.active_workspaces().await.expect("active")),
        ["run1", "run2"]
    );
    // A stop clears the column, a start sets it.
    let stopped = Record {
        active: false,
        version: 1,
        ..evented("run1", b"stopped")
    };
    store.update(write(&stopped)).await.expect("stop");
    let started = Record {
        active: true,
        version: 1,
        ..evented("idle", b"started")
    };
    store.update(write(&started)).await.expect("start");
    assert_eq!(
        names(store.active_workspaces().await.expect("active")),
        ["idle", "run2"]
    );
    if backend == Backend::Sqlite {
        let pool = data.raw_pool().await;
        let explain = format!(
            "EXPLAIN QUERY PLAN {}",
            cordium_server::store::ACTIVE_WORKSPACES
        );
        let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(explain))
            .fetch_all(&pool)
            .await
            .expect("plan")
            .iter()
            .map(|row| row.try_get::<String, _>(3).expect("detail"))
            .collect();
        assert!(
            plan.iter()
                .any(|step| step.contains("resources_active_names")),
            "{plan:?}"
        );
    }
}

/// A workspace's delete is recorded in its transaction, whichever way it is deleted (alone,
/// with its Space), until the driver forgets it; other kinds' are not.
async fn deletes_of_workspaces_are_recorded_until_forgotten(backend: Backend) {
    let data = Data::new(backend).await;
    let store = open(&data).await;
    store
        .create(write(&record(Kind::Space, "", "s.alice", "", b"space")))
        .await
        .expect("Space");
    for name in ["one", "two"] {
        store
            .create(write(&evented(name, b"ws")))
            .await
            .expect("create");
    }
    store
        .create(write(&record(
            Kind::Template,
            "s.alice",
            "t",
            "s.alice",
            b"t",
        )))
        .await
        .expect("Template");
    store
        .delete(Kind::Workspace, "", "one", true)
        .await
        .expect("delete");
    let space = |name: &str| (String::from("s.alice"), String::from(name));
    assert_eq!(
        store.deleted_workspaces().await.expect("deleted"),
        [space("one")]
    );
    store
        .delete_space("s.alice")
        .await
        .expect("delete the Space");
    assert_eq!(
        store.deleted_workspaces().await.expect("deleted"),
        [space("one"), space("two")],
        "the Space's workspace, not its Template"
    );
    store.forget_deleted_workspace("one").await.expect("forget");
    assert_eq!(
        store.deleted_workspaces().await.expect("deleted"),
        [space("two")]
    );
}

/// The installation id runtimes label their objects with: random, chosen when the
/// database is created, the same on every later open (a restart, another replica).
async fn the_installation_is_chosen_once_per_database(backend: Backend) {
    let data = Data::new(backend).await;
    let first = open(&data).await.installation().to_owned();
    assert_eq!(first.len(), 32, "{first}");
    assert!(
        first
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{first}"
    );
    assert_eq!(open(&data).await.installation(), first, "kept on reopen");
    let other = Data::new(backend).await;
    assert_ne!(open(&other).await.installation(), first, "another database");
}

/// A database last migrated before `space_members` existed (schema version 6) gets the
/// table filled from its Spaces' member lists when it is opened: a member of an old Space
/// still finds it. The backfill once ran with another migration's number and never ran here.
async fn a_store_from_before_the_members_table_is_backfilled(backend: Backend) {
    use prost::Message as _;
    let data = Data::new(backend).await;
    let store = open(&data).await;
    let team = pb::Space {
        status: Some(pb::SpaceStatus {
            owner: "alice".into(),
            members: vec!["bob".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    store
        .create(write(&record(
            Kind::Space,
            "",
            "team",
            "",
            &team.encode_to_vec(),
        )))
        .await
        .expect("create the Space");
    drop(store);
    // Back to version 6: every table and index of migrations 7 and later is gone.
    let pool = data.raw_pool().await;
    for statement in [
        "DROP TABLE space_members",
        "DROP INDEX resources_kind_space",
        "DROP TABLE ssh_keys",
        "DROP TABLE workload_tokens",
        "DROP TABLE git_connections",
        "DROP TABLE installation",
        "DROP INDEX resources_active_names",
        "DROP TABLE deleted_workspaces",
        "ALTER TABLE users DROP COLUMN since",
        "DELETE FROM cordium_schema WHERE version >= 7",
    ] {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    pool.close().await;
    let upgraded = open(&data).await;
    let bobs: Vec<String> = upgraded
        .page_spaces_of("bob", &After::default(), 10)
        .await
        .expect("bob's Spaces")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(bobs, ["team"], "the member list was backfilled");
}

async fn events_reach_subscribers(backend: Backend) {
    let data = Data::new(backend).await;
    let store = open(&data).await;
    let mut one = store.subscribe();
    let mut two = store.subscribe();
    let ws = record(Kind::Workspace, "", "evt", "s.alice", b"v1");
    store
        .create(Write::new(&ws).event(true))
        .await
        .expect("create");
    store
        .update(
            Write::new(&Record {
                body: b"v2".to_vec(),
                ..ws.clone()
            })
            .event(true),
        )
        .await
        .expect("update");
    // Writes without an event are not announced.
    store
        .create(write(&record(
            Kind::Template,
            "s.alice",
            "quiet",
            "s.alice",
            b"t",
        )))
        .await
        .expect("quiet");
    store
        .delete(Kind::Workspace, "", "evt", true)
        .await
        .expect("delete");
    for rx in [&mut one, &mut two] {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let e = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("an event in time")
                .expect("event");
            // Events carry keys; their bodies are read from the store.
            let bodies = store.event_bodies(&e).await.expect("bodies").expect("kept");
            seen.push((e.kind, e.name, e.owner, e.space, bodies.old, bodies.new));
        }
        let id = |s: &str| (String::from("evt"), String::from("alice"), String::from(s));
        let (n, o, s) = id("s.alice");
        assert_eq!(
            seen,
            [
                (
                    EventKind::Created,
                    n.clone(),
                    o.clone(),
                    s.clone(),
                    None,
                    Some(b"v1".to_vec())
                ),
                (
                    EventKind::Updated,
                    n.clone(),
                    o.clone(),
                    s.clone(),
                    Some(b"v1".to_vec()),
                    Some(b"v2".to_vec())
                ),
                (EventKind::Deleted, n, o, s, Some(b"v2".to_vec()), None),
            ]
        );
        assert!(rx.try_recv().is_err(), "nothing else was announced");
    }
}

/// The data directory and the SQLite files (database, WAL, shared memory) are the server's
/// alone: token hashes and sealed secrets are in them.
#[tokio::test]
async fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let api = cordium_server::server::open(&data, None)
        .await
        .expect("open");
    api.store()
        .add_user("dora", &cordium_server::crypto::hash_token("cdm_x"), false)
        .await
        .expect("a write, so the WAL exists");
    let mode = |name: &str| {
        std::fs::metadata(data.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700, "the data directory");
    for file in [
        "cordium.db",
        "cordium.db-wal",
        "cordium.db-shm",
        "secret.key",
    ] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
}

/// Concurrent creates (on SQLite, one group commit: `store::group`): a create refused for
/// its taken name takes no other create with it, each name is created exactly once, what
/// was acknowledged is stored, and a get remembered before a create sees it after.
async fn concurrent_creates_fail_alone(backend: Backend) {
    let data = Data::new(backend).await;
    let store = open(&data).await;
    assert_eq!(
        store
            .get(Kind::Template, "g.alice", "n0")
            .await
            .expect("get"),
        None,
        "absent, and remembered as absent"
    );
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..120 {
        let store = store.clone();
        tasks.spawn(async move {
            // Three creates of every name.
            let name = format!("n{}", i % 40);
            let r = record(Kind::Template, "g.alice", &name, "g.alice", name.as_bytes());
            (name, store.create(write(&r)).await)
        });
    }
    let mut created = std::collections::HashMap::<String, usize>::new();
    while let Some(done) = tasks.join_next().await {
        let (name, result) = done.expect("task");
        match result {
            Ok(()) => *created.entry(name).or_default() += 1,
            Err(StoreError::AlreadyExists { name: taken, .. }) => assert_eq!(taken, name),
            Err(e) => panic!("{name}: {e}"),
        }
    }
    assert_eq!(created.len(), 40, "every name was created");
    assert!(created.values().all(|n| *n == 1), "{created:?}");
    for name in created.keys() {
        let got = store
            .get(Kind::Template, "g.alice", name)
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(got.body, name.as_bytes());
    }
    let reopened = open(&data).await;
    assert_eq!(
        reopened
            .list(Kind::Template, Some("g.alice"))
            .await
            .expect("list")
            .len(),
        40
    );
}

/// A workspace record `name` with body `body`, announced when written.
fn evented(name: &str, body: &[u8]) -> Record {
    record(Kind::Workspace, "", name, "s.alice", body)
}

/// Creates the workspaces `names` (`evented`), announced.
async fn create_evented(store: &Store, names: &[&str]) {
    for name in names {
        store
            .create(Write::new(&evented(name, b"v1")).event(true))
            .await
            .expect("create");
    }
}

/// PostgreSQL: a trigger `AFTER <when>` (e.g. `UPDATE ON resources`) that holds the
/// transaction writing the row named `name` open for 1.5 s, after its write.
async fn linger(data: &Data, when: &str, name: &str) {
    let pool = data.raw_pool().await;
    for statement in [
        format!(
            "CREATE FUNCTION linger() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.name = '{name}' THEN PERFORM pg_sleep(1.5); END IF; RETURN NEW; END $$"
        ),
        format!("CREATE TRIGGER linger AFTER {when} FOR EACH ROW EXECUTE FUNCTION linger()"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// PostgreSQL hands out event ids at insert; transactions commit in any order. A transaction
/// held open after its event's insert (a trigger sleeps in it) must not let a later writer
/// commit a higher id first: a watch starting from the newest id, or resuming from one, would
/// never see the lower. So while it is open, the newest id stays where it was, and every event
/// after that point is readable once both commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_event_ids_become_visible_in_order() {
    let data = Data::new(Backend::Postgres).await;
    let store = open(&data).await;
    create_evented(&store, &["slow", "fast"]).await;
    linger(&data, "INSERT ON events", "slow").await;
    let before = store.newest_event_id().await.expect("newest");
    let update = |name: &'static str| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .update(Write::new(&evented(name, b"v2")).event(true))
                .await
                .expect("update")
        })
    };
    let slow = update("slow");
    // The slow update has its event's id and lingers; the fast one comes after it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fast = update("fast");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Where a watch opening now starts.
    let start = store.newest_event_id().await.expect("newest");
    assert_eq!(start, before, "no id is visible while a lower one is open");
    slow.await.expect("slow");
    fast.await.expect("fast");
    let after: Vec<String> = store
        .events_after(start, 10)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(after, ["slow", "fast"], "both, in the order they committed");
}

/// The PostgreSQL listener loses its connection, and a replica commits an event before it is
/// back: the event is still announced, once (replayed from the table after reconnecting).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_events_missed_while_the_listener_reconnects_are_replayed() {
    let data = Data::new(Backend::Postgres).await;
    let store = open(&data).await;
    let mut events = store.subscribe();
    create_evented(&store, &["seen"]).await;
    let first = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("in time")
        .expect("event");
    assert_eq!(first.name, "seen");
    // Another replica writes while this one's listener cannot connect.
    let replica = open(&data).await;
    let pool = data.raw_pool().await;
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&pool)
        .await
        .expect("database");
    let allow = |on: bool| format!("ALTER DATABASE \"{database}\" WITH ALLOW_CONNECTIONS {on}");
    // Said from another database: PostgreSQL refuses it for the current one.
    let url = data.raw_url();
    let (server, _) = url.rsplit_once('/').expect("a database in the URL");
    let admin = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&format!("{server}/postgres"))
        .await
        .expect("the postgres database");
    sqlx::query(sqlx::AssertSqlSafe(allow(false)))
        .execute(&admin)
        .await
        .expect("refuse connections");
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .execute(&pool)
    .await
    .expect("cut the listeners");
    create_evented(&replica, &["missed"]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    sqlx::query(sqlx::AssertSqlSafe(allow(true)))
        .execute(&admin)
        .await
        .expect("allow connections");
    let replayed = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("the missed event is announced")
        .expect("event");
    assert_eq!(replayed.name, "missed");
    // Announced once: the next event is the next write's.
    create_evented(&store, &["next"]).await;
    let next = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("in time")
        .expect("event");
    assert_eq!(next.name, "next");
}

/// The event lock is the last lock a transaction takes. DeleteSpace deletes every row before
/// it inserts its events, so an update of one of its workspaces that holds that row (a
/// trigger keeps it open) finishes first, and both succeed, where DeleteSpace used to hold
/// the event lock while it waited for the row, and PostgreSQL aborted one of them as a
/// deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_space_is_deleted_while_one_of_its_workspaces_is_updated() {
    let data = Data::new(Backend::Postgres).await;
    let store = open(&data).await;
    store
        .create(write(&record(Kind::Space, "", "s.alice", "", b"space")))
        .await
        .expect("create the Space");
    create_evented(&store, &["w1", "w2"]).await;
    linger(&data, "UPDATE ON resources", "w2").await;
    let updating = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .update(Write::new(&evented("w2", b"v2")).event(true))
                .await
        })
    };
    // The update holds w2's row (in the trigger) when the Space's delete reaches it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deleted = store.delete_space("s.alice").await;
    let updated = updating.await.expect("joined");
    assert!(updated.is_ok(), "the update: {updated:?}");
    assert!(deleted.is_ok(), "the delete: {deleted:?}");
    assert!(
        store
            .get(Kind::Workspace, "", "w2")
            .await
            .expect("get")
            .is_none(),
        "the workspace went with its Space"
    );
}

async fn live_workload_tokens_are_capped_per_user(backend: Backend) {
    use cordium_server::store::workload_tokens::MAX_LIVE_WORKLOAD_TOKENS;
    let data = Data::new(backend).await;
    let store = open(&data).await;
    let now = 1_000_000;
    for i in 0..MAX_LIVE_WORKLOAD_TOKENS {
        store
            .add_workload_token(&format!("alice-{i}"), "alice", None, now + 10, now)
            .await
            .expect("a token within the cap");
    }
    let refused = store
        .add_workload_token("alice-past", "alice", None, now + 10, now)
        .await;
    assert!(
        matches!(refused, Err(StoreError::TooManyTokens { max }) if max == MAX_LIVE_WORKLOAD_TOKENS),
        "{refused:?}"
    );
    let pool = data.raw_pool().await;
    let held: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM workload_tokens WHERE owner = 'alice'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(held, MAX_LIVE_WORKLOAD_TOKENS, "a refused token was stored");
    // The cap is per user, and expired tokens leave it.
    store
        .add_workload_token("bob-0", "bob", None, now + 10, now)
        .await
        .expect("another user's token");
    store
        .add_workload_token("alice-later", "alice", None, now + 100, now + 11)
        .await
        .expect("a token once the others expired");
    // One platform token holds a few live tokens, however many its user may.
    use cordium_server::store::workload_tokens::MAX_LIVE_PER_PLATFORM_TOKEN;
    let later = now + 200;
    for i in 0..MAX_LIVE_PER_PLATFORM_TOKEN {
        store
            .add_workload_token(&format!("job-{i}"), "bob", Some("jwt-1"), later + 10, later)
            .await
            .expect("an exchange within the platform token's cap");
    }
    let refused = store
        .add_workload_token("job-past", "bob", Some("jwt-1"), later + 10, later)
        .await;
    assert!(
        matches!(refused, Err(StoreError::TooManyExchanges { max }) if max == MAX_LIVE_PER_PLATFORM_TOKEN),
        "{refused:?}"
    );
    store
        .add_workload_token("other-job", "bob", Some("jwt-2"), later + 10, later)
        .await
        .expect("another platform token of the same user");
    store
        .add_workload_token("job-again", "bob", Some("jwt-1"), later + 20, later + 11)
        .await
        .expect("the same platform token once its tokens expired");
    // Exchanges of one platform token at once: exactly the cap passes, on both stores.
    let at = later + 100;
    let racing: Vec<_> = (0..24)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .add_workload_token(&format!("race-{i}"), "carol", Some("jwt-3"), at + 10, at)
                    .await
            })
        })
        .collect();
    let mut passed = 0;
    for race in racing {
        match race.await.expect("join") {
            Ok(()) => passed += 1,
            Err(StoreError::TooManyExchanges { .. }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(passed, MAX_LIVE_PER_PLATFORM_TOKEN);
}
