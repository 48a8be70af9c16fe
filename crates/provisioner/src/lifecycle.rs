//! The lifecycle driver: executes a [`Plan`] against a [`Runtime`], one state at a time.
//!
//! [`start`] walks `INITIALIZING`, `PULLING_IMAGE` or `BUILDING_IMAGE`, `STARTING_RUNTIME`,
//! `PREPARING` and `RUNNING`, reporting each state to a [`Progress`] before the work of that
//! state begins; [`stop`] runs the PRE_STOP tasks and removes the container. A failing step
//! ends the start with a [`RunFailure`]: a structured [`Failure`] plus a message for people.
//! The caller (the server) writes the states and the failure to the store, and moves a
//! failed start on to stopping.
//!
//! How each step runs inside the container (every script is `sh -c`, so the image needs a
//! POSIX shell, and clones need `git` in the image, as upstream's supervisor does):
//! - clones: `git clone` with the URL, branch and depth from the plan; HTTP credentials go
//!   through a credential helper reading two variables, so the password is on no command
//!   line (and every git command of the clone, the background unshallow included, uses it;
//!   git never prompts); then `git checkout` when the plan names a commit or tag, fetching
//!   that commit or tag first when a shallow clone lacks it, and a background
//!   `git fetch --unshallow` for lazily unshallowed clones;
//! - git identity: `git config --global user.name` and `user.email`, when the request has one
//!   ([`StartRequest::git_identity`]; the server has none to give: a GitProvider is an OAuth2
//!   configuration, and the user profile would come from the OAuth connection);
//! - dotfiles: cloned to `~/dotfiles`, then the first install script of upstream's list that
//!   is an executable file is run (a script without its executable bit is skipped, as
//!   upstream); a dotfiles failure is logged, not fatal (as upstream);
//! - tasks: in plan order, each with its working directory, environment and user; background
//!   tasks are started detached; a non-zero exit is judged by [`task_outcome`].

use crate::plan::{
    CloneHistory, CloneStep, Credentials, DockerfileSource, DotfilesStep, EnvEntry, EnvValue,
    ImageStep, Plan, PlannedTask, ReusedImage, SecretSource, StopPlan, TaskOutcome, task_outcome,
};
use crate::runtime::{
    ContainerSpec, ExecSpec, Login, ResolvedEnv, ResolvedValue, Runtime, RuntimeError, SecretValue,
    WorkspaceKey,
};
use crate::state::{Failure, State};
use std::collections::BTreeMap;
use std::fmt;

/// Secret values a run needs, fetched and decrypted by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// Secrets of the Space, by name.
    pub secrets: BTreeMap<String, SecretValue>,
    /// UserSecrets of the owner, by name.
    pub user_secrets: BTreeMap<String, SecretValue>,
    /// The run's session credential.
    pub session_token: Option<SecretValue>,
    /// The GitProvider's token, used for clones without their own credentials.
    pub git_token: Option<SecretValue>,
}

impl Secrets {
    fn resolve(&self, value: &EnvValue) -> Result<ResolvedValue, String> {
        let found = |map: &BTreeMap<String, SecretValue>, kind: &str, name: &str| {
            map.get(name)
                .cloned()
                .map(ResolvedValue::Secret)
                .ok_or_else(|| format!("{kind} `{name}` does not exist"))
        };
        match value {
            EnvValue::Literal(s) => Ok(ResolvedValue::Literal(s.clone())),
            EnvValue::FromSecret(name) => found(&self.secrets, "Secret", name),
            EnvValue::FromUserSecret(name) => found(&self.user_secrets, "UserSecret", name),
            EnvValue::SessionToken => self
                .session_token
                .clone()
                .map(ResolvedValue::Secret)
                .ok_or_else(|| "the run has no session credential".to_owned()),
        }
    }

    /// The environment of `entries`; the session variable is left out when the run has no
    /// session (a stop prepared after the session was revoked).
    fn env(&self, entries: &[EnvEntry]) -> Result<ResolvedEnv, String> {
        entries
            .iter()
            .filter(|e| e.value != EnvValue::SessionToken || self.session_token.is_some())
            .map(|e| Ok((e.key.clone(), self.resolve(&e.value)?)))
            .collect()
    }

    fn login(&self, credentials: &Credentials) -> Result<Login, String> {
        let password = match &credentials.password {
            SecretSource::Secret(name) => self.resolve(&EnvValue::FromSecret(name.clone()))?,
            SecretSource::UserSecret(name) => {
                self.resolve(&EnvValue::FromUserSecret(name.clone()))?
            }
        };
        let ResolvedValue::Secret(password) = password else {
            return Err("credentials must come from a secret".to_owned());
        };
        Ok(Login {
            username: credentials.username.clone(),
            password,
        })
    }
}

/// The git identity commits in the workspace are made with (from the GitProvider).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitIdentity {
    /// `user.name`.
    pub name: String,
    /// `user.email`.
    pub email: String,
}

/// Everything one start needs.
#[derive(Debug, Clone)]
pub struct StartRequest<'a> {
    /// Whose workspace.
    pub key: &'a WorkspaceKey,
    /// Its plan ([`crate::plan()`] of the compiled workspace): everything the run does.
    pub plan: &'a Plan,
    /// Secret values.
    pub secrets: &'a Secrets,
    /// The snapshot to restore when the plan says so.
    pub snapshot: Option<&'a str>,
    /// The git identity, when the workspace has a GitProvider with a profile.
    pub git_identity: Option<&'a GitIdentity>,
}

/// Why a start or a stop failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFailure {
    /// The structured failure.
    pub failure: Failure,
    /// What happened, for people (never a secret value).
    pub message: String,
}

impl RunFailure {
    fn new(failure: Failure, message: impl Into<String>) -> Self {
        Self {
            failure,
            message: message.into(),
        }
    }
}

impl fmt::Display for RunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.failure, self.message)
    }
}

/// Receives each state as the driver enters it.
#[async_trait::async_trait]
pub trait Progress: Send + Sync {
    /// The driver is entering `state`.
    async fn entered(&self, state: State);
}

/// How a successful start ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// The workspace is running.
    Running,
    /// Every foreground task is done and the plan stops when they are (`autoStop`, builds).
    Done,
}

/// Starts a workspace: see the [module docs](self). Gives up with
/// [`Failure::StartupTimeout`] after the plan's timeout.
pub async fn start<R: Runtime + ?Sized>(
    runtime: &R,
    request: &StartRequest<'_>,
    progress: &dyn Progress,
) -> Result<Started, RunFailure> {
    match tokio::time::timeout(
        request.plan.start.timeout,
        start_steps(runtime, request, progress),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err(RunFailure::new(
            Failure::StartupTimeout,
            format!(
                "the start took longer than {} s",
                request.plan.start.timeout.as_secs()
            ),
        )),
    }
}

/// Walks the plan's states ([`crate::StartPlan::states`], the transition table's order),
/// entering each and doing its work: the image in its own state (or in `INITIALIZING` when the
/// run reuses it), the container in `STARTING_RUNTIME`, clones, dotfiles and tasks in
/// `PREPARING`. A plan that stops when its tasks are done ends before `RUNNING`.
async fn start_steps<R: Runtime + ?Sized>(
    runtime: &R,
    request: &StartRequest<'_>,
    progress: &dyn Progress,
) -> Result<Started, RunFailure> {
    let StartRequest {
        key, plan, secrets, ..
    } = request;
    let start = &plan.start;
    let image_state = start.image.state().unwrap_or(State::Initializing);
    let mut image = None;
    for state in start.states() {
        match state {
            // The API's state: the request this start answers.
            State::InitRequest => continue,
            State::Running if start.stop_when_done => return Ok(Started::Done),
            _ => progress.entered(state).await,
        }
        if state == image_state {
            image = Some(prepare_image(runtime, key, &start.image, secrets).await?);
        }
        match state {
            State::StartingRuntime => {
                let Some(image) = image.take() else {
                    return Err(RunFailure::new(
                        Failure::Unknown,
                        "the plan starts the container before its image",
                    ));
                };
                let env = secrets
                    .env(&start.env)
                    .map_err(|m| RunFailure::new(Failure::RunContainer, m))?;
                let mut spec = ContainerSpec::new(
                    key,
                    &start.container,
                    image,
                    env,
                    start.volume.source,
                    request.snapshot,
                );
                spec.recipe = plan.recipe();
                runtime
                    .start(&spec)
                    .await
                    .map_err(|e| RunFailure::new(Failure::RunContainer, e.to_string()))?;
            }
            State::Preparing => prepare(runtime, request).await?,
            State::Running => return Ok(Started::Running),
            _ => {}
        }
    }
    Err(RunFailure::new(
        Failure::Unknown,
        "the plan's states do not reach RUNNING",
    ))
}

/// `PREPARING`: the git identity, clones, dotfiles, then the ON_CREATE and POST_START tasks.
async fn prepare<R: Runtime + ?Sized>(
    runtime: &R,
    request: &StartRequest<'_>,
) -> Result<(), RunFailure> {
    let StartRequest {
        key, plan, secrets, ..
    } = request;
    let start = &plan.start;
    if let Some(identity) = request.git_identity {
        let mut exec = ExecSpec::logged(
            "git config --global user.name \"$CORDIUM_GIT_NAME\" && \
             git config --global user.email \"$CORDIUM_GIT_EMAIL\"",
        );
        exec.env = vec![
            lit("CORDIUM_GIT_NAME", &identity.name),
            lit("CORDIUM_GIT_EMAIL", &identity.email),
        ];
        // Best effort: an image without git cannot commit anyway.
        let _ = runtime.exec(key, &exec).await;
    }
    for clone in &start.clones {
        run_clone(runtime, key, clone, secrets).await?;
    }
    if let Some(dotfiles) = &start.dotfiles {
        install_dotfiles(runtime, key, dotfiles, secrets).await;
    }
    run_tasks(runtime, key, &start.tasks, secrets).await
}

/// Pulls or builds the image; returns its reference.
async fn prepare_image<R: Runtime + ?Sized>(
    runtime: &R,
    key: &WorkspaceKey,
    step: &ImageStep,
    secrets: &Secrets,
) -> Result<String, RunFailure> {
    let pull = |e: RuntimeError| RunFailure::new(Failure::ImagePull, e.to_string());
    let build = |m: String| RunFailure::new(Failure::ImageBuild, m);
    match step {
        ImageStep::Pull { url, credentials } => {
            let login = credentials
                .as_ref()
                .map(|c| secrets.login(c))
                .transpose()
                .map_err(|m| RunFailure::new(Failure::ImagePull, m))?;
            runtime
                .pull_image(key, url, login.as_ref())
                .await
                .map_err(pull)?;
            Ok(url.clone())
        }
        ImageStep::PullDefault => {
            let image = runtime.default_image().to_owned();
            runtime.pull_image(key, &image, None).await.map_err(pull)?;
            Ok(image)
        }
        ImageStep::BuildDockerfile(DockerfileSource::Inline(text)) => runtime
            .build_image(key, text)
            .await
            .map_err(|e| build(e.to_string())),
        ImageStep::BuildDockerfile(DockerfileSource::Url(_)) => Err(build(
            "building from a Dockerfile URL is not supported yet; inline the Dockerfile \
             (`spec.image.dockerfile.inline`)"
                .to_owned(),
        )),
        ImageStep::BuildGit { .. } | ImageStep::BuildRepository(_) => Err(build(
            "building from a git repository is not supported yet; use an image URL or an \
             inline Dockerfile"
                .to_owned(),
        )),
        ImageStep::Reuse { image, credentials } => {
            reused_image(runtime, key, image, credentials.as_ref(), secrets).await
        }
    }
}

/// The image of a run that reuses the previous one's: the spec's URL, the tag an inline
/// Dockerfile was built under, or the default image. An image with registry credentials is
/// pulled again with them: a cached copy must not stand in for a login (another workspace
/// may have pulled it), and a runtime that pulls at start (Kubernetes) needs the login.
async fn reused_image<R: Runtime + ?Sized>(
    runtime: &R,
    key: &WorkspaceKey,
    image: &ReusedImage,
    credentials: Option<&Credentials>,
    secrets: &Secrets,
) -> Result<String, RunFailure> {
    match image {
        ReusedImage::Url(url) => {
            if let Some(credentials) = credentials {
                let login = secrets
                    .login(credentials)
                    .map_err(|m| RunFailure::new(Failure::ImagePull, m))?;
                runtime
                    .pull_image(key, url, Some(&login))
                    .await
                    .map_err(|e| RunFailure::new(Failure::ImagePull, e.to_string()))?;
            }
            return Ok(url.clone());
        }
        ReusedImage::Dockerfile(text) => {
            // Building again hits the engine's cache; it also repairs a removed image.
            if let Ok(tag) = runtime.build_image(key, text).await {
                return Ok(tag);
            }
        }
        ReusedImage::Default => {}
    }
    Ok(runtime.default_image().to_owned())
}

fn lit(key: &str, value: &str) -> (String, ResolvedValue) {
    (key.to_owned(), ResolvedValue::Literal(value.to_owned()))
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A git credential helper answering with two environment variables, so the password is
/// never on a command line.
const CREDENTIAL_HELPER: &str = "-c credential.helper= -c 'credential.helper=!f() { \
     echo \"username=$CORDIUM_GIT_USERNAME\"; echo \"password=$CORDIUM_GIT_PASSWORD\"; }; f'";

/// `git`, with the credential helper when `authenticated`.
fn git_command(authenticated: bool) -> String {
    if authenticated {
        format!("git {CREDENTIAL_HELPER}")
    } else {
        "git".to_owned()
    }
}

/// The environment of a clone of `url`: git fails where it would ask for a user name. The
/// URL travels like a secret (it may hold a token), so it is on no command line.
fn clone_env(url: &str) -> ResolvedEnv {
    vec![
        (
            "CORDIUM_CLONE_URL".to_owned(),
            ResolvedValue::Secret(SecretValue::new(url)),
        ),
        lit("GIT_TERMINAL_PROMPT", "0"),
    ]
}

/// `url` without its user information (`https://user:token@host/x` → `https://host/x`), for
/// messages.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_owned(),
    }
}

fn login_env(login: &Login) -> ResolvedEnv {
    vec![
        lit("CORDIUM_GIT_USERNAME", &login.username),
        (
            "CORDIUM_GIT_PASSWORD".to_owned(),
            ResolvedValue::Secret(login.password.clone()),
        ),
    ]
}

/// The `git clone` script of a clone step (URL and credentials come from the environment).
///
/// A checkout is tried as is; when the clone lacks it (a shallow or single-branch clone of a
/// tag or commit off the branch's tip), that tag or commit is fetched (depth 1) and checked
/// out.
pub fn clone_script(clone: &CloneStep, authenticated: bool) -> String {
    let git = git_command(authenticated);
    let mut args = git.clone();
    args.push_str(" clone --recurse-submodules");
    if let Some(branch) = &clone.branch {
        args.push_str(" --branch ");
        args.push_str(&shell_quote(branch));
    }
    if clone.single_branch {
        args.push_str(" --single-branch");
    }
    match clone.history {
        CloneHistory::ShallowThenFull => args.push_str(" --depth 1"),
        CloneHistory::Full => {}
        CloneHistory::Depth(n) => args.push_str(&format!(" --depth {n}")),
    }
    if clone.shallow_submodules {
        args.push_str(" --shallow-submodules");
    }
    args.push_str(" -- \"$CORDIUM_CLONE_URL\" ");
    args.push_str(&shell_quote(&clone.path));
    if let Some(checkout) = &clone.checkout {
        let path = shell_quote(&clone.path);
        let checkout = shell_quote(checkout);
        args.push_str(&format!(
            " && {{ git -C {path} checkout --quiet {checkout} 2>/dev/null || \
             {{ {git} -C {path} fetch --quiet --depth 1 origin {checkout} && \
             git -C {path} checkout --quiet FETCH_HEAD; }}; }}"
        ));
    }
    args
}

async fn run_clone<R: Runtime + ?Sized>(
    runtime: &R,
    key: &WorkspaceKey,
    clone: &CloneStep,
    secrets: &Secrets,
) -> Result<(), RunFailure> {
    let fail = |m: String| RunFailure::new(clone.failure(), m);
    let login = match &clone.credentials {
        Some(c) => Some(secrets.login(c).map_err(fail)?),
        None => secrets.git_token.clone().map(|password| Login {
            username: "oauth2".to_owned(),
            password,
        }),
    };
    let mut exec = ExecSpec::logged(clone_script(clone, login.is_some()));
    exec.env = clone_env(&clone.url);
    if let Some(login) = &login {
        exec.env.extend(login_env(login));
    }
    let out = runtime
        .exec(key, &exec)
        .await
        .map_err(|e| fail(e.to_string()))?;
    if out.exit_code != 0 {
        return Err(fail(format!(
            "`git clone` of {} exited with code {}",
            redact_url(&clone.url),
            out.exit_code
        )));
    }
    if clone.history == CloneHistory::ShallowThenFull {
        let mut unshallow = ExecSpec::logged(format!(
            "{} -C {} fetch --unshallow --quiet",
            git_command(login.is_some()),
            shell_quote(&clone.path)
        ));
        unshallow.env = exec.env;
        unshallow.detach = true;
        // Best effort: the clone is usable without its history; a failure is logged, since
        // nothing else would say why the history never came.
        if let Err(e) = runtime.exec(key, &unshallow).await {
            tracing::warn!(workspace = %key.name, "the background unshallow did not start: {e}");
        }
    }
    Ok(())
}

/// The script cloning dotfiles and running the first install script that is an executable
/// file.
pub fn dotfiles_script(dotfiles: &DotfilesStep, authenticated: bool) -> String {
    let dir = dotfiles.dir.replacen('~', "$HOME", 1);
    let mut script = git_command(authenticated);
    script.push_str(" clone --depth 1");
    if let Some(branch) = &dotfiles.branch {
        script.push_str(" --branch ");
        script.push_str(&shell_quote(branch));
    }
    script.push_str(&format!(
        " -- \"$CORDIUM_CLONE_URL\" \"{dir}\" && cd \"{dir}\" && for s in"
    ));
    for candidate in &dotfiles.install_scripts {
        script.push(' ');
        script.push_str(&shell_quote(candidate));
    }
    script.push_str("; do if [ -f \"$s\" ] && [ -x \"$s\" ]; then \"./$s\"; exit $?; fi; done");
    script
}

async fn install_dotfiles<R: Runtime + ?Sized>(
    runtime: &R,
    key: &WorkspaceKey,
    dotfiles: &DotfilesStep,
    secrets: &Secrets,
) {
    let login = match dotfiles.credentials.as_ref().map(|c| secrets.login(c)) {
        Some(Ok(login)) => Some(login),
        Some(Err(message)) => {
            tracing::warn!(workspace = %key.name, "dotfiles skipped: {message}");
            return;
        }
        None => None,
    };
    let mut exec = ExecSpec::logged(dotfiles_script(dotfiles, login.is_some()));
    exec.env = clone_env(&dotfiles.url);
    if let Some(login) = &login {
        exec.env.extend(login_env(login));
    }
    match runtime.exec(key, &exec).await {
        Ok(out) if out.exit_code == 0 => {}
        Ok(out) => {
            tracing::warn!(workspace = %key.name, code = out.exit_code, "dotfiles install failed")
        }
        Err(e) => tracing::warn!(workspace = %key.name, "dotfiles install failed: {e}"),
    }
}

/// The execution of one task.
pub fn task_exec(task: &PlannedTask, env: ResolvedEnv) -> ExecSpec {
    ExecSpec {
        script: task.run.clone(),
        env,
        working_dir: task.working_dir.clone(),
        as_root: task.run_as_root,
        to_log: true,
        detach: task.background,
    }
}

async fn run_tasks<R: Runtime + ?Sized>(
    runtime: &R,
    key: &WorkspaceKey,
    tasks: &[PlannedTask],
    secrets: &Secrets,
) -> Result<(), RunFailure> {
    for task in tasks {
        let abort = |exit_code: i32, message: String| {
            RunFailure::new(
                Failure::Task {
                    name: task.name.clone(),
                    exit_code,
                },
                message,
            )
        };
        let env = secrets.env(&task.env).map_err(|m| abort(-1, m))?;
        let exit_code = match runtime.exec(key, &task_exec(task, env)).await {
            Ok(out) => out.exit_code,
            Err(e) => {
                tracing::warn!(workspace = %key.name, task = %task.name, "task could not run: {e}");
                -1
            }
        };
        if let TaskOutcome::Abort(failure) = task_outcome(task, exit_code) {
            return Err(RunFailure::new(
                failure,
                format!("task `{}` exited with code {exit_code}", task.name),
            ));
        }
        if exit_code != 0 {
            tracing::info!(workspace = %key.name, task = %task.name, exit_code, "task failed; continuing");
        }
    }
    Ok(())
}

/// Stops a workspace: reports `STOPPING`, runs the PRE_STOP tasks (failures are logged, the
/// phase gives up after the plan's timeout), then removes the container and does the plan's
/// volume step, writing `snapshot` for a build.
pub async fn stop<R: Runtime + ?Sized>(
    runtime: &R,
    key: &WorkspaceKey,
    plan: &StopPlan,
    secrets: &Secrets,
    snapshot: Option<&str>,
    progress: &dyn Progress,
) -> Result<(), RuntimeError> {
    progress.entered(State::Stopping).await;
    let running = matches!(
        runtime.state(key).await,
        Ok(crate::runtime::ContainerState::Running)
    );
    if running && !plan.pre_stop.is_empty() {
        let pre_stop = async {
            for task in &plan.pre_stop {
                match secrets.env(&task.env) {
                    Ok(env) => {
                        if let Err(e) = runtime.exec(key, &task_exec(task, env)).await {
                            tracing::warn!(workspace = %key.name, task = %task.name, "PRE_STOP task failed: {e}");
                        }
                    }
                    Err(m) => {
                        tracing::warn!(workspace = %key.name, task = %task.name, "PRE_STOP task skipped: {m}")
                    }
                }
            }
        };
        if tokio::time::timeout(plan.timeout, pre_stop).await.is_err() {
            tracing::warn!(workspace = %key.name, "PRE_STOP tasks timed out");
        }
    }
    runtime.stop(key, plan.volume, snapshot).await
}
