//! `cordium run`: create a workspace, start it, and follow it until it runs.
//!
//! 1. The spec: the `--file` document (checked like `cordium create -f`), with the spec flags
//!    applied on top ([`super::overlay`]); when flags were given, the result is checked
//!    again, the same way, before anything is sent.
//! 2. CreateWorkspace (in `--space`/`--template`, else the server's defaults), then
//!    WatchWorkspace for the new name, *then* StartWorkspace with the `--var` values, so no
//!    state is missed.
//! 3. One progress line per state ([`super::progress`]) until `RUNNING`: the name goes to
//!    standard output (`ws=$(cordium run ...)`), what to do next to standard error, exit 0.
//!    If the workspace stops first, the failure is explained ([`super::failure`]), exit 1.
//!
//! `--rm`: after `RUNNING`, keep following until the workspace stops (its tasks are done
//! with `autoStop`, someone runs `cordium stop`, or it fails), then delete it; the exit code
//! is 1 if it failed. Any error after the workspace was created deletes it too.
//!
//! `cordium run NAME` runs an existing workspace instead: started if it is STOPPED, followed
//! if it is starting, reported at once if it is RUNNING, refused while it is stopping (as
//! upstream's `run NAME`); `--var` and `--rm` apply, the spec flags do not, and an error
//! leaves the workspace alone.
//!
//! Ctrl-C stops following and exits with 130 (pressed before the start was asked for, the
//! workspace is not started). Without `--rm` the workspace is left as it is
//! (still starting, or running) and the command that stops it is printed; with `--rm` it is
//! deleted at once (deleting removes its container and volume without running PRE_STOP
//! tasks).

use super::connect::{Client, client};
use super::document::{self, Input};
use super::error::ClientError;
use super::failure;
use super::follow::{End, Target, follow};
use super::interrupt::Interrupt;
use super::kinds::{ServerResource as _, new_workspace_status};
use super::progress::Progress;
use super::wire::{json_into_struct, state_name, struct_to_json};
use crate::args::{OnServer, RunArgs, ServerArgs};
use crate::exit::{INVALID, OK};
use crate::output::Output;
use cordium_api as pb;
use cordium_spec::Kind;
use serde_json::{Map, Value as Json};

/// The exit code after Ctrl-C (128 + SIGINT), as shells report it.
const INTERRUPTED: i32 = 130;

/// `cordium run [NAME] [flags]`. See the [module docs](self).
pub(super) async fn run(command: &OnServer<RunArgs>, out: &mut Output) -> Result<i32, ClientError> {
    let args = &command.flags;
    if let Some(name) = &args.name {
        return run_existing(args, &command.server, name, out).await;
    }
    let input = workspace(args, out)?;
    let status = new_workspace_status(args.template.as_deref(), args.space.as_deref(), &input)?;
    let request = pb::Workspace {
        metadata: Some(input.metadata),
        spec: input.spec,
        status: Some(status),
    };
    let mut client = client(&command.server).await?;
    // From here on Ctrl-C is ours: it must not kill the command between creating the
    // workspace and following it.
    let mut interrupt = Interrupt::listen();
    let answer = pb::Workspace::create(&mut client.api, request).await;
    let created = client.answer(answer)?;
    let name = created
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let status = created.status.unwrap_or_default();
    let mut progress = Progress::for_stderr();
    progress.note(
        out,
        &format!(
            "created workspace {name} (Space {}, Template {})",
            status.space, status.template
        ),
    );
    let result = start_and_follow(
        &mut client,
        args,
        &name,
        false,
        &mut interrupt,
        &mut progress,
        out,
    )
    .await;
    if args.rm && result.is_err() {
        delete(&mut client, &name, &mut progress, out).await;
    }
    result
}

/// `cordium run NAME`: an existing workspace, started if it is stopped, followed if it is
/// starting, reported if it is running; refused while it is stopping. The spec flags,
/// `--file`, `--space` and `--template` belong to a new workspace and are refused.
async fn run_existing(
    args: &RunArgs,
    server: &ServerArgs,
    name: &str,
    out: &mut Output,
) -> Result<i32, ClientError> {
    let spec_flags = super::overlay::apply(&mut Map::new(), args);
    if spec_flags || args.file.is_some() || args.space.is_some() || args.template.is_some() {
        return Err(ClientError::Usage(format!(
            "`cordium run {name}` runs the existing workspace as it is; --file, --space, --template and the spec flags make a new one (leave NAME out), and `cordium update workspace` changes an existing one"
        )));
    }
    let mut client = client(server).await?;
    let mut interrupt = Interrupt::listen();
    let mut progress = Progress::for_stderr();
    // An error leaves an existing workspace alone, even with --rm: the command may have
    // been refused before it did anything.
    start_and_follow(
        &mut client,
        args,
        name,
        true,
        &mut interrupt,
        &mut progress,
        out,
    )
    .await
}

/// Reads `--file` (if any) and applies the spec flags; checks the result like `create` does.
fn workspace(args: &RunArgs, out: &mut Output) -> Result<Input, ClientError> {
    let mut input = match &args.file {
        Some(path) => document::read(path, Kind::Workspace, out)?,
        None => Input::default(),
    };
    let mut spec = match input.spec.as_deref().map(struct_to_json) {
        Some(Json::Object(map)) => map,
        _ => Map::new(),
    };
    if !super::overlay::apply(&mut spec, args) {
        input.spec.get_or_insert_with(Default::default);
        return Ok(input);
    }
    // The document as sent, checked as a whole: the flags' values meet the same rules as
    // a document's (name shapes, ranges, one default application, ...).
    let mut metadata = Map::new();
    if !input.metadata.name.is_empty() {
        metadata.insert("name".into(), Json::String(input.metadata.name.clone()));
    }
    let document = serde_json::json!({
        "apiVersion": cordium_spec::API_VERSION,
        "kind": Kind::Workspace.as_str(),
        "metadata": metadata,
        "spec": spec,
    });
    let text = serde_json::to_string_pretty(&document).unwrap_or_default();
    let source = match &input.file {
        file if file.is_empty() => "the `cordium run` flags".to_owned(),
        file => format!("{file} with the `cordium run` flags"),
    };
    let checked = document::parse(source, text, Kind::Workspace, out)?;
    input.spec = checked
        .spec
        .or_else(|| Some(json_into_struct(Json::Object(spec)).into()));
    Ok(input)
}

/// Watches, starts (a new workspace, or an `existing` one that is stopped) and follows
/// `name`; returns the exit code.
async fn start_and_follow(
    client: &mut Client,
    args: &RunArgs,
    name: &str,
    existing: bool,
    interrupt: &mut Interrupt,
    progress: &mut Progress,
    out: &mut Output,
) -> Result<i32, ClientError> {
    let answer = client
        .api
        .watch_workspace(pb::WatchWorkspaceRequest {
            name: name.to_owned(),
            ..Default::default()
        })
        .await;
    let mut stream = client.answer(answer)?;
    let state = if existing {
        current_state(client, args, name).await?
    } else {
        pb::WorkspaceState::Stopped
    };
    // Ctrl-C while the workspace was being created: do not start it.
    if interrupt.was_pressed() {
        progress.abandon(out);
        return ended(client, args, name, End::Interrupted, None, progress, out).await;
    }
    if state == pb::WorkspaceState::Stopped {
        let vars = super::workspaces::run_vars(&args.vars);
        let answer = client
            .api
            .start_workspace(pb::StartWorkspaceRequest {
                name: name.to_owned(),
                vars,
            })
            .await;
        let started = client.answer(answer)?;
        if let Some(status) = &started.status {
            progress.enter(out, status.state);
        }
    } else {
        progress.enter(out, state as i32);
    }
    if state != pb::WorkspaceState::Running {
        let target = Target {
            name,
            until: pb::WorkspaceState::Running,
            tail_on_failure: true,
        };
        let followed = follow(client, &mut stream, &target, interrupt, progress, out).await?;
        match followed.end {
            End::Reached(_) => {}
            end => return ended(client, args, name, end, followed.log_tail, progress, out).await,
        }
    }
    progress.settle(out);
    let ready = super::progress::seconds(progress.total());
    out.out(&format!("{name}\n"));
    out.flush();
    if !args.rm {
        out.err(&format!(
            "workspace {name} is running (ready in {ready}); next:\n  cordium exec {name} -- sh -c 'echo hello'\n  cordium logs {name}\n  cordium stop {name}\n"
        ));
        return Ok(OK);
    }
    out.err(&format!(
        "workspace {name} is running (ready in {ready}); following it until it stops, then deleting it (Ctrl-C deletes it now)\n"
    ));
    let target = Target {
        name,
        until: pb::WorkspaceState::Stopped,
        tail_on_failure: true,
    };
    let followed = follow(client, &mut stream, &target, interrupt, progress, out).await?;
    let end = match followed.end {
        End::Reached(ws) => End::Stopped(ws),
        end => end,
    };
    ended(client, args, name, end, followed.log_tail, progress, out).await
}

/// The state of existing workspace `name`, refusing the ones `run NAME` cannot take on: a
/// stopping workspace, and run variables for one that has already started.
async fn current_state(
    client: &mut Client,
    args: &RunArgs,
    name: &str,
) -> Result<pb::WorkspaceState, ClientError> {
    let request = pb::Ref {
        name: name.to_owned(),
        ..Default::default()
    };
    let answer = client.api.get_workspace(request).await;
    let ws = client.answer(answer)?;
    let state = ws.status.unwrap_or_default().state();
    match state {
        pb::WorkspaceState::Stopped => {}
        pb::WorkspaceState::StoppingRequest | pb::WorkspaceState::Stopping => {
            return Err(ClientError::Input(format!(
                "workspace {name} is stopping; run it once it is STOPPED (`cordium stop {name} --wait` waits for that)"
            )));
        }
        _ if !args.vars.is_empty() => {
            return Err(ClientError::Usage(format!(
                "workspace {name} has already started ({}); --var applies when it starts",
                state.as_str_name()
            )));
        }
        _ => {}
    }
    Ok(state)
}

/// Handles the end of a follow other than reaching RUNNING; returns the exit code.
async fn ended(
    client: &mut Client,
    args: &RunArgs,
    name: &str,
    end: End,
    log_tail: Option<Vec<String>>,
    progress: &mut Progress,
    out: &mut Output,
) -> Result<i32, ClientError> {
    match end {
        End::Interrupted if args.rm => {
            delete(client, name, progress, out).await;
            Ok(INTERRUPTED)
        }
        End::Interrupted => {
            out.err(&format!(
                "stopped following workspace {name}; it goes on (`cordium watch {name}` follows it, `cordium stop {name}` stops it)\n"
            ));
            Ok(INTERRUPTED)
        }
        End::Deleted => Err(ClientError::Input(format!("workspace {name} was deleted"))),
        End::Stopped(ws) | End::Reached(ws) => {
            progress.settle(out);
            let status = ws.status.unwrap_or_default();
            let code = match &status.failure {
                Some(f) => {
                    out.err(&crate::output::visible(&failure::explain(
                        name,
                        f,
                        log_tail.as_deref(),
                        !args.rm,
                    )));
                    INVALID
                }
                // `--rm`: stopping is how a run ends.
                None if args.rm => OK,
                None => {
                    out.err(&format!(
                        "error: workspace {name} stopped before it was running (state {}); was it stopped by someone?\n",
                        state_name(status.state)
                    ));
                    INVALID
                }
            };
            if args.rm {
                delete(client, name, progress, out).await;
            }
            Ok(code)
        }
    }
}

/// Deletes the workspace (best effort: a failure is reported, and does not change the exit
/// code, which is about the run).
async fn delete(client: &mut Client, name: &str, progress: &mut Progress, out: &mut Output) {
    let request = pb::Ref {
        name: name.to_owned(),
        ..Default::default()
    };
    match client.api.delete_workspace(request).await {
        Ok(_) => progress.note(out, &format!("deleted workspace {name}")),
        Err(status) => out.err(&format!(
            "warning: workspace {name} could not be deleted: {:?}: {}; delete it with `cordium delete workspace {name}`\n",
            status.code(),
            status.message()
        )),
    }
}
