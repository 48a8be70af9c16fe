//! The commands that talk to a Cordium server over gRPC: `login`, `create`, `get`, `list`,
//! `update`, `delete`, `start`, `stop`, `watch` and `build`, and the ones that run
//! workspaces: `run`, `exec`, `shell`, `cp`, `port-forward` and `logs`.
//!
//! Only these commands start an async runtime (one thread), and only once their arguments and
//! files have been checked, so the offline commands pay nothing for the client.
//!
//! The modules import each other without circles: [`error`] and the wire helpers at the
//! bottom; the connection; each kind described once ([`kinds`]) under the commands written
//! once over it ([`resources`]); following a workspace ([`follow`]) under the workspace
//! commands; `run`, which uses the most, at the top; and this module, which only dispatches.

mod applications;
mod config;
mod connect;
mod cp;
mod document;
mod error;
mod exec;
mod failure;
mod follow;
mod forward;
mod git;
mod interrupt;
mod kinds;
mod login;
mod logs;
mod overlay;
mod print;
mod progress;
mod received;
mod resources;
mod run;
mod scope;
mod session;
mod sign_in;
mod ssh;
mod terminal;
mod value;
mod wire;
mod workspaces;

use crate::args::ServerCommand;
use crate::exit::{OK, USAGE};
use crate::output::Output;
use error::ClientError;
use resources::Verb;

/// Runs a server command and returns its exit code.
pub(crate) fn run(command: ServerCommand, out: &mut Output) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            out.err(&format!("error: cannot start the network runtime: {e}\n"));
            return USAGE;
        }
    };
    let result = runtime.block_on(dispatch(command, out));
    match result {
        Ok(code) => code,
        Err(e) => error::report(e, out),
    }
}

/// Runs a command; `Ok` holds its exit code (`exec` passes on the command's, `run` exits
/// with 1 after explaining a failed start).
async fn dispatch(command: ServerCommand, out: &mut Output) -> Result<i32, ClientError> {
    let done = match command {
        ServerCommand::Run(args) => return run::run(&args, out).await,
        ServerCommand::Exec(args) => return exec::exec(&args, out).await,
        ServerCommand::Shell(args) => return exec::shell(&args, out).await,
        ServerCommand::Cp(args) => return cp::cp(&args, out).await,
        ServerCommand::PortForward(args) => forward::port_forward(&args, out).await,
        ServerCommand::Logs(args) => logs::logs(&args, out).await,
        ServerCommand::Git(args) => git::git(&args, out).await,
        ServerCommand::Login(args) => login::login(&args, out).await,
        ServerCommand::Create(args) => resources::run(Verb::Create(&args), out).await,
        ServerCommand::Get(args) => resources::run(Verb::Get(&args), out).await,
        ServerCommand::List(args) => resources::run(Verb::List(&args), out).await,
        ServerCommand::Update(args) => resources::run(Verb::Update(&args), out).await,
        ServerCommand::Delete(args) => resources::run(Verb::Delete(&args), out).await,
        ServerCommand::Start(args) => workspaces::start(&args, out).await,
        ServerCommand::Stop(args) => workspaces::stop(&args, out).await,
        ServerCommand::Watch(args) => workspaces::watch(&args, out).await,
        ServerCommand::Build(args) => workspaces::build(&args, out).await,
        ServerCommand::SshKey(command) => ssh::key(&command, out).await,
        ServerCommand::Ssh(args) => return ssh::ssh(&args, out).await,
        ServerCommand::SshConfig(args) => ssh::config(&args, out).await,
    };
    done.map(|()| OK)
}
