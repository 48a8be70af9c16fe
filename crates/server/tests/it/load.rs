//! Load: 1,000 concurrent CreateWorkspace calls over one multiplexed channel give 1,000
//! distinct names.

use crate::{Backend, Env, fails, name_of, ok, spec};
use cordium_server::pb;
use cordium_spec::Kind;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

crate::on_both_backends!(
    a_thousand_concurrent_creates_get_distinct_names,
    workspace_quotas_are_enforced
);

const CALLS: usize = 1_000;
const IN_FLIGHT: usize = 64;

async fn a_thousand_concurrent_creates_get_distinct_names(backend: Backend) {
    let env = Env::new(backend).await;
    // One user makes them all: the default quota (1,000 per user) is raised first.
    let raised = pb::ClusterConfig {
        metadata: None,
        spec: Some(spec(
            serde_json::json!({"workspace": {"limit": {"maxPerUser": 5000}}}),
        )),
    };
    ok(
        "UpdateClusterConfig",
        env.management(&env.admin_token)
            .update_cluster_config(raised)
            .await,
    );

    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (mut client, next) = (env.alice.clone(), Arc::clone(&next));
        tasks.spawn(async move {
            let mut names = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < CALLS {
                // The first calls race to create alice's default Space as well.
                let ws = pb::Workspace {
                    metadata: None,
                    spec: None,
                    status: None,
                };
                match client.create_workspace(ws).await {
                    Ok(r) => names.push(name_of(&r.into_inner().metadata)),
                    Err(s) => panic!(
                        "CreateWorkspace failed under load: {:?}: {}",
                        s.code(),
                        s.message()
                    ),
                }
            }
            names
        });
    }
    let mut names = Vec::new();
    while let Some(done) = tasks.join_next().await {
        names.extend(done.expect("a client task"));
    }
    let elapsed = started.elapsed();
    eprintln!("{backend:?}: {CALLS} CreateWorkspace calls, {IN_FLIGHT} in flight: {elapsed:?}");

    assert_eq!(names.len(), CALLS);
    let distinct: HashSet<&String> = names.iter().collect();
    assert_eq!(distinct.len(), CALLS, "every workspace got its own name");
    assert!(names.iter().all(|n| {
        (3..=6).contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    }));

    let listed = ok(
        "ListWorkspace",
        env.alice
            .clone()
            .list_workspace(pb::ListRequest {
                // The most a page holds (the default is 100).
                page_size: 1000,
                ..Default::default()
            })
            .await,
    )
    .items;
    let listed: HashSet<String> = listed.iter().map(|w| name_of(&w.metadata)).collect();
    assert_eq!(listed.len(), CALLS);
    assert!(
        names.iter().all(|n| listed.contains(n)),
        "every acknowledged workspace is listed"
    );
    assert_eq!(
        env.server
            .store
            .count_owned(Kind::Workspace, "alice")
            .await
            .expect("count"),
        CALLS as i64
    );
    let spaces = env
        .server
        .store
        .list(Kind::Space, Some(""))
        .await
        .expect("spaces");
    assert_eq!(
        spaces.iter().filter(|s| s.name == "default.alice").count(),
        1,
        "one default Space despite the race"
    );
}

/// `maxPerUser` and `maxActivePerUser` of the ClusterConfig, per user.
async fn workspace_quotas_are_enforced(backend: Backend) {
    let env = Env::new(backend).await;
    let limits = pb::ClusterConfig {
        metadata: None,
        spec: Some(spec(
            serde_json::json!({"workspace": {"limit": {"maxPerUser": 3, "maxActivePerUser": 1}}}),
        )),
    };
    ok(
        "UpdateClusterConfig",
        env.management(&env.admin_token)
            .update_cluster_config(limits)
            .await,
    );
    let (mut alice, mut bob) = (env.alice.clone(), env.bob.clone());
    let mut names = Vec::new();
    for _ in 0..3 {
        names.push(name_of(
            &ok(
                "CreateWorkspace",
                alice.create_workspace(pb::Workspace::default()).await,
            )
            .metadata,
        ));
    }
    fails(
        "a 4th CreateWorkspace",
        alice.create_workspace(pb::Workspace::default()).await,
        &[tonic::Code::ResourceExhausted],
    );
    // Per user: bob is not held to alice's count.
    let bobs = ok(
        "CreateWorkspace (bob)",
        bob.create_workspace(pb::Workspace::default()).await,
    );
    ok(
        "StartWorkspace (bob)",
        bob.start_workspace(pb::StartWorkspaceRequest {
            name: name_of(&bobs.metadata),
            vars: vec![],
        })
        .await,
    );
    ok(
        "StartWorkspace",
        alice
            .start_workspace(pb::StartWorkspaceRequest {
                name: names[0].clone(),
                vars: vec![],
            })
            .await,
    );
    fails(
        "a 2nd active workspace",
        alice
            .start_workspace(pb::StartWorkspaceRequest {
                name: names[1].clone(),
                vars: vec![],
            })
            .await,
        &[tonic::Code::ResourceExhausted],
    );
    // Deleting one frees a place.
    ok(
        "DeleteWorkspace",
        alice.delete_workspace(crate::r("", &names[2])).await,
    );
    ok(
        "CreateWorkspace after a delete",
        alice.create_workspace(pb::Workspace::default()).await,
    );
}
