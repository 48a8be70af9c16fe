//! Quotas hold under concurrency (the count is taken inside the write's transaction), and
//! the metadata of every write is validated as `cordium validate` validates it.

use crate::{Backend, Client, Env, fails, name_of, ok, r, space, spec, template};
use cordium_server::pb;
use tonic::Code;

crate::on_both_backends!(
    concurrent_creates_never_pass_max_per_user,
    concurrent_starts_never_pass_max_active_per_user,
    builds_count_against_both_workspace_quotas,
    every_kind_a_user_owns_is_counted,
    metadata_is_validated_on_every_write
);

const AT_ONCE: usize = 32;

async fn set_limits(env: &Env, limits: serde_json::Value) {
    let config = pb::ClusterConfig {
        metadata: None,
        spec: Some(spec(serde_json::json!({"workspace": {"limit": limits}}))),
    };
    ok(
        "UpdateClusterConfig",
        env.management(&env.admin_token)
            .update_cluster_config(config)
            .await,
    );
}

/// How many of `results` succeeded; every failure must be RESOURCE_EXHAUSTED.
fn successes<T>(results: Vec<Result<T, tonic::Status>>) -> usize {
    results
        .into_iter()
        .filter(|r| match r {
            Ok(_) => true,
            Err(s) if s.code() == Code::ResourceExhausted => false,
            Err(s) => panic!("expected success or RESOURCE_EXHAUSTED, got {s:?}"),
        })
        .count()
}

async fn concurrent_creates_never_pass_max_per_user(backend: Backend) {
    let env = Env::new(backend).await;
    set_limits(&env, serde_json::json!({"maxPerUser": 5})).await;
    // The default Space exists before the race, so only the quota is raced for.
    ok(
        "CreateWorkspace",
        env.alice
            .clone()
            .create_workspace(pb::Workspace::default())
            .await,
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..AT_ONCE {
        let mut alice: Client = env.alice.clone();
        tasks.spawn(async move { alice.create_workspace(pb::Workspace::default()).await });
    }
    let results = tasks.join_all().await;
    assert_eq!(successes(results), 4, "5 in all, one made before the race");
    let list = ok(
        "ListWorkspace",
        env.alice
            .clone()
            .list_workspace(pb::ListRequest::default())
            .await,
    );
    assert_eq!(list.items.len(), 5);
}

async fn concurrent_starts_never_pass_max_active_per_user(backend: Backend) {
    let env = Env::new(backend).await;
    set_limits(&env, serde_json::json!({"maxActivePerUser": 3})).await;
    let mut names = Vec::new();
    for _ in 0..AT_ONCE {
        let ws = ok(
            "CreateWorkspace",
            env.alice
                .clone()
                .create_workspace(pb::Workspace::default())
                .await,
        );
        names.push(name_of(&ws.metadata));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for name in names {
        let mut alice: Client = env.alice.clone();
        tasks.spawn(async move {
            alice
                .start_workspace(pb::StartWorkspaceRequest { name, vars: vec![] })
                .await
        });
    }
    let results = tasks.join_all().await;
    assert_eq!(successes(results), 3);
    assert_eq!(
        env.server
            .store
            .count_active_workspaces("alice")
            .await
            .expect("count"),
        3
    );
}

/// A build is a workspace of its starter's, created active: concurrent builds of different
/// Templates never pass `maxActivePerUser`, builds count towards `maxPerUser`, and a refused
/// build leaves its Template naming no running build.
async fn builds_count_against_both_workspace_quotas(backend: Backend) {
    let env = Env::new(backend).await;
    set_limits(
        &env,
        serde_json::json!({"maxPerUser": 4, "maxActivePerUser": 2}),
    )
    .await;
    let mut alice = env.alice.clone();
    ok(
        "CreateSpace",
        alice.create_space(space("bq.alice", None)).await,
    );
    const TEMPLATES: usize = 6;
    for i in 0..TEMPLATES {
        let t = template("bq.alice", &format!("t{i}"), None);
        ok("CreateTemplate", alice.create_template(t).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..TEMPLATES {
        let mut alice: Client = env.alice.clone();
        tasks.spawn(async move {
            let name = format!("bq.alice/t{i}");
            alice
                .build_template(pb::BuildTemplateRequest { name, tags: vec![] })
                .await
        });
    }
    assert_eq!(successes(tasks.join_all().await), 2);
    let active = env.server.store.count_active_workspaces("alice").await;
    assert_eq!(active.expect("count"), 2);
    let mut running = 0;
    for i in 0..TEMPLATES {
        let t = ok(
            "GetTemplate",
            alice.get_template(r("bq.alice", &format!("t{i}"))).await,
        );
        let status = t.status.unwrap_or_default();
        running += usize::from(!status.current_running_build_id.is_empty());
    }
    assert_eq!(running, 2, "only the builds that were made are named");

    // A rebuild past the quota is refused before anything changes: the running build goes on.
    let mut named = Vec::new();
    for i in 0..TEMPLATES {
        let t = ok(
            "GetTemplate",
            alice.get_template(r("bq.alice", &format!("t{i}"))).await,
        );
        let id = t.status.unwrap_or_default().current_running_build_id;
        if !id.is_empty() {
            named.push((format!("bq.alice/t{i}"), id));
        }
    }
    let (template_ref, build_id) = named.swap_remove(0);
    let rebuilt = alice
        .build_template(pb::BuildTemplateRequest {
            name: template_ref.clone(),
            tags: vec![],
        })
        .await;
    fails(
        "a rebuild past maxActivePerUser",
        rebuilt,
        &[Code::ResourceExhausted],
    );
    let (space, template) = template_ref.split_once('/').unwrap_or_default();
    let t = ok("GetTemplate", alice.get_template(r(space, template)).await);
    assert_eq!(
        t.status.unwrap_or_default().current_running_build_id,
        build_id
    );
    let build = ok(
        "GetWorkspace build",
        alice
            .get_workspace(r("", &format!("build-{build_id}")))
            .await,
    );
    let state = build.status.map(|s| s.state()).unwrap_or_default();
    assert_eq!(
        state,
        pb::WorkspaceState::InitRequest,
        "the running build was not stopped"
    );

    // The two builds and two workspaces make the four alice may own.
    set_limits(
        &env,
        serde_json::json!({"maxPerUser": 4, "maxActivePerUser": 100}),
    )
    .await;
    for _ in 0..2 {
        ok(
            "CreateWorkspace",
            alice.create_workspace(pb::Workspace::default()).await,
        );
    }
    let refused = alice
        .build_template(pb::BuildTemplateRequest {
            name: "bq.alice/t5".into(),
            tags: vec![],
        })
        .await;
    fails(
        "a build past maxPerUser",
        refused,
        &[Code::ResourceExhausted],
    );
}

/// Secrets (as every kind a user owns) are at most 1,000 per user, counted in the write even
/// under concurrent creates, and each value is 1 byte to 64 KiB: what one user stores is
/// bounded.
async fn every_kind_a_user_owns_is_counted(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    ok(
        "CreateSpace",
        alice.create_space(space("many.alice", None)).await,
    );
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1_010 {
        let mut alice: Client = env.alice.clone();
        tasks.spawn(async move {
            alice
                .create_secret(crate::secret("many.alice", &format!("s{i}"), "v"))
                .await
        });
        if tasks.len() >= AT_ONCE {
            let _ = tasks.join_next().await;
        }
    }
    tasks.join_all().await;
    let mut counted = 0;
    let mut token = String::new();
    loop {
        let page = ok(
            "ListSecret",
            alice
                .list_secret(pb::ListRequest {
                    space: "many.alice".into(),
                    page_size: 1000,
                    page_token: token,
                    ..Default::default()
                })
                .await,
        );
        counted += page.items.len();
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(counted, 1_000);
    let over = alice
        .create_secret(crate::secret("many.alice", "one-more", "v"))
        .await;
    let status = fails("the 1,001st Secret", over, &[Code::ResourceExhausted]);
    assert!(
        status.message().contains("1000 Secrets"),
        "{}",
        status.message()
    );
    for value in [String::new(), "v".repeat((64 << 10) + 1)] {
        let answer = alice
            .create_user_secret(pb::UserSecret {
                metadata: crate::meta("big"),
                data: Some(pb::SecretData {
                    value: Some(pb::secret_data::Value::Text(value)),
                }),
                ..Default::default()
            })
            .await;
        refused("a secret value out of bounds", "data", answer);
    }
}

/// A request's metadata with one field out of `cordium validate`'s bounds.
fn bad_metadata(name: &str) -> Vec<(&'static str, pb::Metadata)> {
    let named = |m: pb::Metadata| pb::Metadata {
        name: name.into(),
        ..m
    };
    vec![
        (
            "metadata.displayName",
            named(pb::Metadata {
                display_name: "x".repeat(101),
                ..Default::default()
            }),
        ),
        (
            "metadata.description",
            named(pb::Metadata {
                description: "x".repeat(1025),
                ..Default::default()
            }),
        ),
        (
            "metadata.labels",
            named(pb::Metadata {
                labels: (0..65).map(|i| (format!("l{i}"), "v".into())).collect(),
                ..Default::default()
            }),
        ),
        (
            "metadata.annotations",
            named(pb::Metadata {
                annotations: (0..65).map(|i| (format!("a{i}"), "v".into())).collect(),
                ..Default::default()
            }),
        ),
        (
            "metadata.labels",
            named(pb::Metadata {
                labels: [("tier".into(), "v".repeat(60 << 10))].into(),
                ..Default::default()
            }),
        ),
        (
            "metadata.labels",
            named(pb::Metadata {
                labels: [("\0bad key with spaces/☃".into(), "x".into())].into(),
                ..Default::default()
            }),
        ),
        (
            "metadata.annotations",
            named(pb::Metadata {
                annotations: [("example.com/note".into(), "n".repeat(4097))].into(),
                ..Default::default()
            }),
        ),
    ]
}

#[track_caller]
fn refused<T: std::fmt::Debug>(
    what: &str,
    field: &str,
    result: Result<tonic::Response<T>, tonic::Status>,
) {
    let status = fails(what, result, &[Code::InvalidArgument]);
    assert!(
        status.message().contains(field),
        "{what}: the answer names {field}: {}",
        status.message()
    );
}

async fn metadata_is_validated_on_every_write(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let space = "team.alice";
    let mut made = ok(
        "CreateSpace",
        alice.create_space(crate::space(space, None)).await,
    );
    let mut ws = ok(
        "CreateWorkspace",
        alice
            .create_workspace(crate::workspace(space, "default", None))
            .await,
    );
    let mut template = ok(
        "CreateTemplate",
        alice
            .create_template(crate::template(space, "base", None))
            .await,
    );
    let mut secret = ok(
        "CreateSecret",
        alice
            .create_secret(crate::secret(space, "token", "v"))
            .await,
    );
    let mut provider = ok(
        "CreateGitProvider",
        alice
            .create_git_provider(crate::git_provider(space, "gh"))
            .await,
    );
    let user_secret = |name: &str, metadata: Option<pb::Metadata>| pb::UserSecret {
        metadata: metadata.or_else(|| crate::meta(name)),
        data: Some(pb::SecretData {
            value: Some(pb::secret_data::Value::Text("v".into())),
        }),
        ..Default::default()
    };
    let mut own = ok(
        "CreateUserSecret",
        alice.create_user_secret(user_secret("mine", None)).await,
    );
    for (field, bad) in bad_metadata("bad") {
        let m = Some(bad.clone());
        refused(
            "CreateSpace",
            field,
            alice
                .create_space(pb::Space {
                    metadata: Some(pb::Metadata {
                        name: "bad.alice".into(),
                        ..bad.clone()
                    }),
                    ..Default::default()
                })
                .await,
        );
        refused(
            "CreateWorkspace",
            field,
            alice
                .create_workspace(pb::Workspace {
                    metadata: m.clone(),
                    ..crate::workspace(space, "default", None)
                })
                .await,
        );
        refused(
            "CreateTemplate",
            field,
            alice
                .create_template(pb::Template {
                    metadata: m.clone(),
                    ..crate::template(space, "bad", None)
                })
                .await,
        );
        refused(
            "CreateSecret",
            field,
            alice
                .create_secret(pb::Secret {
                    metadata: m.clone(),
                    ..crate::secret(space, "bad", "v")
                })
                .await,
        );
        refused(
            "CreateGitProvider",
            field,
            alice
                .create_git_provider(pb::GitProvider {
                    metadata: m.clone(),
                    ..crate::git_provider(space, "bad")
                })
                .await,
        );
        refused(
            "CreateUserSecret",
            field,
            alice
                .create_user_secret(user_secret("bad", m.clone()))
                .await,
        );

        let renamed = |name: &str| {
            Some(pb::Metadata {
                name: name.into(),
                ..bad.clone()
            })
        };
        made.metadata = renamed(space);
        refused("UpdateSpace", field, alice.update_space(made.clone()).await);
        ws.metadata = renamed(&name_of(&ws.metadata));
        refused(
            "UpdateWorkspace",
            field,
            alice.update_workspace(ws.clone()).await,
        );
        template.metadata = renamed("base");
        refused(
            "UpdateTemplate",
            field,
            alice.update_template(template.clone()).await,
        );
        secret.metadata = renamed("token");
        refused(
            "UpdateSecret",
            field,
            alice.update_secret(secret.clone()).await,
        );
        provider.metadata = renamed("gh");
        refused(
            "UpdateGitProvider",
            field,
            alice.update_git_provider(provider.clone()).await,
        );
        own.metadata = renamed("mine");
        refused(
            "UpdateUserSecret",
            field,
            alice.update_user_secret(own.clone()).await,
        );
        refused(
            "UpdateUserConfig",
            field,
            alice
                .update_user_config(pb::UserConfig {
                    metadata: m.clone(),
                    spec: None,
                })
                .await,
        );
    }
    // At the bounds, all is well.
    let fine = pb::Metadata {
        display_name: "x".repeat(100),
        description: "x".repeat(1024),
        labels: (0..64).map(|i| (format!("l{i}"), "v".into())).collect(),
        annotations: (0..64).map(|i| (format!("a{i}"), "v".into())).collect(),
        ..Default::default()
    };
    ok(
        "CreateWorkspace (at the bounds)",
        alice
            .create_workspace(pb::Workspace {
                metadata: Some(fine),
                ..crate::workspace(space, "default", None)
            })
            .await,
    );
    // What the issue found accepted: a 3.9 MB display name and 200,000 labels.
    let huge = pb::Metadata {
        display_name: "x".repeat(3_900_000),
        ..Default::default()
    };
    refused(
        "a 3.9 MB displayName",
        "metadata.displayName",
        alice
            .create_workspace(pb::Workspace {
                metadata: Some(huge),
                ..crate::workspace(space, "default", None)
            })
            .await,
    );
    let many = pb::Metadata {
        labels: (0..200_000)
            .map(|i| (format!("l{i}"), String::new()))
            .collect(),
        ..Default::default()
    };
    refused(
        "200,000 labels",
        "metadata.labels",
        alice
            .create_workspace(pb::Workspace {
                metadata: Some(many),
                ..crate::workspace(space, "default", None)
            })
            .await,
    );
}
