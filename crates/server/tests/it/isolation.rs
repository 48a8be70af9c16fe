//! Isolation: bob can neither see nor touch anything of alice's, over any RPC.

use crate::{Backend, Env, fails, meta, name_of, ok, r, secret, space, spec, template, workspace};
use cordium_server::pb;
use tonic::Code;

crate::on_both_backends!(
    bob_cannot_reach_anything_of_alice,
    a_member_sees_but_only_the_owner_changes_or_starts_a_workspace,
    a_member_changes_only_the_templates_and_git_providers_they_wrote,
);

const HIDDEN: &[Code] = &[Code::NotFound, Code::PermissionDenied];

async fn bob_cannot_reach_anything_of_alice(backend: Backend) {
    let env = Env::new(backend).await;
    let (mut alice, mut bob) = (env.alice.clone(), env.bob.clone());

    // Alice's things: a Space with a Template, Workspace, Secret and GitProvider; a workspace in
    // her default Space; a build; a UserSecret; her UserConfig.
    let s = "iso.alice";
    let alice_space = ok("CreateSpace", alice.create_space(space(s, None)).await);
    let alice_template = ok(
        "CreateTemplate",
        alice.create_template(template(s, "tmpl", None)).await,
    );
    let alice_ws = ok(
        "CreateWorkspace",
        alice.create_workspace(workspace(s, "tmpl", None)).await,
    );
    let ws = name_of(&alice_ws.metadata);
    let default_ws = ok(
        "CreateWorkspace default",
        alice.create_workspace(workspace("", "", None)).await,
    );
    let dws = name_of(&default_ws.metadata);
    let alice_secret = ok(
        "CreateSecret",
        alice.create_secret(secret(s, "db", "alice-value")).await,
    );
    let alice_gp = ok(
        "CreateGitProvider",
        alice
            .create_git_provider(crate::git_provider(s, "gh"))
            .await,
    );
    let alice_us = ok(
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
    let alice_config = ok(
        "UpdateUserConfig",
        alice
            .update_user_config(pb::UserConfig {
                metadata: None,
                spec: Some(spec(
                    serde_json::json!({"envVars": [{"key": "EDITOR", "value": "vim"}]}),
                )),
            })
            .await,
    );
    let running = ok(
        "StartWorkspace",
        alice
            .start_workspace(pb::StartWorkspaceRequest {
                name: dws.clone(),
                vars: vec![],
            })
            .await,
    );
    assert_eq!(
        running.status.as_ref().expect("status").state(),
        pb::WorkspaceState::InitRequest
    );

    // Space.
    fails("GetSpace", bob.get_space(r("", s)).await, HIDDEN);
    fails(
        "GetSpace default",
        bob.get_space(r("", "default.alice")).await,
        HIDDEN,
    );
    fails(
        "UpdateSpace",
        bob.update_space(alice_space.clone()).await,
        HIDDEN,
    );
    fails("DeleteSpace", bob.delete_space(r("", s)).await, HIDDEN);
    fails(
        "DeleteSpace default",
        bob.delete_space(r("", "default.alice")).await,
        HIDDEN,
    );
    fails(
        "CreateSpace named like alice's",
        bob.create_space(space("x.alice", None)).await,
        &[Code::InvalidArgument, Code::PermissionDenied],
    );
    fails(
        "CreateSpace organization",
        bob.create_space(space("org.cordium", None)).await,
        &[Code::PermissionDenied],
    );
    // Template.
    fails("GetTemplate", bob.get_template(r(s, "tmpl")).await, HIDDEN);
    fails(
        "GetTemplate default",
        bob.get_template(r("default.alice", "default")).await,
        HIDDEN,
    );
    fails(
        "ListTemplate in alice's Space",
        bob.list_template(pb::ListRequest {
            space: s.into(),
            template: String::new(),
            ..Default::default()
        })
        .await,
        HIDDEN,
    );
    fails(
        "CreateTemplate in alice's Space",
        bob.create_template(template(s, "mine", None)).await,
        HIDDEN,
    );
    fails(
        "UpdateTemplate",
        bob.update_template(alice_template.clone()).await,
        HIDDEN,
    );
    fails(
        "DeleteTemplate",
        bob.delete_template(r(s, "tmpl")).await,
        HIDDEN,
    );
    fails(
        "BuildTemplate",
        bob.build_template(pb::BuildTemplateRequest {
            name: format!("{s}/tmpl"),
            tags: vec![],
        })
        .await,
        HIDDEN,
    );
    fails(
        "CancelBuildTemplate",
        bob.cancel_build_template(r(s, "tmpl")).await,
        HIDDEN,
    );
    // Workspace.
    for name in [&ws, &dws] {
        fails("GetWorkspace", bob.get_workspace(r("", name)).await, HIDDEN);
        let mut update = alice_ws.clone();
        update.metadata.as_mut().expect("metadata").name = name.clone();
        fails(
            "UpdateWorkspace",
            bob.update_workspace(update).await,
            HIDDEN,
        );
        fails(
            "StartWorkspace",
            bob.start_workspace(pb::StartWorkspaceRequest {
                name: name.clone(),
                vars: vec![],
            })
            .await,
            HIDDEN,
        );
        fails(
            "StopWorkspace",
            bob.stop_workspace(pb::StopWorkspaceRequest { name: name.clone() })
                .await,
            HIDDEN,
        );
        fails(
            "WatchWorkspace",
            bob.watch_workspace(pb::WatchWorkspaceRequest {
                name: name.clone(),
                ..Default::default()
            })
            .await,
            HIDDEN,
        );
        fails(
            "CompileWorkspace",
            bob.compile_workspace(pb::CompileWorkspaceRequest {
                target: Some(pb::compile_workspace_request::Target::Name(name.clone())),
                ..Default::default()
            })
            .await,
            HIDDEN,
        );
        fails(
            "DeleteWorkspace",
            bob.delete_workspace(r("", name)).await,
            HIDDEN,
        );
    }
    fails(
        "CreateWorkspace in alice's Space",
        bob.create_workspace(workspace(s, "tmpl", None)).await,
        HIDDEN,
    );
    fails(
        "CompileWorkspace with alice's Template",
        bob.compile_workspace(pb::CompileWorkspaceRequest {
            target: Some(pb::compile_workspace_request::Target::Spec(spec(
                serde_json::json!({}),
            ))),
            template: format!("{s}/tmpl"),
            ..Default::default()
        })
        .await,
        HIDDEN,
    );
    // Secret.
    fails("GetSecret", bob.get_secret(r(s, "db")).await, HIDDEN);
    fails(
        "ListSecret in alice's Space",
        bob.list_secret(pb::ListRequest {
            space: s.into(),
            template: String::new(),
            ..Default::default()
        })
        .await,
        HIDDEN,
    );
    fails(
        "CreateSecret in alice's Space",
        bob.create_secret(secret(s, "mine", "bob-value")).await,
        HIDDEN,
    );
    fails(
        "UpdateSecret",
        bob.update_secret(pb::Secret {
            data: Some(pb::SecretData {
                value: Some(pb::secret_data::Value::Text("overwrite".into())),
            }),
            ..alice_secret.clone()
        })
        .await,
        HIDDEN,
    );
    fails("DeleteSecret", bob.delete_secret(r(s, "db")).await, HIDDEN);
    // GitProvider.
    fails(
        "GetGitProvider",
        bob.get_git_provider(r(s, "gh")).await,
        HIDDEN,
    );
    fails(
        "ListGitProvider in alice's Space",
        bob.list_git_provider(pb::ListRequest {
            space: s.into(),
            template: String::new(),
            ..Default::default()
        })
        .await,
        HIDDEN,
    );
    fails(
        "CreateGitProvider in alice's Space",
        bob.create_git_provider(crate::git_provider(s, "mine"))
            .await,
        HIDDEN,
    );
    fails(
        "UpdateGitProvider",
        bob.update_git_provider(alice_gp.clone()).await,
        HIDDEN,
    );
    fails(
        "DeleteGitProvider",
        bob.delete_git_provider(r(s, "gh")).await,
        HIDDEN,
    );
    // UserSecret: per user, the same name is bob's own.
    fails(
        "GetUserSecret",
        bob.get_user_secret(r("", "npm-token")).await,
        HIDDEN,
    );
    fails(
        "UpdateUserSecret",
        bob.update_user_secret(alice_us.clone()).await,
        HIDDEN,
    );
    fails(
        "DeleteUserSecret",
        bob.delete_user_secret(r("", "npm-token")).await,
        HIDDEN,
    );
    let bobs = ok(
        "CreateUserSecret (bob, same name)",
        bob.create_user_secret(pb::UserSecret {
            metadata: meta("npm-token"),
            r#type: pb::UserSecretType::SshKey as i32,
            data: None,
            status: None,
        })
        .await,
    );
    assert_eq!(bobs.status.as_ref().expect("status").owner, "bob");
    // UserConfig: per user.
    let bob_config = ok(
        "GetUserConfig (bob)",
        bob.get_user_config(pb::Empty {}).await,
    );
    assert!(
        bob_config.spec.is_none(),
        "bob's UserConfig is his own, not alice's: {bob_config:?}"
    );
    assert_eq!(name_of(&bob_config.metadata), "bob");
    ok(
        "UpdateUserConfig (bob)",
        bob.update_user_config(pb::UserConfig {
            metadata: None,
            spec: Some(spec(
                serde_json::json!({"envVars": [{"key": "EDITOR", "value": "emacs"}]}),
            )),
        })
        .await,
    );
    let alice_again = ok(
        "GetUserConfig (alice)",
        alice.get_user_config(pb::Empty {}).await,
    );
    assert_eq!(
        alice_again.spec, alice_config.spec,
        "bob's update did not touch alice's UserConfig"
    );
    // ClusterConfig: administrators only.
    let mut bob_mgmt = env.management(&env.bob_token);
    let mut alice_mgmt = env.management(&env.alice_token);
    fails(
        "GetClusterConfig (bob)",
        bob_mgmt.get_cluster_config(pb::Empty {}).await,
        &[Code::PermissionDenied],
    );
    fails(
        "GetClusterConfig (alice)",
        alice_mgmt.get_cluster_config(pb::Empty {}).await,
        &[Code::PermissionDenied],
    );
    fails(
        "UpdateClusterConfig (bob)",
        bob_mgmt
            .update_cluster_config(pb::ClusterConfig {
                metadata: None,
                spec: Some(spec(
                    serde_json::json!({"workspace": {"limit": {"maxPerUser": 1}}}),
                )),
            })
            .await,
        &[Code::PermissionDenied],
    );
    ok(
        "GetClusterConfig (admin)",
        env.management(&env.admin_token)
            .get_cluster_config(pb::Empty {})
            .await,
    );

    // Bob's own things, so that his lists are not trivially empty.
    ok(
        "CreateSpace (bob)",
        bob.create_space(space("iso.bob", None)).await,
    );
    ok(
        "CreateTemplate (bob)",
        bob.create_template(template("iso.bob", "tmpl", None)).await,
    );
    ok(
        "CreateWorkspace (bob)",
        bob.create_workspace(workspace("iso.bob", "tmpl", None))
            .await,
    );
    ok(
        "CreateSecret (bob)",
        bob.create_secret(secret("iso.bob", "db", "bob-value"))
            .await,
    );
    ok(
        "CreateGitProvider (bob)",
        bob.create_git_provider(crate::git_provider("iso.bob", "gh"))
            .await,
    );

    let alice_owned = |owner: &str| owner == "alice";
    let spaces = ok(
        "ListSpace (bob)",
        bob.list_space(pb::ListRequest::default()).await,
    )
    .items;
    assert!(
        !spaces.is_empty()
            && spaces
                .iter()
                .all(|x| !alice_owned(&x.status.as_ref().expect("status").owner)),
        "{spaces:?}"
    );
    let templates = ok(
        "ListTemplate (bob)",
        bob.list_template(pb::ListRequest::default()).await,
    )
    .items;
    assert!(
        !templates.is_empty()
            && templates
                .iter()
                .all(|x| !alice_owned(&x.status.as_ref().expect("status").owner)),
        "{templates:?}"
    );
    for filter in [
        pb::ListRequest::default(),
        pb::ListRequest {
            space: s.into(),
            template: String::new(),
            ..Default::default()
        },
        pb::ListRequest {
            space: "default.alice".into(),
            template: String::new(),
            ..Default::default()
        },
    ] {
        let workspaces = match bob.list_workspace(filter.clone()).await {
            Ok(list) => list.into_inner().items,
            Err(status) if HIDDEN.contains(&status.code()) => Vec::new(),
            Err(status) => panic!("ListWorkspace {filter:?}: {status:?}"),
        };
        assert!(
            workspaces
                .iter()
                .all(|x| !alice_owned(&x.status.as_ref().expect("status").owner)),
            "{filter:?}: {workspaces:?}"
        );
        assert!(filter.space.ends_with("alice") || !workspaces.is_empty());
    }
    let secrets = ok(
        "ListSecret (bob)",
        bob.list_secret(pb::ListRequest::default()).await,
    )
    .items;
    assert!(
        !secrets.is_empty()
            && secrets
                .iter()
                .all(|x| !alice_owned(&x.status.as_ref().expect("status").owner)),
        "{secrets:?}"
    );
    let gps = ok(
        "ListGitProvider (bob)",
        bob.list_git_provider(pb::ListRequest::default()).await,
    )
    .items;
    assert!(
        !gps.is_empty()
            && gps
                .iter()
                .all(|x| !alice_owned(&x.status.as_ref().expect("status").owner)),
        "{gps:?}"
    );
    let user_secrets = ok(
        "ListUserSecret (bob)",
        bob.list_user_secret(pb::ListRequest::default()).await,
    )
    .items;
    assert_eq!(user_secrets.len(), 1);
    assert_eq!(
        user_secrets[0].status.as_ref().expect("status").owner,
        "bob"
    );

    // After all that, alice's things are exactly as they were.
    let after = ok("GetSpace (alice)", alice.get_space(r("", s)).await);
    assert_eq!(after, alice_space);
    ok(
        "GetTemplate (alice)",
        alice.get_template(r(s, "tmpl")).await,
    );
    let ws_after = ok(
        "GetWorkspace (alice)",
        alice.get_workspace(r("", &ws)).await,
    );
    assert_eq!(ws_after, alice_ws);
    let dws_after = ok(
        "GetWorkspace default (alice)",
        alice.get_workspace(r("", &dws)).await,
    );
    assert_eq!(
        dws_after.status.as_ref().expect("status").state(),
        pb::WorkspaceState::InitRequest,
        "bob did not stop it"
    );
    assert_eq!(
        ok("GetSecret (alice)", alice.get_secret(r(s, "db")).await),
        alice_secret
    );
    assert_eq!(
        ok(
            "GetGitProvider (alice)",
            alice.get_git_provider(r(s, "gh")).await
        ),
        alice_gp
    );
    assert_eq!(
        ok(
            "GetUserSecret (alice)",
            alice.get_user_secret(r("", "npm-token")).await
        ),
        alice_us
    );
    let template_after = ok(
        "GetTemplate (alice)",
        alice.get_template(r(s, "tmpl")).await,
    );
    assert!(
        template_after
            .status
            .as_ref()
            .expect("status")
            .current_running_build_id
            .is_empty(),
        "bob started no build"
    );
    // Alice's lists still show her things.
    let alice_secrets = ok(
        "ListSecret (alice)",
        alice.list_secret(pb::ListRequest::default()).await,
    )
    .items;
    assert!(
        alice_secrets
            .iter()
            .all(|x| x.status.as_ref().expect("status").owner == "alice")
            && !alice_secrets.is_empty()
    );
}

/// Bob is a member of alice's Space. Each sees the other's workspace there, but a run gets
/// its owner's secrets and credentials, so only its owner may change or start it (an
/// administrator too); stopping and deleting are also the Space owner's. Nothing a refused
/// request asked for is written.
async fn a_member_sees_but_only_the_owner_changes_or_starts_a_workspace(backend: Backend) {
    let env = Env::new(backend).await;
    let (mut alice, mut bob, mut admin) = (env.alice.clone(), env.bob.clone(), env.admin.clone());
    let s = "team.alice";
    ok("CreateSpace", alice.create_space(space(s, None)).await);
    crate::add_space_member(&env.server.store, s, "bob").await;
    let alices = name_of(
        &ok(
            "CreateWorkspace (alice)",
            alice.create_workspace(workspace(s, "", None)).await,
        )
        .metadata,
    );
    let bobs = name_of(
        &ok(
            "CreateWorkspace (bob)",
            bob.create_workspace(workspace(s, "", None)).await,
        )
        .metadata,
    );
    let start = |name: &str| pb::StartWorkspaceRequest {
        name: name.into(),
        vars: Vec::new(),
    };
    let stop = |name: &str| pb::StopWorkspaceRequest { name: name.into() };
    let state = |ws: &pb::Workspace| ws.status.as_ref().map(|s| s.state());

    // Bob, a member, on alice's workspace: he may look, nothing more.
    let before = ok(
        "GetWorkspace (member)",
        bob.get_workspace(r("", &alices)).await,
    );
    let mut changed = before.clone();
    changed.spec = Some(spec(
        serde_json::json!({"image": {"registry": {"url": "evil:1"}}}),
    ));
    let denied = [Code::PermissionDenied];
    fails(
        "UpdateWorkspace (member)",
        bob.update_workspace(changed).await,
        &denied,
    );
    fails(
        "StartWorkspace (member)",
        bob.start_workspace(start(&alices)).await,
        &denied,
    );
    fails(
        "StopWorkspace (member)",
        bob.stop_workspace(stop(&alices)).await,
        &denied,
    );
    fails(
        "DeleteWorkspace (member)",
        bob.delete_workspace(r("", &alices)).await,
        &denied,
    );
    let activity = pb::ReportActivityRequest {
        name: alices.clone(),
    };
    fails(
        "ReportWorkspaceActivity (member)",
        bob.report_workspace_activity(activity).await,
        &denied,
    );
    // What runs inside sees alice's secrets: no exec, log or stream for a member, who is told
    // so (the workspace is one he sees), as by every other workspace call.
    let exec = pb::ExecWorkspaceRequest {
        name: alices.clone(),
        command: vec!["true".into()],
        ..Default::default()
    };
    fails(
        "ExecWorkspace (member)",
        bob.exec_workspace(exec).await,
        &denied,
    );
    let logs = pb::WorkspaceLogsRequest {
        name: alices.clone(),
        follow: false,
    };
    fails(
        "WorkspaceLogs (member)",
        bob.workspace_logs(logs).await,
        &denied,
    );
    let streamed = crate::stream::exec_stream(&bob, &alices, &["true"]).await.1;
    fails(
        "ExecStream (member)",
        streamed.map(tonic::Response::new),
        &denied,
    );
    let after = ok("GetWorkspace", alice.get_workspace(r("", &alices)).await);
    assert_eq!(
        after, before,
        "nothing a refused request asked for was written"
    );
    let message = bob
        .start_workspace(start(&alices))
        .await
        .expect_err("refused")
        .message()
        .to_owned();
    assert!(message.contains("only the owner"), "{message}");

    // Alice owns the Space, not bob's workspace: she may stop or delete it, not change or
    // start it.
    let bobs_ws = ok(
        "GetWorkspace (space owner)",
        alice.get_workspace(r("", &bobs)).await,
    );
    let mut changed = bobs_ws.clone();
    changed.spec = Some(spec(
        serde_json::json!({"image": {"registry": {"url": "evil:1"}}}),
    ));
    fails(
        "UpdateWorkspace (space owner)",
        alice.update_workspace(changed).await,
        &denied,
    );
    fails(
        "StartWorkspace (space owner)",
        alice.start_workspace(start(&bobs)).await,
        &denied,
    );
    let started = ok(
        "StartWorkspace (owner)",
        bob.start_workspace(start(&bobs)).await,
    );
    assert_eq!(state(&started), Some(pb::WorkspaceState::InitRequest));
    let stopped = ok(
        "StopWorkspace (space owner)",
        alice.stop_workspace(stop(&bobs)).await,
    );
    assert_eq!(state(&stopped), Some(pb::WorkspaceState::StoppingRequest));
    ok(
        "DeleteWorkspace (space owner)",
        alice.delete_workspace(r("", &bobs)).await,
    );

    // The owner and an administrator may do everything.
    crate::add_space_member(&env.server.store, s, "root").await;
    let mut mine = ok("GetWorkspace", alice.get_workspace(r("", &alices)).await);
    mine.spec = Some(spec(
        serde_json::json!({"image": {"registry": {"url": "mine:1"}}}),
    ));
    ok(
        "UpdateWorkspace (owner)",
        alice.update_workspace(mine).await,
    );
    ok(
        "StartWorkspace (administrator)",
        admin.start_workspace(start(&alices)).await,
    );
    ok(
        "StopWorkspace (administrator)",
        admin.stop_workspace(stop(&alices)).await,
    );
}

/// A Template runs its tasks, and a GitProvider receives git tokens, in the workspaces of
/// every member who uses it: only its author, the Space's owner or an administrator may
/// change, build or delete it. Other members may read it and use it.
async fn a_member_changes_only_the_templates_and_git_providers_they_wrote(backend: Backend) {
    let env = Env::new(backend).await;
    let (mut alice, mut bob) = (env.alice.clone(), env.bob.clone());
    let s = "shared.alice";
    ok("CreateSpace", alice.create_space(space(s, None)).await);
    crate::add_space_member(&env.server.store, s, "bob").await;
    let denied = [Code::PermissionDenied];
    let evil = || {
        Some(spec(serde_json::json!({"runtime": {"tasks": [
        {"name": "steal", "type": "POST_START", "run": "env > /tmp/loot"}]}})))
    };

    // Alice's Template and GitProvider: bob reads them, and may not change them.
    let mut hers = ok(
        "CreateTemplate",
        alice.create_template(template(s, "tools", None)).await,
    );
    ok(
        "GetTemplate (member)",
        bob.get_template(r(s, "tools")).await,
    );
    hers.spec = evil();
    fails(
        "UpdateTemplate (member)",
        bob.update_template(hers.clone()).await,
        &denied,
    );
    let build = pb::BuildTemplateRequest {
        name: format!("{s}/tools"),
        ..Default::default()
    };
    fails(
        "BuildTemplate (member)",
        bob.build_template(build.clone()).await,
        &denied,
    );
    fails(
        "CancelBuildTemplate (member)",
        bob.cancel_build_template(r(s, "tools")).await,
        &denied,
    );
    fails(
        "DeleteTemplate (member)",
        bob.delete_template(r(s, "tools")).await,
        &denied,
    );
    let mut default = ok(
        "GetTemplate default",
        bob.get_template(r(s, "default")).await,
    );
    default.spec = evil();
    fails(
        "UpdateTemplate default (member)",
        bob.update_template(default).await,
        &denied,
    );
    let provider = ok(
        "CreateGitProvider",
        alice
            .create_git_provider(crate::git_provider(s, "gh"))
            .await,
    );
    fails(
        "UpdateGitProvider (member)",
        bob.update_git_provider(provider).await,
        &denied,
    );
    fails(
        "DeleteGitProvider (member)",
        bob.delete_git_provider(r(s, "gh")).await,
        &denied,
    );
    let unchanged = ok("GetTemplate", alice.get_template(r(s, "tools")).await);
    assert!(
        unchanged.spec.is_none(),
        "nothing a refused request asked for was written"
    );

    // Bob's own Template: he changes it, and so may alice, the Space's owner.
    let mut his = ok(
        "CreateTemplate (member)",
        bob.create_template(template(s, "bobs", None)).await,
    );
    his.spec = Some(spec(
        serde_json::json!({"runtime": {"tasks": [{"name": "a", "type": "POST_START", "run": "true"}]}}),
    ));
    let mut his = ok("UpdateTemplate (author)", bob.update_template(his).await);
    his.spec = Some(spec(
        serde_json::json!({"runtime": {"tasks": [{"name": "b", "type": "POST_START", "run": "true"}]}}),
    ));
    ok(
        "UpdateTemplate (space owner)",
        alice.update_template(his).await,
    );
    ok(
        "DeleteTemplate (space owner)",
        alice.delete_template(r(s, "bobs")).await,
    );
    ok("BuildTemplate (author)", alice.build_template(build).await);
}
