//! WatchWorkspace: the owner sees create, update (old and new) and delete; nobody else does.

use crate::{Backend, Env, name_of, next_within, ok, r, workspace};
use cordium_server::pb;
use cordium_server::pb::workspace_event::Event;
use std::time::Duration;

crate::on_both_backends!(watchers_see_their_own_workspaces_only);

const WAIT: Duration = Duration::from_secs(10);

fn describe(event: &pb::WorkspaceEvent) -> (&'static str, String) {
    match event.event.as_ref().expect("an event") {
        Event::Created(ws) => ("created", name_of(&ws.metadata)),
        Event::Updated(u) => ("updated", name_of(&u.new.as_ref().expect("new").metadata)),
        Event::Deleted(ws) => ("deleted", name_of(&ws.metadata)),
    }
}

async fn watchers_see_their_own_workspaces_only(backend: Backend) {
    let env = Env::new(backend).await;
    let (mut alice, mut bob) = (env.alice.clone(), env.bob.clone());
    let mut alice_all = alice
        .watch_workspace(pb::WatchWorkspaceRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let mut bob_all = bob
        .watch_workspace(pb::WatchWorkspaceRequest::default())
        .await
        .expect("watch")
        .into_inner();

    let ws = ok(
        "CreateWorkspace",
        alice.create_workspace(workspace("", "", None)).await,
    );
    let name = name_of(&ws.metadata);
    // A watch of the one workspace, opened after its creation.
    let mut alice_one = alice
        .watch_workspace(pb::WatchWorkspaceRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .expect("watch one")
        .into_inner();
    // Noise on alice's side the single-workspace watch must not show.
    let other = ok(
        "CreateWorkspace other",
        alice.create_workspace(workspace("", "", None)).await,
    );
    let started = ok(
        "StartWorkspace",
        alice
            .start_workspace(pb::StartWorkspaceRequest {
                name: name.clone(),
                vars: vec![pb::Var {
                    name: "BRANCH".into(),
                    value: "dev".into(),
                }],
            })
            .await,
    );
    let stopping = ok(
        "StopWorkspace",
        alice
            .stop_workspace(pb::StopWorkspaceRequest { name: name.clone() })
            .await,
    );
    assert_eq!(
        stopping.status.as_ref().expect("status").state(),
        pb::WorkspaceState::StoppingRequest
    );
    ok(
        "DeleteWorkspace",
        alice.delete_workspace(r("", &name)).await,
    );

    // Everything alice did, in order.
    let mut seen = Vec::new();
    let mut start_update = None;
    while seen.len() < 5 {
        let event = next_within(&mut alice_all, WAIT)
            .await
            .unwrap_or_else(|| panic!("alice's watch stalled after {seen:?}"));
        if let (Some(Event::Updated(u)), None) = (&event.event, &start_update) {
            start_update = Some(u.clone());
        }
        seen.push(describe(&event));
    }
    let other_name = name_of(&other.metadata);
    assert_eq!(
        seen,
        [
            ("created", name.clone()),
            ("created", other_name),
            ("updated", name.clone()),
            ("updated", name.clone()),
            ("deleted", name.clone())
        ]
    );
    let update = start_update.expect("the start");
    let (old, new) = (update.old.expect("old"), update.new.expect("new"));
    assert_eq!(
        old.status.as_ref().expect("status").state(),
        pb::WorkspaceState::Stopped
    );
    assert_eq!(
        new.status.as_ref().expect("status").state(),
        pb::WorkspaceState::InitRequest
    );
    assert_eq!(
        new.status.as_ref().expect("status").run_vars,
        started.status.as_ref().expect("status").run_vars
    );
    assert_eq!(
        new.metadata.as_ref().expect("metadata").uid,
        ws.metadata.as_ref().expect("metadata").uid
    );

    // The single-workspace watch saw only its workspace: start, stop, delete.
    let mut one = Vec::new();
    while one.len() < 3 {
        let event = next_within(&mut alice_one, WAIT)
            .await
            .unwrap_or_else(|| panic!("alice's one-workspace watch stalled after {one:?}"));
        one.push(describe(&event));
    }
    assert_eq!(
        one,
        [
            ("updated", name.clone()),
            ("updated", name.clone()),
            ("deleted", name.clone())
        ]
    );

    // Bob saw none of it: the first thing his watch shows is his own workspace.
    let mine = ok(
        "CreateWorkspace (bob)",
        bob.create_workspace(workspace("", "", None)).await,
    );
    let first = next_within(&mut bob_all, WAIT)
        .await
        .expect("bob's watch shows his own workspace");
    assert_eq!(
        describe(&first),
        ("created", name_of(&mine.metadata)),
        "bob's watch showed alice's workspace"
    );
    // Nor does alice see bob's.
    ok(
        "DeleteWorkspace other",
        alice
            .delete_workspace(r("", &name_of(&other.metadata)))
            .await,
    );
    let next = next_within(&mut alice_all, WAIT)
        .await
        .expect("alice's next event");
    assert_eq!(
        describe(&next),
        ("deleted", name_of(&other.metadata)),
        "alice's watch showed bob's workspace"
    );
}
