//! Start and stop plans of EffectiveWorkspaces compiled from small YAML layers.

#![allow(clippy::unwrap_used, reason = "tests")]

use cordium_merge::{EffectiveWorkspace, Inputs, Options};
use cordium_provisioner::plan::{
    ADDITIONAL_REPOSITORIES_DIR, Egress, EgressAction, EgressDefault, EgressRule, PRE_STOP_TIMEOUT,
    REPOSITORY_DIR,
};
use cordium_provisioner::{
    CloneHistory, CloneStep, ContainerPlan, Credentials, DockerfileSource, EnvEntry, EnvValue,
    Error, Failure, ImageStep, Mount, Plan, PlannedTask, Port, RepositoryBuild, Resources,
    ReusedImage, RunContext, RunFacts, SecretSource, State, TaskOutcome, VolumeOnStop,
    VolumeSource, can_move, plan, task_outcome,
};
use cordium_spec::{SourceMap, TaskType, load};
use std::time::Duration;

fn compile_with(yaml: &str, build: bool) -> EffectiveWorkspace {
    let mut sources = SourceMap::new();
    let id = sources.add("layers.yaml", yaml);
    let loaded = load(yaml, id);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let options = Options {
        build,
        ..Options::default()
    };
    let inputs = Inputs::from_documents(&sources, loaded.documents, None, options).unwrap();
    cordium_merge::compile(inputs).unwrap().effective
}

fn compile(yaml: &str) -> EffectiveWorkspace {
    compile_with(yaml, false)
}

/// The facts of a run of `ws` after `successful_runs` successful runs.
fn runs(ws: &EffectiveWorkspace, successful_runs: u32) -> RunFacts {
    RunFacts {
        successful_runs,
        ..RunFacts::for_workspace(ws)
    }
}

fn plan_after(ws: &EffectiveWorkspace, successful_runs: u32) -> Plan {
    plan(ws, &RunContext::new(&runs(ws, successful_runs))).unwrap()
}

fn plan_for(ws: &EffectiveWorkspace, facts: RunFacts) -> Plan {
    plan(ws, &RunContext::new(&facts)).unwrap()
}

fn ephemeral() -> EffectiveWorkspace {
    compile(&ALL_LAYERS.replace("isEphemeral: false", "isEphemeral: true"))
}

fn build_facts() -> RunFacts {
    RunFacts {
        is_build: true,
        ..RunFacts::default()
    }
}

fn names(tasks: &[PlannedTask]) -> Vec<&str> {
    tasks.iter().map(|t| t.name.as_str()).collect()
}

fn lit(key: &str, value: &str) -> EnvEntry {
    EnvEntry {
        key: key.into(),
        value: EnvValue::Literal(value.into()),
    }
}

fn entry(key: &str, value: EnvValue) -> EnvEntry {
    EnvEntry {
        key: key.into(),
        value,
    }
}

/// Every layer, with tasks of every phase written out of phase order in each layer.
const ALL_LAYERS: &str = r#"
apiVersion: cordium/v1
kind: Space
metadata: {name: backend.cordium}
spec:
  runtime:
    envVars:
      - {key: LOG_LEVEL, value: info}
      - {key: DATABASE_URL, fromSecret: dev-db-url}
    tasks:
      - {name: space-post, run: echo space, type: POST_START}
      - {name: space-create, run: echo space-create, type: ON_CREATE}
      - {name: space-stop, run: echo bye, type: PRE_STOP}
---
apiVersion: cordium/v1
kind: Template
metadata: {name: python.backend.cordium}
spec:
  image:
    registry:
      url: registry.example.com/python:3.11
      authentication:
        username: robot
        password: {fromSecret: registry-token}
  repository:
    url: https://github.com/myorg/api
    cloneOptions: {branch: main, checkout: v1.2.0, depth: 5, disableLazyUnshallow: true, singleBranch: true}
    authentication:
      http: {username: oauth2, password: {fromSecret: github-pat}}
  additionalRepositories:
    - name: docs
      repository: {url: https://github.com/myorg/docs}
    - name: tools
      clonePath: /opt/tools
      repository: {url: https://github.com/myorg/tools, cloneOptions: {disableLazyUnshallow: true}}
  runtime:
    envVars:
      - {key: LOG_LEVEL, value: debug}
      - {key: PYTHONUNBUFFERED, value: "1"}
    tasks:
      - {name: tmpl-post, run: echo tmpl, type: POST_START}
      - name: install
        run: pip install -r requirements.txt
        type: ON_CREATE
        workingDir: /workspace/repo
        onFailure: ON_FAILURE_ABORT
        envVars: [{key: PIP_NO_CACHE_DIR, value: "1"}, {key: LOG_LEVEL, value: trace}]
      - {name: tmpl-stop, run: echo tmpl-stop, type: PRE_STOP}
---
apiVersion: cordium/v1
kind: UserConfig
metadata: {name: alice}
spec:
  dotfiles:
    url: https://github.com/alice/dotfiles
    branch: main
    authentication: {http: {username: alice, password: {fromUserSecret: dotfiles-token}}}
  envVars:
    - {key: EDITOR, value: vim}
    - {key: GH_TOKEN, fromUserSecret: gh}
  tasks:
    - {name: tmux, run: tmux new -d -s main, type: POST_START, isBackground: true}
---
apiVersion: cordium/v1
kind: Workspace
metadata: {name: api}
spec:
  isEphemeral: false
  runtime:
    envVars:
      - {key: API_KEY, fromSecret: my-api-key}
      - {key: CORDIUM_SESSION_TOKEN, value: spoofed}
    tasks:
      - {name: serve, run: python -m api, type: POST_START, isBackground: true, runAsRoot: true}
      - {name: migrate, run: alembic upgrade head, type: ON_CREATE, onFailure: ON_FAILURE_CONTINUE}
"#;

#[test]
fn a_later_persistent_run_skips_on_create_clones_and_dotfiles() {
    let ws = compile(ALL_LAYERS);
    let p = plan_after(&ws, 4);
    assert_eq!(p.start.volume.path, "/workspace");
    assert_eq!(p.start.volume.source, VolumeSource::Reused);
    assert_eq!(
        p.start.image,
        ImageStep::Reuse {
            image: ReusedImage::Url("registry.example.com/python:3.11".into()),
            credentials: Some(Credentials {
                username: "robot".into(),
                password: SecretSource::Secret("registry-token".into()),
            })
        },
        "a reused image is pulled again with its login"
    );
    assert!(p.start.clones.is_empty());
    assert_eq!(p.start.dotfiles, None);
    assert_eq!(
        names(&p.start.tasks),
        ["tmpl-post", "serve", "space-post", "tmux"]
    );
    assert!(p.start.tasks.iter().all(|t| t.phase == TaskType::PostStart));
    assert_eq!(names(&p.stop.pre_stop), ["tmpl-stop", "space-stop"]);
    assert_eq!(p.stop.volume, VolumeOnStop::Keep);
    assert_eq!(p.start.timeout, Duration::from_secs(20 * 60));
    assert_eq!(
        p.start.states(),
        [
            State::InitRequest,
            State::Initializing,
            State::StartingRuntime,
            State::Preparing,
            State::Running
        ]
    );
}

#[test]
fn an_ephemeral_run_is_fresh_and_runs_everything_in_phase_order() {
    let ws = ephemeral();
    let p = plan_after(&ws, 9);
    assert_eq!(p.start.volume.source, VolumeSource::New);
    assert_eq!(p.stop.volume, VolumeOnStop::Delete);
    // Every ON_CREATE task first, then every POST_START task, each in compiled order
    // (Template, Workspace, Space, UserConfig).
    assert_eq!(
        names(&p.start.tasks),
        [
            "install",
            "migrate",
            "space-create",
            "tmpl-post",
            "serve",
            "space-post",
            "tmux"
        ]
    );
    let phases: Vec<TaskType> = p.start.tasks.iter().map(|t| t.phase).collect();
    assert_eq!(phases[..3], [TaskType::OnCreate; 3]);
    assert_eq!(phases[3..], [TaskType::PostStart; 4]);
    assert_eq!(p.start.timeout, Duration::from_secs(60 * 60));
    assert_eq!(
        p.start.states(),
        [
            State::InitRequest,
            State::Initializing,
            State::PullingImage,
            State::StartingRuntime,
            State::Preparing,
            State::Running
        ]
    );
}

#[test]
fn run_facts_take_ephemerality_from_the_workspace() {
    assert!(RunFacts::for_workspace(&ephemeral()).is_ephemeral);
    assert_eq!(
        RunFacts::for_workspace(&compile(ALL_LAYERS)),
        RunFacts::default()
    );
}

#[test]
fn a_first_persistent_run_is_fresh() {
    let ws = compile(ALL_LAYERS);
    let p = plan_after(&ws, 0);
    assert_eq!(p.start.volume.source, VolumeSource::New);
    assert_eq!(
        p.start
            .tasks
            .iter()
            .filter(|t| t.phase == TaskType::OnCreate)
            .count(),
        3
    );
    assert!(p.start.dotfiles.is_some());
    assert_eq!(p.stop.volume, VolumeOnStop::Keep);
}

#[test]
fn the_image_is_pulled_with_its_credentials_secret() {
    let p = plan_after(&compile(ALL_LAYERS), 0);
    assert_eq!(
        p.start.image,
        ImageStep::Pull {
            url: "registry.example.com/python:3.11".into(),
            credentials: Some(Credentials {
                username: "robot".into(),
                password: SecretSource::Secret("registry-token".into())
            }),
        }
    );
    assert_eq!(p.start.image.failure(), Some(Failure::ImagePull));
}

#[test]
fn repositories_are_cloned_primary_first_with_their_options() {
    let p = plan_after(&compile(ALL_LAYERS), 0);
    assert_eq!(
        p.start.clones,
        [
            CloneStep {
                additional: None,
                url: "https://github.com/myorg/api".into(),
                path: REPOSITORY_DIR.into(),
                branch: Some("main".into()),
                checkout: Some("v1.2.0".into()),
                history: CloneHistory::Depth(5),
                single_branch: true,
                shallow_submodules: false,
                credentials: Some(Credentials {
                    username: "oauth2".into(),
                    password: SecretSource::Secret("github-pat".into())
                }),
            },
            CloneStep {
                additional: Some("docs".into()),
                url: "https://github.com/myorg/docs".into(),
                path: format!("{ADDITIONAL_REPOSITORIES_DIR}/docs"),
                branch: None,
                checkout: None,
                history: CloneHistory::ShallowThenFull,
                single_branch: false,
                shallow_submodules: false,
                credentials: None,
            },
            CloneStep {
                additional: Some("tools".into()),
                url: "https://github.com/myorg/tools".into(),
                path: "/opt/tools".into(),
                branch: None,
                checkout: None,
                history: CloneHistory::Full,
                single_branch: false,
                shallow_submodules: false,
                credentials: None,
            },
        ]
    );
    assert_eq!(p.start.clones[0].path, "/workspace/repo");
    assert_eq!(p.start.clones[1].path, "/workspace/additional-repos/docs");
    assert_eq!(
        p.start.clones[0].failure(),
        Failure::RepositoryClone { additional: None }
    );
    assert_eq!(
        p.start.clones[1].failure(),
        Failure::RepositoryClone {
            additional: Some("docs".into())
        }
    );
}

#[test]
fn dotfiles_are_cloned_home_and_list_upstreams_install_scripts_in_order() {
    let p = plan_after(&compile(ALL_LAYERS), 0);
    let d = p.start.dotfiles.unwrap();
    assert_eq!(d.url, "https://github.com/alice/dotfiles");
    assert_eq!(d.branch.as_deref(), Some("main"));
    assert_eq!(d.dir, "~/dotfiles");
    assert_eq!(
        d.credentials,
        Some(Credentials {
            username: "alice".into(),
            password: SecretSource::UserSecret("dotfiles-token".into())
        })
    );
    assert_eq!(
        d.install_scripts,
        [
            "install.sh",
            "install",
            "bootstrap.sh",
            "bootstrap",
            "script/bootstrap",
            "setup.sh",
            "setup",
            "script/setup"
        ]
    );
}

#[test]
fn the_environment_keeps_the_contracts_precedence_and_secret_references() {
    let p = plan_after(&compile(ALL_LAYERS), 4);
    assert_eq!(
        p.start.env,
        [
            lit("EDITOR", "vim"),
            entry("GH_TOKEN", EnvValue::FromUserSecret("gh".into())),
            lit("LOG_LEVEL", "debug"),
            entry("DATABASE_URL", EnvValue::FromSecret("dev-db-url".into())),
            lit("PYTHONUNBUFFERED", "1"),
            entry("API_KEY", EnvValue::FromSecret("my-api-key".into())),
            entry("CORDIUM_SESSION_TOKEN", EnvValue::SessionToken),
            lit("CORDIUM_NAME", "api"),
        ]
    );
}

#[test]
fn tasks_carry_their_settings_and_merged_environment() {
    let p = plan_after(&compile(ALL_LAYERS), 0);
    let install = &p.start.tasks[0];
    assert_eq!(install.name, "install");
    assert_eq!(install.run, "pip install -r requirements.txt");
    assert_eq!(install.working_dir.as_deref(), Some("/workspace/repo"));
    assert!(install.abort_on_failure && !install.background && !install.run_as_root);
    let env_of =
        |t: &PlannedTask, k: &str| t.env.iter().find(|e| e.key == k).map(|e| e.value.clone());
    assert_eq!(
        env_of(install, "LOG_LEVEL"),
        Some(EnvValue::Literal("trace".into())),
        "task env wins"
    );
    assert_eq!(
        env_of(install, "PIP_NO_CACHE_DIR"),
        Some(EnvValue::Literal("1".into()))
    );
    assert_eq!(
        env_of(install, "CORDIUM_SESSION_TOKEN"),
        Some(EnvValue::SessionToken)
    );
    assert_eq!(install.env.len(), p.start.env.len() + 1);

    let serve = p.start.tasks.iter().find(|t| t.name == "serve").unwrap();
    assert!(serve.background && serve.run_as_root && !serve.abort_on_failure);
    assert_eq!(serve.working_dir, None);
    assert_eq!(serve.env, p.start.env);
}

#[test]
fn a_build_has_no_pre_stop_background_tasks_dotfiles_or_session() {
    let ws = compile_with(ALL_LAYERS, true);
    let p = plan_for(
        &ws,
        RunFacts {
            successful_runs: 3,
            ..build_facts()
        },
    );
    assert_eq!(
        names(&p.start.tasks),
        [
            "install",
            "migrate",
            "space-create",
            "tmpl-post",
            "space-post"
        ],
        "ON_CREATE then POST_START, without background tasks"
    );
    assert!(p.start.tasks.iter().all(|t| !t.background));
    assert!(p.stop.pre_stop.is_empty());
    assert_eq!(p.start.dotfiles, None);
    assert!(
        p.start
            .env
            .iter()
            .all(|e| e.value != EnvValue::SessionToken)
    );
    assert!(
        p.start
            .env
            .contains(&lit("CORDIUM_SESSION_TOKEN", "spoofed")),
        "no credential to protect"
    );
    assert!(p.start.stop_when_done);
    assert_eq!(p.start.volume.source, VolumeSource::New);
    assert_eq!(p.stop.volume, VolumeOnStop::Snapshot);
    assert_eq!(p.start.clones.len(), 3);
}

#[test]
fn a_run_restored_from_a_pre_build_installs_dotfiles_only() {
    let ws = ephemeral();
    let restored = RunFacts {
        template_has_ready_build: true,
        snapshot_exists: true,
        ..runs(&ws, 0)
    };
    let p = plan_for(&ws, restored);
    assert_eq!(p.start.volume.source, VolumeSource::FromSnapshot);
    assert_eq!(
        p.start.image,
        ImageStep::Reuse {
            image: ReusedImage::Url("registry.example.com/python:3.11".into()),
            credentials: Some(Credentials {
                username: "robot".into(),
                password: SecretSource::Secret("registry-token".into()),
            })
        },
        "a reused image is pulled again with its login"
    );
    assert!(p.start.clones.is_empty());
    assert!(p.start.dotfiles.is_some());
    assert!(p.start.tasks.iter().all(|t| t.phase == TaskType::PostStart));
    assert_eq!(p.stop.volume, VolumeOnStop::Delete);
}

#[test]
fn auto_stop_stops_once_foreground_tasks_are_done() {
    let ws = compile("spec:\n  runtime: {autoStop: true}\n");
    assert!(plan_after(&ws, 0).start.stop_when_done);
    let ws = compile("spec: {}\n");
    let p = plan_after(&ws, 0);
    assert!(!p.start.stop_when_done);
    assert_eq!(p.stop.timeout, PRE_STOP_TIMEOUT);
}

#[test]
fn no_image_anywhere_pulls_the_default_image() {
    let p = plan_after(&compile("spec: {}\n"), 0);
    assert_eq!(p.start.image, ImageStep::PullDefault);
    assert_eq!(p.start.image.state(), Some(State::PullingImage));
    assert!(p.start.clones.is_empty());
    assert_eq!(
        p.start.env,
        [entry("CORDIUM_SESSION_TOKEN", EnvValue::SessionToken)],
        "no name, no CORDIUM_NAME"
    );
}

#[test]
fn the_cluster_default_image_is_pulled_like_any_registry_image() {
    let yaml = "apiVersion: cordium/v1\nkind: ClusterConfig\nmetadata: {name: cluster}\nspec:\n  workspace:\n    defaultImage: {registry: {url: ghcr.io/cordium/base:1}}\n---\nspec: {}\n";
    let p = plan_after(&compile(yaml), 0);
    assert_eq!(
        p.start.image,
        ImageStep::Pull {
            url: "ghcr.io/cordium/base:1".into(),
            credentials: None
        }
    );
}

#[test]
fn dockerfile_images_are_built() {
    let p = plan_after(
        &compile("spec:\n  image: {dockerfile: {inline: \"FROM alpine\"}}\n"),
        0,
    );
    assert_eq!(
        p.start.image,
        ImageStep::BuildDockerfile(DockerfileSource::Inline("FROM alpine".into()))
    );
    assert_eq!(p.start.image.state(), Some(State::BuildingImage));
    assert_eq!(p.start.image.failure(), Some(Failure::ImageBuild));
    assert!(p.start.states().contains(&State::BuildingImage));

    let p = plan_after(
        &compile("spec:\n  image: {dockerfile: {url: https://example.com/Dockerfile}}\n"),
        0,
    );
    assert_eq!(
        p.start.image,
        ImageStep::BuildDockerfile(DockerfileSource::Url(
            "https://example.com/Dockerfile".into()
        ))
    );
}

#[test]
fn git_images_are_built() {
    let ws = compile(
        "spec:\n  image: {git: {url: https://github.com/myorg/images, checkout: v2, context: base}}\n",
    );
    assert_eq!(
        plan_after(&ws, 0).start.image,
        ImageStep::BuildGit {
            url: "https://github.com/myorg/images".into(),
            checkout: Some("v2".into()),
            dockerfile: None,
            context: Some("base".into()),
        }
    );
}

#[test]
fn repository_images_are_built_from_the_primary_repository() {
    let ws = compile(
        "spec:\n  repository: {url: https://github.com/myorg/api}\n  image: {repository: {devcontainer: {dirPath: .devcontainer/py}}}\n",
    );
    assert_eq!(
        plan_after(&ws, 0).start.image,
        ImageStep::BuildRepository(RepositoryBuild::Devcontainer {
            dir_path: Some(".devcontainer/py".into())
        })
    );
    let ws = compile(
        "spec:\n  repository: {url: https://github.com/myorg/api}\n  image: {repository: {dockerfile: {path: docker/Dockerfile}}}\n",
    );
    assert_eq!(
        plan_after(&ws, 0).start.image,
        ImageStep::BuildRepository(RepositoryBuild::Dockerfile {
            path: Some("docker/Dockerfile".into()),
            context: None
        })
    );
}

#[test]
fn a_repository_image_without_a_repository_is_refused() {
    let ws = compile("spec:\n  image: {repository: {devcontainer: {}}}\n");
    assert_eq!(
        plan(&ws, &RunContext::new(&runs(&ws, 0))),
        Err(Error::NoRepositoryToBuild)
    );
    assert!(
        plan(&ws, &RunContext::new(&runs(&ws, 1))).is_ok(),
        "not fresh: the image is not built"
    );
}

#[test]
fn abort_and_continue_outcomes() {
    let p = plan_after(&compile(ALL_LAYERS), 0);
    let find = |n: &str| p.start.tasks.iter().find(|t| t.name == n).unwrap();
    let install = find("install"); // ON_FAILURE_ABORT
    let migrate = find("migrate"); // ON_FAILURE_CONTINUE
    let post = find("tmpl-post"); // ON_FAILURE_UNSET
    assert_eq!(
        task_outcome(install, 2),
        TaskOutcome::Abort(Failure::Task {
            name: "install".into(),
            exit_code: 2
        })
    );
    assert_eq!(
        task_outcome(install, -1),
        TaskOutcome::Abort(Failure::Task {
            name: "install".into(),
            exit_code: -1
        })
    );
    assert_eq!(task_outcome(install, 0), TaskOutcome::Continue);
    assert_eq!(task_outcome(migrate, 1), TaskOutcome::Continue);
    assert_eq!(task_outcome(post, 127), TaskOutcome::Continue);
}

#[test]
fn the_start_states_are_legal_moves() {
    let ws = compile(ALL_LAYERS);
    for facts in [runs(&ws, 0), runs(&ws, 3), build_facts()] {
        let p = plan_for(&ws, facts);
        let mut from = State::Stopped;
        for to in p.start.states() {
            assert!(can_move(from, to), "{from} -> {to}");
            from = to;
        }
    }
}

#[test]
fn unnamed_tasks_are_named_by_their_place() {
    let ws = compile("spec:\n  runtime:\n    tasks:\n      - {run: make, type: POST_START}\n");
    assert_eq!(names(&plan_after(&ws, 0).start.tasks), ["tasks[0]"]);
}

#[test]
fn secret_names_are_every_secret_a_run_reads() {
    let ws = compile(ALL_LAYERS);
    let names = |set: std::collections::BTreeSet<String>| set.into_iter().collect::<Vec<_>>();
    let (secrets, user_secrets) = plan_after(&ws, 0).secret_names();
    assert_eq!(
        names(secrets),
        ["dev-db-url", "github-pat", "my-api-key", "registry-token"]
    );
    assert_eq!(names(user_secrets), ["dotfiles-token", "gh"]);
    // A later run clones nothing and installs no dotfiles, but pulls its image with the login.
    let (secrets, user_secrets) = plan_after(&ws, 1).secret_names();
    assert_eq!(
        names(secrets),
        ["dev-db-url", "my-api-key", "registry-token"]
    );
    assert_eq!(names(user_secrets), ["gh"]);
}

#[test]
fn the_container_is_part_of_the_plan() {
    let ws = compile(
        "spec:\n  applications: [{name: web, port: 3000}, {name: docs, port: 8080, isDefault: true}]\n  limit: {cpu: {millicores: 1500}, memory: {megabytes: 2048}}\n  runtime:\n    entrypoint: /usr/bin/init\n    cmd: ''\n    capabilities: {add: [SYS_PTRACE], drop: [CAP_MKNOD]}\n    filesystem: {readOnly: true}\n    volumeMounts: [{volumeRef: {name: data}, mountPath: /data, readOnly: true}, {volumeRef: {name: cache}, mountPath: /cache}]\n    network: {egress: {defaultAction: DENY, rules: [{cidrs: [10.1.2.3/16, '::1'], action: ALLOW, ports: [443]}, {cidrs: [10.1.9.0/24], action: DENY}]}}\n",
    );
    let p = plan_after(&ws, 0);
    let cidr = |c: &str| cordium_spec::shapes::parse_cidr(c).unwrap();
    assert_eq!(
        p.start.container,
        ContainerPlan {
            entrypoint: Some("/usr/bin/init".into()),
            cmd: None,
            resources: Resources {
                cpu_millis: Some(1500),
                memory_mib: Some(2048),
                storage_mib: Some(20000),
            },
            add_capabilities: vec!["SYS_PTRACE".into()],
            drop_capabilities: vec!["CAP_MKNOD".into()],
            ports: vec![
                Port {
                    name: "web".into(),
                    port: 3000
                },
                Port {
                    name: "docs".into(),
                    port: 8080
                },
            ],
            read_only: true,
            mounts: vec![
                Mount {
                    volume: "data".into(),
                    path: "/data".into(),
                    read_only: true
                },
                Mount {
                    volume: "cache".into(),
                    path: "/cache".into(),
                    read_only: false
                },
            ],
            egress: Egress {
                rules: vec![
                    EgressRule {
                        cidrs: vec![cidr("10.1.0.0/16"), cidr("::1/128")],
                        action: EgressAction::Allow,
                        ports: vec![443],
                    },
                    EgressRule {
                        cidrs: vec![cidr("10.1.9.0/24")],
                        action: EgressAction::Deny,
                        ports: vec![],
                    },
                ],
                default: EgressDefault::Deny,
            },
        }
    );
    // Egress is applied at every start: changing it does not re-make a kept container.
    let mut other = p.clone();
    other.start.container.egress = Egress::default();
    assert_eq!(other.recipe(), p.recipe());
    // Unset, the default is ALLOW_PUBLIC.
    assert_eq!(
        plan_after(&compile("spec: {}\n"), 0).start.container.egress,
        Egress::default()
    );
    assert_eq!(
        plan_after(&ws, 3).start.container,
        p.start.container,
        "a later run runs the same container"
    );
}

#[test]
fn the_recipe_is_the_same_on_every_run_and_changes_with_the_image_or_settings() {
    let ws = compile(
        "spec:\n  image: {registry: {url: ghcr.io/a/b:1}}\n  runtime:\n    envVars: [{key: A, value: '1'}]\n",
    );
    let first = plan_after(&ws, 0).recipe();
    assert_eq!(
        plan_after(&ws, 4).recipe(),
        first,
        "fresh and reused runs agree"
    );
    let image = compile(
        "spec:\n  image: {registry: {url: ghcr.io/a/b:2}}\n  runtime:\n    envVars: [{key: A, value: '1'}]\n",
    );
    let changed = plan_after(&image, 4).recipe();
    assert_ne!(changed.image, first.image);
    assert_eq!(changed.settings, first.settings);
    let env = compile(
        "spec:\n  image: {registry: {url: ghcr.io/a/b:1}}\n  runtime:\n    envVars: [{key: A, value: '2'}]\n",
    );
    let changed = plan_after(&env, 4).recipe();
    assert_eq!(changed.image, first.image);
    assert_ne!(changed.settings, first.settings);
}

/// A run is refused when any layer adds a capability outside the grantable set (by name,
/// with or without `CAP_`, or `ALL`); dropping it again, or adding a grantable one, runs.
#[test]
fn capabilities_past_the_grantable_set_are_refused() {
    let with = |add: &str, drop: &str| {
        let ws = compile(&format!(
            "spec:\n  runtime:\n    capabilities: {{add: [{add}], drop: [{drop}]}}\n"
        ));
        // Planned either way (a run begun before must still stop); refused at the start.
        let planned = plan_after(&ws, 0);
        cordium_provisioner::check_grantable(&planned.start.container)
    };
    for (add, refused) in [
        ("NET_ADMIN", "NET_ADMIN"),
        ("CAP_NET_RAW", "NET_RAW"),
        ("SYS_PTRACE, SYS_ADMIN", "SYS_ADMIN"),
        ("ALL", "ALL"),
    ] {
        match with(add, "KILL") {
            Err(cordium_provisioner::Error::CapabilityNotGrantable { capability }) => {
                assert_eq!(capability, refused, "{add}");
            }
            other => panic!("{add}: {other:?}"),
        }
    }
    let message = with("NET_ADMIN", "KILL").unwrap_err().to_string();
    assert!(
        message.contains("`NET_ADMIN`") && message.contains("SYS_PTRACE"),
        "{message}"
    );
    assert!(with("SYS_PTRACE, AUDIT_WRITE", "KILL").is_ok());
    assert!(
        with("NET_ADMIN", "NET_ADMIN").is_ok(),
        "added, then dropped"
    );
    assert!(with("ALL", "ALL").is_ok(), "every one dropped: none held");
}

#[test]
fn the_compiled_capabilities_are_the_default_set_plus_added_minus_dropped() {
    use cordium_provisioner::{Capabilities, capabilities};
    let s = |v: &[&str]| v.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
    let Capabilities::Exactly(set) =
        capabilities(&s(&["SYS_PTRACE", "CAP_NET_ADMIN"]), &s(&["KILL", "ALL_X"]))
    else {
        panic!("an exact set");
    };
    assert!(set.contains(&"SYS_PTRACE".to_owned()) && set.contains(&"NET_ADMIN".to_owned()));
    assert!(!set.contains(&"KILL".to_owned()) && set.contains(&"CHOWN".to_owned()));
    assert_eq!(set.len(), 12);
    assert_eq!(
        capabilities(&s(&["NET_ADMIN"]), &s(&["ALL"])),
        Capabilities::Exactly(s(&["NET_ADMIN"]))
    );
    assert_eq!(
        capabilities(&s(&["ALL"]), &s(&["SYS_ADMIN"])),
        Capabilities::AllBut(s(&["SYS_ADMIN"]))
    );
}
