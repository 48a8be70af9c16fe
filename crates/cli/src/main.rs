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

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
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
