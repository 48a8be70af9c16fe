//! The command line, declared with clap.

use crate::flags::{self, Port};
use crate::kind_arg::ServedKind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use cordium_spec::Kind;
use std::path::PathBuf;

/// Compile, explain, validate and golden-test Cordium workspace configuration, and manage
/// resources on a Cordium server.
///
/// Exit codes: 0 success, 1 invalid input, 2 usage error (bad flags, unreadable files).
/// Server commands: 1 when the server refuses the input (invalid, not found, already exists,
/// not allowed, conflict), 2 for usage problems (no server configured, a rejected token, an
/// unreachable server).
#[derive(Debug, Parser)]
#[command(name = "cordium", version, about, long_about)]
pub(crate) struct Cli {
    /// When to colour diagnostics: auto (a terminal, and NO_COLOR unset), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The commands: those that work on files alone, then those that talk to a server (in this
/// order in `--help`).
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Compile, explain, validate, golden-test, schema.
    #[command(flatten)]
    Offline(OfflineCommand),
    /// The server commands.
    #[command(flatten)]
    Server(ServerCommand),
}

/// The commands that read files and never talk to a server.
#[derive(Debug, Subcommand)]
pub(crate) enum OfflineCommand {
    /// Merge every layer into one EffectiveWorkspace and print it.
    ///
    /// Reads every document of the files, picks each layer by `kind` (at most one of each,
    /// exactly one Workspace; a document with no `kind` and a `spec` is a Workspace).
    ///
    /// Example: cordium compile -f space.yaml -f template.yaml -f ws.yaml --var BRANCH=dev
    Compile(CompileCommand),
    /// Show the effective value of every leaf, where it came from, and what it replaced or
    /// what capped it.
    ///
    /// Example: cordium explain -f template.yaml -f ws.yaml spec.limit
    Explain(ExplainArgs),
    /// Check documents one by one, reporting every problem.
    ///
    /// Example: cordium validate fixtures/valid/*.yaml
    Validate(ValidateArgs),
    /// Golden-test compile cases: each subfolder of DIR is a case.
    ///
    /// A case's inputs are its *.yaml, *.yml and *.json files except the expectations
    /// (`repository-file.yaml` is the repository-file layer); an optional `args` file holds
    /// extra compile flags, one per line; the expectation is `expected.yaml` (the
    /// EffectiveWorkspace) or `expected-error.txt` (text the errors must contain).
    ///
    /// Example: cordium test fixtures/compile
    Test(TestArgs),
    /// Print the JSON Schema of one kind, or of any kind.
    ///
    /// Example: cordium schema Workspace > workspace.schema.json
    Schema(SchemaArgs),
}

/// The commands that talk to a Cordium server.
#[derive(Debug, Subcommand)]
pub(crate) enum ServerCommand {
    /// Check an API token against a server and save both for the other server commands, or
    /// sign in with OIDC (--oidc) or a workload's platform token (--workload-token-file).
    ///
    /// The login is saved to $CORDIUM_CONFIG, else $XDG_CONFIG_HOME/cordium/config.json, else
    /// ~/.config/cordium/config.json (readable by you only). Every server command also takes
    /// --server and --token, or CORDIUM_SERVER and CORDIUM_TOKEN, which override the file.
    ///
    /// Example: cordium login --server http://127.0.0.1:50051 --token cdm_...
    Login(crate::login_args::LoginArgs),
    /// Create a resource on the server from a YAML or JSON document.
    ///
    /// The document is checked locally first, like `cordium validate`. Secret values come from
    /// a file, standard input or the document's `data`, never from the command line.
    ///
    /// Example: cordium create workspace -f workspace.yaml --space team.alice --template python
    Create(OnServer<WriteArgs>),
    /// Print one resource.
    ///
    /// Example: cordium get workspace x7k -o json
    Get(Printed<NamedArgs>),
    /// Print the resources of a kind: a YAML stream of documents, or a JSON array.
    ///
    /// Example: cordium list template --space team.alice
    List(Printed<ListArgs>),
    /// Replace a resource's metadata and spec with a document's (e.g. one printed by `get`).
    ///
    /// A `metadata.resourceVersion` in the document makes the update fail if the resource
    /// changed since; `status` and other fields the server sets are ignored.
    ///
    /// Example: cordium update template -f python.yaml --space team.alice
    Update(OnServer<WriteArgs>),
    /// Delete a resource (a Space is deleted with everything in it).
    ///
    /// Example: cordium delete secret db-password --space team.alice
    Delete(OnServer<NamedArgs>),
    /// Ask the server to start a stopped workspace.
    ///
    /// Example: cordium start x7k --var BRANCH=dev
    Start(Printed<StartArgs>),
    /// Ask the server to stop a workspace.
    ///
    /// Returns once the stop is requested (the workspace is then STOPPING_REQUEST); with
    /// --wait, follows it until it is STOPPED.
    ///
    /// Example: cordium stop x7k --wait
    Stop(Printed<StopArgs>),
    /// Create a workspace from flags (and, optionally, a document), start it, and follow it
    /// until it is RUNNING; or run an existing one (NAME).
    ///
    /// Prints one progress line per lifecycle state on standard error (a live line on a
    /// terminal), then the workspace's name on standard output. If the start fails, explains
    /// why and exits with 1. With --rm, follows the workspace until it stops, then deletes it.
    /// Ctrl-C stops following and leaves the workspace as it is (with --rm: deletes it).
    ///
    /// Example: cordium run --image node:20-bookworm --repository https://github.com/myorg/api-service --env-from-secret DATABASE_URL=dev-db-url --port web:3000:default
    Run(OnServer<RunArgs>),
    /// Run a command in a running workspace, and exit with its exit code.
    ///
    /// Output streams as it comes. Standard input is forwarded when it is not a terminal, or
    /// with -i; with -t the command runs on a terminal (raw mode here, window size changes
    /// forwarded, Ctrl-C delivered to it). Without -t, Ctrl-C sends SIGINT to the command
    /// (the third sends SIGKILL).
    ///
    /// Example: tar c . | cordium exec x7k -- tar x -C /workspace
    Exec(OnServer<ExecArgs>),
    /// Open your login shell in a running workspace, on a terminal.
    ///
    /// Exits with the shell's exit code.
    ///
    /// Example: cordium shell x7k
    Shell(OnServer<SessionArgs>),
    /// Copy files or folders between this machine and a running workspace (tar over the
    /// stream; `tar` is needed here and in the workspace).
    ///
    /// One side is `NAME:PATH`. When the destination is an existing folder, the source goes
    /// inside it; otherwise the destination becomes the copy.
    ///
    /// Example: cordium cp ./src x7k:/workspace/src
    Cp(OnServer<CpArgs>),
    /// Forward a local TCP port to a port, or an application, inside a workspace.
    ///
    /// Serves connections until interrupted, each over its own stream; prints `Forwarding
    /// from ADDRESS:PORT -> TARGET` once listening. LOCAL defaults to the same port number, or
    /// to any free port for an application.
    ///
    /// Example: cordium port-forward x7k 8080:web
    PortForward(OnServer<PortForwardArgs>),
    /// Print a running workspace's output (its container log: lifecycle tasks and the
    /// main process).
    ///
    /// Example: cordium logs x7k --follow
    Logs(OnServer<LogsArgs>),
    /// Connect, list or disconnect your git accounts (GitProviders). Example: cordium git status
    Git(OnServer<crate::login_args::GitArgs>),
    /// Print workspace events as they happen, one line each, until interrupted:
    /// `created NAME STATE`, `updated NAME OLD -> NEW` (or `updated NAME STATE`), `deleted NAME
    /// STATE`.
    ///
    /// Example: cordium watch x7k
    Watch(OnServer<WatchArgs>),
    /// Start a pre-build of a Template's image.
    ///
    /// Example: cordium build team.alice/python
    Build(Printed<BuildArgs>),
    /// Manage the SSH public keys that open your workspaces over SSH (ed25519 or ECDSA).
    ///
    /// Example: cordium ssh-key add ~/.ssh/id_ed25519.pub
    #[command(subcommand)]
    SshKey(SshKeyCommand),
    /// Open a workspace over SSH: runs the system `ssh` with the server's SSH port and host
    /// key (kept in `known_hosts` next to the saved login), and exits with its status.
    ///
    /// Arguments after the name go to the remote side as a command (`-- CMD...`).
    ///
    /// Example: cordium ssh x7k -- uname -a
    Ssh(OnServer<SshArgs>),
    /// Print a `Host` block for `~/.ssh/config` that reaches a workspace (for `ssh`, `scp`,
    /// `rsync`, VS Code Remote-SSH, JetBrains Gateway), and save the server's host key.
    ///
    /// Example: cordium ssh-config x7k >> ~/.ssh/config
    SshConfig(OnServer<SshConfigArgs>),
}

/// `cordium ssh-key ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum SshKeyCommand {
    /// Register a public key (a `.pub` file; `-` reads standard input) and print its id.
    ///
    /// Example: cordium ssh-key add ~/.ssh/id_ed25519.pub
    Add(OnServer<SshKeyAddArgs>),
    /// Print your keys: id, fingerprint, algorithm, comment.
    List(OnServer<NoArgs>),
    /// Remove a key by its id; SSH sessions opened with it end within seconds.
    ///
    /// Example: cordium ssh-key remove 3f9a0c12ab34
    Remove(OnServer<SshKeyRemoveArgs>),
}

/// No flags of its own.
#[derive(Debug, Args)]
pub(crate) struct NoArgs {}

/// `ssh-key add` flags.
#[derive(Debug, Args)]
pub(crate) struct SshKeyAddArgs {
    /// The public key file (`-`: standard input).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
}

/// `ssh-key remove` flags.
#[derive(Debug, Args)]
pub(crate) struct SshKeyRemoveArgs {
    /// The key's id (`cordium ssh-key list`).
    #[arg(value_name = "ID")]
    pub(crate) id: String,
}

/// `ssh` flags.
#[derive(Debug, Args)]
pub(crate) struct SshArgs {
    /// The workspace.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// The workspace's Space (checked by the server: `NAME+SPACE` is the SSH user).
    #[arg(long, value_name = "SPACE")]
    pub(crate) space: Option<String>,
    /// The private key to use (`ssh -i`); default: ssh's own choice.
    #[arg(short = 'i', long, value_name = "FILE")]
    pub(crate) identity: Option<PathBuf>,
    /// A remote command, best after `--`.
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) command: Vec<String>,
}

/// `ssh-config` flags.
#[derive(Debug, Args)]
pub(crate) struct SshConfigArgs {
    /// The workspace.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// The workspace's Space (checked by the server).
    #[arg(long, value_name = "SPACE")]
    pub(crate) space: Option<String>,
    /// The `Host` alias (default: `cordium-NAME`).
    #[arg(long, value_name = "ALIAS")]
    pub(crate) host: Option<String>,
}

/// Where the server is and who is calling; flags and environment variables override the
/// saved login.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServerArgs {
    /// The server's URL, e.g. `http://127.0.0.1:50051` (default: the saved login).
    #[arg(long, env = "CORDIUM_SERVER", value_name = "URL")]
    pub(crate) server: Option<String>,
    /// The API token (`cdm_...`, from `cordium-server user add`) or an OIDC ID token
    /// (default: the saved login).
    #[arg(
        long,
        env = "CORDIUM_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) token: Option<String>,
}

/// A server command: its own flags, then the server's.
#[derive(Debug, Args)]
pub(crate) struct OnServer<A: Args> {
    /// The command's own flags.
    #[command(flatten)]
    pub(crate) flags: A,
    /// The server.
    #[command(flatten)]
    pub(crate) server: ServerArgs,
}

/// A server command that prints a resource: its own flags, the output format, then the
/// server's.
#[derive(Debug, Args)]
pub(crate) struct Printed<A: Args> {
    /// The command's own flags.
    #[command(flatten)]
    pub(crate) flags: A,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT", default_value_t = ResourceFormat::Yaml)]
    pub(crate) output: ResourceFormat,
    /// The server.
    #[command(flatten)]
    pub(crate) server: ServerArgs,
}

/// How server commands print resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ResourceFormat {
    /// YAML documents (`list`: a stream separated by `---`).
    Yaml,
    /// JSON (`list`: an array).
    Json,
    /// Only the names, one a line.
    Name,
}

/// The type of a new UserSecret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SecretTypeArg {
    /// A value you give.
    Default,
    /// An SSH key pair the server generates; the public key is printed.
    SshKey,
}

/// `create` and `update` flags.
#[derive(Debug, Args)]
pub(crate) struct WriteArgs {
    /// The kind of resource.
    #[arg(value_name = "KIND", value_parser = ServedKind)]
    pub(crate) kind: Kind,
    /// The name, instead of the document's `metadata.name` (a Workspace's generated name, for
    /// `update`).
    #[arg(value_name = "NAME")]
    pub(crate) name: Option<String>,
    /// The document (YAML or JSON, one document); `-` reads standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// The Space of a Template, Secret, GitProvider or Workspace (default for a Workspace:
    /// your `default.<user>` Space).
    #[arg(long, value_name = "SPACE")]
    pub(crate) space: Option<String>,
    /// Workspaces: the Template (`NAME`, or `SPACE/NAME`; default: `default`).
    #[arg(long, value_name = "TEMPLATE")]
    pub(crate) template: Option<String>,
    /// Secrets and UserSecrets: read the value from this file, byte for byte.
    #[arg(long, value_name = "FILE", conflicts_with = "value_stdin")]
    pub(crate) value_from_file: Option<PathBuf>,
    /// Secrets and UserSecrets: read the value from standard input, byte for byte (a trailing
    /// newline is kept: use `printf`, not `echo`).
    #[arg(long)]
    pub(crate) value_stdin: bool,
    /// UserSecrets: the type (default: the document's `spec.type`, else `default`).
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub(crate) secret_type: Option<SecretTypeArg>,
    // No default, unlike [`Printed`]: a new SSH key pair prints its public key unless a
    // format is asked for.
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub(crate) output: Option<ResourceFormat>,
}

/// `get` and `delete` flags: one resource, by kind and name.
#[derive(Debug, Args)]
pub(crate) struct NamedArgs {
    /// The kind of resource.
    #[arg(value_name = "KIND", value_parser = ServedKind)]
    pub(crate) kind: Kind,
    /// The name (a Template may be written `SPACE/NAME`).
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// The Space of a Template, Secret or GitProvider.
    #[arg(long, value_name = "SPACE")]
    pub(crate) space: Option<String>,
}

/// `list` flags.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The kind of resource.
    #[arg(value_name = "KIND", value_parser = ServedKind)]
    pub(crate) kind: Kind,
    /// Only this Space (Templates, Workspaces, Secrets, GitProviders).
    #[arg(long, value_name = "SPACE")]
    pub(crate) space: Option<String>,
    /// Workspaces only: only those of this Template.
    #[arg(long, value_name = "TEMPLATE")]
    pub(crate) template: Option<String>,
}

/// `start` flags.
#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    /// The workspace.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// A run variable, highest precedence; repeat for more.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub(crate) vars: Vec<(String, String)>,
}

/// `stop` flags.
#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// The workspace.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// Wait until the workspace is STOPPED, showing its progress, and print it then.
    #[arg(long)]
    pub(crate) wait: bool,
}

/// `run` flags. The spec flags are applied on top of the --file document; see
/// `client::overlay` for exactly how.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// An existing workspace to run (start it if it is stopped, follow it if it is
    /// starting) instead of a new one; the spec flags, --file, --space and --template are
    /// then refused.
    #[arg(value_name = "NAME")]
    pub(crate) name: Option<String>,
    /// A Workspace document (YAML or JSON, one document) to start from; the flags below are
    /// applied on top of it. `-` reads standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// The image to pull (`spec.image.registry.url`), replacing the document's image.
    #[arg(long, value_name = "IMAGE")]
    pub(crate) image: Option<String>,
    /// The repository to clone into /workspace/repo (`spec.repository.url`).
    #[arg(long, value_name = "URL")]
    pub(crate) repository: Option<String>,
    /// The branch to clone (`spec.repository.cloneOptions.branch`).
    #[arg(short = 'b', long, value_name = "BRANCH")]
    pub(crate) branch: Option<String>,
    /// An environment variable (`spec.runtime.envVars`), replacing the document's variable
    /// of the same key; repeat for more.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = flags::key_value)]
    pub(crate) env: Vec<(String, String)>,
    /// An environment variable whose value is the Secret SECRET of the workspace's Space;
    /// repeat for more.
    #[arg(long = "env-from-secret", value_name = "KEY=SECRET", value_parser = flags::key_value)]
    pub(crate) env_from_secret: Vec<(String, String)>,
    /// An application (`spec.applications`): `PORT` (named `port-PORT`), `NAME:PORT`, or
    /// `NAME:PORT:default` for the default application; repeat for more.
    #[arg(long = "port", value_name = "[NAME:]PORT[:default]", value_parser = flags::port)]
    pub(crate) ports: Vec<Port>,
    /// A run variable for `${{ vars.NAME }}`, highest precedence; repeat for more.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub(crate) vars: Vec<(String, String)>,
    /// Make the workspace ephemeral (`spec.isEphemeral: true`): its storage is deleted on
    /// stop and every start is fresh. Without it, the document's value stands.
    #[arg(long)]
    pub(crate) ephemeral: bool,
    /// Follow the workspace until it stops (a failure, `autoStop`, `cordium stop`), then
    /// delete it; Ctrl-C deletes it at once.
    #[arg(long)]
    pub(crate) rm: bool,
    /// CPU (`spec.limit.cpu.millicores`): millicores (`1500`, `1500m`) or cores with a
    /// decimal point (`1.5`).
    #[arg(long, value_name = "CPU", value_parser = flags::cpu)]
    pub(crate) cpu: Option<u32>,
    /// Memory (`spec.limit.memory.megabytes`): megabytes (`512`, `512M`, `512Mi`) or
    /// gigabytes of 1024 megabytes (`2G`, `1.5Gi`).
    #[arg(long, value_name = "MEMORY", value_parser = flags::memory)]
    pub(crate) memory: Option<u32>,
    /// The Template (`NAME`, or `SPACE/NAME`; default: `default`).
    #[arg(long, value_name = "TEMPLATE")]
    pub(crate) template: Option<String>,
    /// The Space (default: your `default.<user>` Space).
    #[arg(long, value_name = "SPACE")]
    pub(crate) space: Option<String>,
}

/// What a session runs in: the workspace, extra environment, the working directory (`exec`
/// and `shell`).
#[derive(Debug, Args)]
pub(crate) struct SessionArgs {
    /// The workspace.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// An extra environment variable; repeat for more.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = flags::key_value)]
    pub(crate) env: Vec<(String, String)>,
    /// The working directory (default: the user's home).
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub(crate) workdir: Option<String>,
}

/// `exec` flags.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// The workspace, environment and directory.
    #[command(flatten)]
    pub(crate) session: SessionArgs,
    /// Forward standard input even when it is a terminal.
    #[arg(short = 'i', long)]
    pub(crate) interactive: bool,
    /// Run the command on a terminal.
    #[arg(short = 't', long)]
    pub(crate) tty: bool,
    /// The program and its arguments, best after `--` (everything after the program is its).
    #[arg(
        value_name = "COMMAND",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) command: Vec<String>,
}

/// `cp` flags.
#[derive(Debug, Args)]
pub(crate) struct CpArgs {
    /// What to copy: a local path, or `NAME:PATH` in a workspace.
    #[arg(value_name = "SOURCE")]
    pub(crate) source: String,
    /// Where to: a local path, or `NAME:PATH` in a workspace (the other side).
    #[arg(value_name = "DESTINATION")]
    pub(crate) destination: String,
}

/// `port-forward` flags.
#[derive(Debug, Args)]
pub(crate) struct PortForwardArgs {
    /// The workspace.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// `[LOCAL:]PORT` or `[LOCAL:]APPLICATION`.
    #[arg(value_name = "[LOCAL:]APP_OR_PORT")]
    pub(crate) target: String,
    /// The local address to listen on.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1")]
    pub(crate) address: std::net::IpAddr,
}

/// `logs` flags.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The workspace.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// Keep printing new output until the workspace stops (or Ctrl-C).
    #[arg(short = 'f', long)]
    pub(crate) follow: bool,
}

/// `watch` flags.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// Only this workspace (default: every workspace you can see).
    #[arg(value_name = "NAME")]
    pub(crate) name: Option<String>,
}

/// `build` flags.
#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// The Template, as `SPACE/TEMPLATE`.
    #[arg(value_name = "SPACE/TEMPLATE")]
    pub(crate) template: String,
    /// A tag for the built image; repeat for more (at most 10).
    #[arg(long = "tag", value_name = "TAG")]
    pub(crate) tags: Vec<String>,
}

/// Flags shared by compile and explain.
#[derive(Debug, Clone, Args)]
pub(crate) struct CompileArgs {
    /// A file to read (YAML or JSON, several documents each); `-` reads standard input.
    /// Repeat for more files: `-f space.yaml -f ws.yaml`. Their order does not matter.
    #[arg(short = 'f', long = "file", value_name = "FILE", required = true, action = clap::ArgAction::Append)]
    pub(crate) files: Vec<PathBuf>,
    /// The Workspace document found in the repository (the repository-file layer).
    #[arg(long, value_name = "FILE")]
    pub(crate) repo_file: Option<PathBuf>,
    /// A run variable, highest precedence; repeat for more.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub(crate) vars: Vec<(String, String)>,
    /// The Secrets that exist in the Space; references to others are errors.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',', num_args = 0..)]
    pub(crate) secrets: Option<Vec<String>>,
    /// The UserSecrets the user has; references to others are errors.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',', num_args = 0..)]
    pub(crate) user_secrets: Option<Vec<String>>,
    /// Compile for a pre-build (the Cluster buildLimit takes the Workspace's place).
    #[arg(long)]
    pub(crate) build: bool,
    /// Replace undefined variables with "" and warn, instead of failing.
    #[arg(long)]
    pub(crate) allow_undefined_vars: bool,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    pub(crate) message_format: MessageFormat,
}

/// `compile` flags.
#[derive(Debug, Args)]
pub(crate) struct CompileCommand {
    /// Layers and options.
    #[command(flatten)]
    pub(crate) args: CompileArgs,
    /// Output format of the EffectiveWorkspace.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Yaml)]
    pub(crate) output: OutputFormat,
}

/// Diagnostic format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MessageFormat {
    /// rustc-like text with the source line and a caret.
    Human,
    /// One JSON object per line, for editors and CI.
    Json,
}

/// Output format of the EffectiveWorkspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// `explain` flags.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// Layers and options.
    #[command(flatten)]
    pub(crate) compile: CompileArgs,
    /// Only this subtree, e.g. `spec.limit.cpu` or `spec.runtime.envVars`.
    #[arg(value_name = "FIELD_PATH")]
    pub(crate) path: Option<String>,
}

/// `validate` flags.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Files to check; `-` reads standard input.
    #[arg(value_name = "FILE", required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    pub(crate) message_format: MessageFormat,
}

/// `test` flags.
#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// The folder of cases.
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// Write the expectations from the current output instead of comparing.
    #[arg(long)]
    pub(crate) bless: bool,
}

/// `schema` flags.
#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// The kind (Workspace, Template, Space, UserConfig, ClusterConfig, Secret, UserSecret,
    /// GitProvider); none prints the schema of any kind.
    #[arg(value_name = "KIND")]
    pub(crate) kind: Option<String>,
    /// Write every schema file into this folder instead of printing.
    #[arg(long, value_name = "DIR", conflicts_with = "kind")]
    pub(crate) write: Option<PathBuf>,
}

/// `NAME=VALUE`, by the rules of `spec.vars` (a name that can be referenced, a value of at most
/// `MAX_VAR_VALUE_BYTES`); the name is not quoted back, since it may be anything.
fn parse_var(s: &str) -> Result<(String, String), String> {
    let Some((name, value)) = s.split_once('=') else {
        return Err("write NAME=VALUE".to_owned());
    };
    cordium_spec::validate::check_run_vars([(name, value)]).map_err(|e| e.problem)?;
    Ok((name.to_owned(), value.to_owned()))
}
