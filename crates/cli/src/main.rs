//! `cordium`: compile, explain, validate and golden-test workspace configuration, and manage
//! resources on a Cordium server.

#![allow(
    rustdoc::bare_urls,
    reason = "doc comments are clap help text, read in a terminal"
)]

mod args;
mod client;
mod commands;
mod exit;
mod flags;
mod input;
mod kind_arg;
mod login_args;
mod output;
mod render;

use clap::Parser as _;
use std::process::ExitCode;

/// The file commands alone (`compile`, `validate`, ...), with the global `--color`: parsed
/// without building the server commands' arguments, which is most of clap's start-up work on
/// every run of `cordium compile`.
#[derive(Debug, clap::Parser)]
#[command(name = "cordium")]
struct OfflineCli {
    #[arg(long, global = true, value_enum, default_value_t = args::ColorChoice::Auto)]
    color: args::ColorChoice,
    #[command(subcommand)]
    command: args::OfflineCommand,
}

/// The command line. A file command is parsed by [`OfflineCli`]; anything it refuses (and
/// `--help`, `--version`) is parsed again by the whole [`args::Cli`], so errors, help and
/// versions read exactly as they always did.
fn parse() -> Result<args::Cli, clap::Error> {
    if names_a_file_command()
        && let Ok(offline) = OfflineCli::try_parse()
    {
        return Ok(args::Cli {
            color: offline.color,
            command: args::Command::Offline(offline.command),
        });
    }
    args::Cli::try_parse()
}

/// Whether the first argument other than `--color [WHEN]` names a file command.
fn names_a_file_command() -> bool {
    let mut arguments = std::env::args_os().skip(1);
    while let Some(argument) = arguments.next() {
        match argument.to_str() {
            Some("--color") => {
                arguments.next();
            }
            Some(a) if a.starts_with("--color=") => {}
            Some(a) => return <args::OfflineCommand as clap::Subcommand>::has_subcommand(a),
            None => return false,
        }
    }
    false
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 2,
            });
        }
    };
    let mut out = output::Output::new(cli.color);
    let status = match cli.command {
        args::Command::Offline(command) => commands::run(command, &mut out),
        args::Command::Server(command) => client::run(command, &mut out),
    };
    match out.finish() {
        Ok(()) => ExitCode::from(status as u8),
        // A closed pipe (`cordium compile ... | head -1`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(status as u8),
        Err(e) => {
            eprintln!("error: cannot write output: {e}");
            ExitCode::from(1)
        }
    }
}
