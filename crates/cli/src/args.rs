//! The command line, declared with clap.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Compile, explain, validate and golden-test Cordium workspace configuration.
///
/// Exit codes: 0 success, 1 invalid input, 2 usage error (bad flags, unreadable files).
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

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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

fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}
