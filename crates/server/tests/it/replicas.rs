//! Two replicas on one PostgreSQL database (separate data dirs, the same `secret.key`): a
//! change made through one reaches the watchers of the other, and either can open the other's
//! sealed values.

use crate::{PgDatabase, Server, name_of, next_within, ok, r, secret, space, workspace};
use cordium_server::crypto::SecretBox;
use cordium_server::pb;
use cordium_server::pb::workspace_event::Event;
use cordium_spec::Kind;
use std::collections::HashSet;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_on_one_replica_sees_a_start_on_the_other() {
    let db = PgDatabase::create().await;
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let a = Server::start_on(dir_a.path(), Some(&db.url)).await;
    std::fs::copy(
        dir_a.path().join("secret.key"),
        dir_b.path().join("secret.key"),
    )
    .expect("copy the key");
    let b = Server::start_on(dir_b.path(), Some(&db.url)).await;
    let alice_token = a.user("alice", false).await;
    let bob_token = a.user("bob", false).await;
    let (mut alice_a, mut alice_b) = (a.client(&alice_token), b.client(&alice_token));
    let mut bob_b = b.client(&bob_token);

    let ws = ok(
        "CreateWorkspace via A",
        alice_a.create_workspace(workspace("", "", None)).await,
    );
    let name = name_of(&ws.metadata);
    ok(
        "GetWorkspace via B",
        alice_b.get_workspace(r("", &name)).await,
    );
    let mut watch_b = alice_b
        .watch_workspace(pb::WatchWorkspaceRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .expect("watch on B")
        .into_inner();
    let mut watch_b_all = alice_b
        .watch_workspace(pb::WatchWorkspaceRequest::default())
        .await
        .expect("watch all on B")
        .into_inner();
    let mut watch_a = alice_a
        .watch_workspace(pb::WatchWorkspaceRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .expect("watch on A")
        .into_inner();
    let mut bob_watch = bob_b
        .watch_workspace(pb::WatchWorkspaceRequest::default())
        .await
        .expect("bob's watch on B")
        .into_inner();

    ok(
        "StartWorkspace via A",
        alice_a
            .start_workspace(pb::StartWorkspaceRequest {
                name: name.clone(),
                vars: vec![],
            })
            .await,
    );
    for (label, stream) in [
        ("B", &mut watch_b),
        ("B (all)", &mut watch_b_all),
        ("A", &mut watch_a),
    ] {
        let event = next_within(stream, WAIT)
            .await
            .unwrap_or_else(|| panic!("the watch on {label} did not see the start made through A"));
        let Some(Event::Updated(update)) = event.event else {
            panic!("{label}: expected an update, got {event:?}")
        };
        assert_eq!(name_of(&update.new.as_ref().expect("new").metadata), name);
        assert_eq!(
            update.old.expect("old").status.expect("status").state(),
            pb::WorkspaceState::Stopped,
            "{label}"
        );
        assert_eq!(
            update.new.expect("new").status.expect("status").state(),
            pb::WorkspaceState::InitRequest,
            "{label}"
        );
    }
    // And the other way round: a stop through B reaches A.
    ok(
        "StopWorkspace via B",
        alice_b
            .stop_workspace(pb::StopWorkspaceRequest { name: name.clone() })
            .await,
    );
    let event = next_within(&mut watch_a, WAIT)
        .await
        .expect("A sees the stop made through B");
    let Some(Event::Updated(update)) = event.event else {
        panic!("expected an update, got {event:?}")
    };
    assert_eq!(
        update.new.expect("new").status.expect("status").state(),
        pb::WorkspaceState::StoppingRequest
    );
    // Bob's watch on B saw none of alice's: its first event is his own workspace.
    let mine = ok(
        "CreateWorkspace (bob) via A",
        a.client(&bob_token)
            .create_workspace(workspace("", "", None))
            .await,
    );
    let first = next_within(&mut bob_watch, WAIT)
        .await
        .expect("bob's own workspace");
    let Some(Event::Created(created)) = first.event else {
        panic!("bob's watch showed {first:?}")
    };
    assert_eq!(name_of(&created.metadata), name_of(&mine.metadata));

    // Sealed values: written through one replica, opened with the other's key.
    ok(
        "CreateSpace via A",
        alice_a.create_space(space("rep.alice", None)).await,
    );
    ok(
        "CreateSecret via A",
        alice_a
            .create_secret(secret("rep.alice", "db", "from-replica-a"))
            .await,
    );
    let key_b = SecretBox::load_or_create(&dir_b.path().join("secret.key")).expect("key B");
    let sealed = b
        .store
        .secret_ciphertext(Kind::Secret, "rep.alice", "db")
        .await
        .expect("ct")
        .expect("stored");
    assert_eq!(
        key_b
            .open(&sealed, "Secret/rep.alice/db")
            .expect("B opens A's value"),
        b"from-replica-a"
    );
    let got = ok(
        "GetSecret via B",
        alice_b.get_secret(r("rep.alice", "db")).await,
    );
    ok(
        "UpdateSecret via B",
        alice_b
            .update_secret(pb::Secret {
                data: Some(pb::SecretData {
                    value: Some(pb::secret_data::Value::Text("from-replica-b".into())),
                }),
                ..got
            })
            .await,
    );
    let key_a = SecretBox::load_or_create(&dir_a.path().join("secret.key")).expect("key A");
    let sealed = a
        .store
        .secret_ciphertext(Kind::Secret, "rep.alice", "db")
        .await
        .expect("ct")
        .expect("stored");
    assert_eq!(
        key_a
            .open(&sealed, "Secret/rep.alice/db")
            .expect("A opens B's value"),
        b"from-replica-b"
    );

    // Creates through both replicas at once still get distinct names.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let mut client = if i % 2 == 0 {
            alice_a.clone()
        } else {
            alice_b.clone()
        };
        tasks.spawn(async move {
            name_of(
                &client
                    .create_workspace(workspace("", "", None))
                    .await
                    .expect("create")
                    .into_inner()
                    .metadata,
            )
        });
    }
    let mut names = HashSet::new();
    while let Some(n) = tasks.join_next().await {
        assert!(
            names.insert(n.expect("task")),
            "a name was handed out twice"
        );
    }
    assert_eq!(names.len(), 40);
}
