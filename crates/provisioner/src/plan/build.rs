//! [`plan()`]: the start and stop plans of one run, from the resolved EffectiveWorkspace.

use super::{
    ADDITIONAL_REPOSITORIES_DIR, Capabilities, CloneHistory, CloneStep, ContainerPlan, Credentials,
    DOTFILES_DIR, DOTFILES_INSTALL_SCRIPTS, DockerfileSource, DotfilesStep, EnvEntry, EnvValue,
    ImageStep, Mount, PRE_STOP_TIMEOUT, Plan, PlannedTask, Port, REPOSITORY_DIR, RepositoryBuild,
    Resources, ReusedImage, SESSION_TOKEN_VAR, SecretSource, StartPlan, StopPlan, VolumeOnStop,
    VolumeSource, VolumeStep, WORKSPACE_DIR, WORKSPACE_NAME_VAR, capabilities, is_grantable,
};
use crate::Error;
use crate::fresh::RunContext;
use cordium_merge::EffectiveWorkspace;
use cordium_merge::effective::{
    EffectiveSpec, EnvSource, GitImage, Image, Login, RegistryImage, SecretRef, Task,
};
use cordium_spec::{CloneOptions, DockerfileImage, Located, OnFailure, RepositoryImage, TaskType};

/// The start and stop plans of a run of `workspace` in `ctx`.
///
/// Fails only when a fresh run would build the image from the primary repository and the
/// workspace has none ([`Error::NoRepositoryToBuild`]); the compiler accepts that workspace,
/// and a run that reuses its image never builds it. Whether the run may hold its capabilities
/// is the start's question ([`check_grantable`]): a stop is planned too, and a run begun before
/// a capability was refused must still stop as its plan says.
pub fn plan(workspace: &EffectiveWorkspace, ctx: &RunContext) -> Result<Plan, Error> {
    let spec = &workspace.spec;
    let runtime = &spec.runtime;
    let container = container(spec);

    let volume = VolumeStep {
        path: WORKSPACE_DIR.to_owned(),
        source: if ctx.new_volumes() {
            VolumeSource::New
        } else if ctx.from_snapshot {
            VolumeSource::FromSnapshot
        } else {
            VolumeSource::Reused
        },
    };

    let prepared = image_step(spec);
    let image = if ctx.prepares_image() {
        prepared?
    } else {
        // Nothing is built on a reused run, so a build's missing inputs do not matter here.
        match prepared {
            Ok(ImageStep::Pull { url, credentials }) => ImageStep::Reuse {
                image: ReusedImage::Url(url),
                credentials,
            },
            Ok(ImageStep::BuildDockerfile(DockerfileSource::Inline(text))) => ImageStep::Reuse {
                image: ReusedImage::Dockerfile(text),
                credentials: None,
            },
            _ => ImageStep::Reuse {
                image: ReusedImage::Default,
                credentials: None,
            },
        }
    };

    let mut env = Vec::new();
    for var in &runtime.env_vars {
        let value = match &var.source {
            EnvSource::Value(v) => EnvValue::Literal(v.clone()),
            EnvSource::FromSecret(s) => EnvValue::FromSecret(s.clone()),
            EnvSource::FromUserSecret(s) => EnvValue::FromUserSecret(s.clone()),
        };
        set_env(&mut env, var.key.clone(), value);
    }
    if !workspace.metadata.name.is_empty() {
        set_env(
            &mut env,
            WORKSPACE_NAME_VAR.to_owned(),
            EnvValue::Literal(workspace.metadata.name.clone()),
        );
    }
    if ctx.has_session() {
        set_env(
            &mut env,
            SESSION_TOKEN_VAR.to_owned(),
            EnvValue::SessionToken,
        );
    }

    let mut clones = Vec::new();
    if ctx.clones_repositories() {
        if let Some(repo) = &spec.repository
            && let Some(url) = nonempty(repo.url.as_deref())
        {
            clones.push(clone_step(
                url,
                repo.clone_options.as_ref(),
                repo.authentication.as_ref(),
                None,
                REPOSITORY_DIR.to_owned(),
            ));
        }
        for extra in spec.additional_repositories.iter().flatten() {
            let path = nonempty(extra.clone_path.as_deref())
                .unwrap_or_else(|| format!("{ADDITIONAL_REPOSITORIES_DIR}/{}", extra.name));
            let repo = &extra.repository;
            clones.push(clone_step(
                repo.url.clone(),
                repo.clone_options.as_ref(),
                repo.authentication.as_ref(),
                Some(extra.name.clone()),
                path,
            ));
        }
    }

    let dotfiles = spec
        .dotfiles
        .as_ref()
        .filter(|_| ctx.installs_dotfiles())
        .map(|d| DotfilesStep {
            url: d.url.clone(),
            branch: nonempty(d.branch.as_deref()),
            credentials: d.authentication.as_ref().map(credentials),
            dir: DOTFILES_DIR.to_owned(),
            install_scripts: DOTFILES_INSTALL_SCRIPTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        });

    let all_tasks: Vec<PlannedTask> = runtime
        .tasks
        .iter()
        .enumerate()
        .map(|(i, task)| planned_task(task, i, &env))
        .collect();
    let background = ctx.runs_background_tasks();
    let mut tasks: Vec<PlannedTask> = Vec::new();
    if ctx.runs_on_create() {
        tasks.extend(in_phase(&all_tasks, TaskType::OnCreate, background));
    }
    tasks.extend(in_phase(&all_tasks, TaskType::PostStart, background));
    let pre_stop: Vec<PlannedTask> = if ctx.runs_pre_stop() {
        in_phase(&all_tasks, TaskType::PreStop, background).collect()
    } else {
        Vec::new()
    };

    Ok(Plan {
        start: StartPlan {
            volume,
            image,
            container,
            env,
            clones,
            dotfiles,
            tasks,
            stop_when_done: runtime.auto_stop == Some(true) || ctx.is_build,
            timeout: ctx.start_timeout(),
        },
        stop: StopPlan {
            pre_stop,
            timeout: PRE_STOP_TIMEOUT,
            volume: if ctx.is_build {
                VolumeOnStop::Snapshot
            } else if spec.is_ephemeral {
                VolumeOnStop::Delete
            } else {
                VolumeOnStop::Keep
            },
        },
    })
}

/// The container of `spec`: command, limits, capabilities and ports.
/// Refuses to start a run whose capability set holds one that is not [`is_grantable`]
/// ([`Error::CapabilityNotGrantable`]: a policy of the runtime, not of the configuration
/// language, so the compiler merges any).
pub fn check_grantable(container: &ContainerPlan) -> Result<(), Error> {
    let refused = |capability: &str| Error::CapabilityNotGrantable {
        capability: capability.to_owned(),
    };
    match capabilities(&container.add_capabilities, &container.drop_capabilities) {
        Capabilities::AllBut(_) => Err(refused("ALL")),
        Capabilities::Exactly(set) => match set.iter().find(|c| !is_grantable(c)) {
            Some(capability) => Err(refused(capability)),
            None => Ok(()),
        },
    }
}

fn container(spec: &EffectiveSpec) -> ContainerPlan {
    let runtime = &spec.runtime;
    let nonzero = |v: u32| (v > 0).then_some(u64::from(v));
    let caps = runtime.capabilities.as_ref();
    let names = |list: Option<&Vec<cordium_spec::shapes::Capability>>| {
        list.map(|l| l.iter().map(|c| c.to_string()).collect())
            .unwrap_or_default()
    };
    ContainerPlan {
        entrypoint: nonempty(runtime.entrypoint.as_deref()),
        cmd: nonempty(runtime.cmd.as_deref()),
        resources: Resources {
            cpu_millis: nonzero(spec.limit.cpu_millicores),
            memory_mib: nonzero(spec.limit.memory_megabytes),
            storage_mib: nonzero(spec.limit.storage_megabytes),
        },
        add_capabilities: names(caps.and_then(|c| c.add.as_ref())),
        drop_capabilities: names(caps.and_then(|c| c.drop.as_ref())),
        ports: spec
            .applications
            .iter()
            .flatten()
            .map(|a| Port {
                name: a.name.clone(),
                port: a.port,
            })
            .collect(),
        read_only: runtime
            .filesystem
            .as_ref()
            .and_then(|f| f.read_only.as_deref().copied())
            .unwrap_or(false),
        mounts: runtime
            .volume_mounts
            .iter()
            .flatten()
            .filter_map(|m| {
                let volume = nonempty_field(&m.volume_ref.as_ref()?.name)?;
                Some(Mount {
                    volume,
                    path: m.mount_path.as_deref()?.to_string(),
                    read_only: flag(&m.read_only),
                })
            })
            .collect(),
        egress: super::egress::compile(runtime.network.as_ref()),
    }
}

/// The tasks of one phase, in compiled order; background tasks only when `background`.
fn in_phase(
    all: &[PlannedTask],
    phase: TaskType,
    background: bool,
) -> impl Iterator<Item = PlannedTask> + '_ {
    all.iter()
        .filter(move |t| t.phase == phase && (background || !t.background))
        .cloned()
}

/// A set, non-empty text (empty means the default for paths, refs and contexts).
fn nonempty(text: Option<&str>) -> Option<String> {
    text.filter(|s| !s.is_empty()).map(str::to_owned)
}

/// A set, non-empty text field of a wire type (clone options).
fn nonempty_field<T: std::ops::Deref<Target = str>>(field: &Option<Located<T>>) -> Option<String> {
    nonempty(field.as_deref().map(|s| &**s))
}

/// A wire flag, `false` when unset.
fn flag(field: &Option<Located<bool>>) -> bool {
    field.as_deref().copied().unwrap_or(false)
}

/// Sets `key`, replacing an existing entry in place (so the order is first appearance).
fn set_env(env: &mut Vec<EnvEntry>, key: String, value: EnvValue) {
    match env.iter_mut().find(|e| e.key == key) {
        Some(entry) => entry.value = value,
        None => env.push(EnvEntry { key, value }),
    }
}

/// A login's user name and password source.
fn credentials(login: &Login) -> Credentials {
    Credentials {
        username: login.username.clone(),
        password: match &login.password {
            SecretRef::Secret(name) => SecretSource::Secret(name.clone()),
            SecretRef::UserSecret(name) => SecretSource::UserSecret(name.clone()),
        },
    }
}

/// How a fresh run obtains the image of `spec`.
fn image_step(spec: &EffectiveSpec) -> Result<ImageStep, Error> {
    Ok(match &spec.image {
        None => ImageStep::PullDefault,
        Some(Image::Registry(RegistryImage {
            url,
            authentication,
        })) => ImageStep::Pull {
            url: url.clone(),
            credentials: authentication.as_ref().map(credentials),
        },
        Some(Image::Dockerfile(DockerfileImage::Inline(text))) => {
            ImageStep::BuildDockerfile(DockerfileSource::Inline(text.clone()))
        }
        Some(Image::Dockerfile(DockerfileImage::Url(url))) => {
            ImageStep::BuildDockerfile(DockerfileSource::Url(url.as_str().to_owned()))
        }
        Some(Image::Git(GitImage {
            url,
            checkout,
            dockerfile,
            context,
        })) => ImageStep::BuildGit {
            url: url.clone(),
            checkout: nonempty(checkout.as_deref()),
            dockerfile: nonempty(dockerfile.as_deref()),
            context: nonempty(context.as_deref()),
        },
        Some(Image::Repository(build)) => {
            let has_url = spec
                .repository
                .as_ref()
                .is_some_and(|r| nonempty(r.url.as_deref()).is_some());
            if !has_url {
                return Err(Error::NoRepositoryToBuild);
            }
            ImageStep::BuildRepository(match build {
                RepositoryImage::Devcontainer(d) => RepositoryBuild::Devcontainer {
                    dir_path: nonempty_field(&d.dir_path),
                },
                RepositoryImage::Dockerfile(d) => RepositoryBuild::Dockerfile {
                    path: nonempty_field(&d.path),
                    context: nonempty_field(&d.context),
                },
            })
        }
    })
}

/// One `git clone` of `url`.
fn clone_step(
    url: String,
    options: Option<&CloneOptions>,
    login: Option<&Login>,
    additional: Option<String>,
    path: String,
) -> CloneStep {
    let history = match options {
        Some(o) if flag(&o.disable_lazy_unshallow) => match o.depth.as_deref().copied() {
            Some(depth) if depth > 0 => CloneHistory::Depth(depth),
            _ => CloneHistory::Full,
        },
        _ => CloneHistory::ShallowThenFull,
    };
    CloneStep {
        additional,
        url,
        path,
        branch: options.and_then(|o| nonempty_field(&o.branch)),
        checkout: options.and_then(|o| nonempty_field(&o.checkout)),
        history,
        single_branch: options.is_some_and(|o| flag(&o.single_branch)),
        shallow_submodules: options.is_some_and(|o| flag(&o.shallow_submodules)),
        credentials: login.map(credentials),
    }
}

/// Task `i` of the compiled list, with the workspace's environment under its own variables.
fn planned_task(task: &Task, i: usize, base_env: &[EnvEntry]) -> PlannedTask {
    let mut env = base_env.to_vec();
    for var in task.env_vars.iter().flatten() {
        set_env(
            &mut env,
            var.key.clone(),
            EnvValue::Literal(var.value.clone()),
        );
    }
    PlannedTask {
        name: nonempty(task.name.as_deref()).unwrap_or_else(|| format!("tasks[{i}]")),
        phase: task.task_type,
        run: task.run.clone(),
        working_dir: nonempty(task.working_dir.as_deref()),
        env,
        background: task.is_background == Some(true),
        abort_on_failure: task.on_failure == Some(OnFailure::Abort),
        run_as_root: task.run_as_root == Some(true),
    }
}
