//! The workspace commands: `start`, `stop`, `watch`, and `build` (a Template's pre-build).

use super::connect::client;
use super::error::ClientError;
use super::follow::{End, Target, follow};
use super::interrupt::{Interrupt, each_until_interrupted};
use super::print::print_one;
use super::progress::Progress;
use super::wire::state_name;
use crate::args::{BuildArgs, OnServer, Printed, StartArgs, StopArgs, WatchArgs};
use crate::output::Output;
use cordium_api as pb;

/// `--var NAME=VALUE` pairs as the API's run variables.
pub(super) fn run_vars(vars: &[(String, String)]) -> Vec<pb::Var> {
    vars.iter()
        .map(|(name, value)| pb::Var {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

/// `cordium start NAME [--var NAME=VALUE]...`.
pub(super) async fn start(
    command: &Printed<StartArgs>,
    out: &mut Output,
) -> Result<(), ClientError> {
    let args = &command.flags;
    let vars = run_vars(&args.vars);
    let mut client = client(&command.server).await?;
    let request = pb::StartWorkspaceRequest {
        name: args.name.clone(),
        vars,
    };
    let answer = client.api.start_workspace(request).await;
    let ws = client.answer(answer)?;
    print_one(out, command.output, &ws);
    Ok(())
}

/// `cordium stop NAME [--wait]`: asks for the stop and prints the workspace as it is then
/// (`STOPPING_REQUEST`). With `--wait`, follows it with progress lines on standard error
/// until it is `STOPPED` and prints it then; Ctrl-C stops waiting (the stop goes on).
pub(super) async fn stop(command: &Printed<StopArgs>, out: &mut Output) -> Result<(), ClientError> {
    let args = &command.flags;
    let mut client = client(&command.server).await?;
    // Opened before the stop is asked for, so the end cannot be missed.
    let mut events = if args.wait {
        let request = pb::WatchWorkspaceRequest {
            name: args.name.clone(),
            ..Default::default()
        };
        let answer = client.api.watch_workspace(request).await;
        let stream = client.answer(answer)?;
        Some((stream, Interrupt::listen()))
    } else {
        None
    };
    let request = pb::StopWorkspaceRequest {
        name: args.name.clone(),
    };
    let answer = client.api.stop_workspace(request).await;
    let ws = client.answer(answer)?;
    let Some((stream, interrupt)) = events.as_mut() else {
        print_one(out, command.output, &ws);
        return Ok(());
    };
    let mut progress = Progress::for_stderr();
    progress.enter(out, ws.status.as_ref().map_or(0, |s| s.state));
    let target = Target {
        name: &args.name,
        until: pb::WorkspaceState::Stopped,
        tail_on_failure: false,
    };
    match follow(&mut client, stream, &target, interrupt, &mut progress, out)
        .await?
        .end
    {
        End::Reached(ws) | End::Stopped(ws) => {
            progress.settle(out);
            print_one(out, command.output, ws.as_ref());
            Ok(())
        }
        End::Deleted => Err(ClientError::Input(format!(
            "workspace {} was deleted while stopping",
            args.name
        ))),
        End::Interrupted => {
            out.err(&format!(
                "stopped waiting; workspace {} goes on stopping\n",
                args.name
            ));
            Ok(())
        }
    }
}

/// `cordium build SPACE/TEMPLATE`.
pub(super) async fn build(
    command: &Printed<BuildArgs>,
    out: &mut Output,
) -> Result<(), ClientError> {
    let args = &command.flags;
    match args.template.split_once('/') {
        Some((space, name)) if !space.is_empty() && !name.is_empty() => {}
        _ => {
            return Err(ClientError::Usage(format!(
                "`{}`: write the Template as SPACE/TEMPLATE",
                args.template
            )));
        }
    }
    let mut client = client(&command.server).await?;
    let request = pb::BuildTemplateRequest {
        name: args.template.clone(),
        tags: args.tags.clone(),
    };
    let answer = client.api.build_template(request).await;
    let template = client.answer(answer)?;
    print_one(out, command.output, &template);
    Ok(())
}

/// The name as a server sent it, shown rather than obeyed by the terminal.
fn workspace_name(ws: &pb::Workspace) -> std::borrow::Cow<'_, str> {
    crate::output::visible(ws.metadata.as_ref().map_or("", |m| m.name.as_str()))
}

fn state(ws: &pb::Workspace) -> &'static str {
    state_name(ws.status.as_ref().map_or(0, |s| s.state))
}

/// One event as a line: `created NAME STATE`, `updated NAME OLD -> NEW` (or `updated NAME
/// STATE` when the state did not change), `deleted NAME STATE`.
pub(crate) fn event_line(event: &pb::WorkspaceEvent) -> Option<String> {
    use pb::workspace_event::Event;
    Some(match event.event.as_ref()? {
        Event::Created(ws) => format!("created {} {}", workspace_name(ws), state(ws)),
        Event::Deleted(ws) => format!("deleted {} {}", workspace_name(ws), state(ws)),
        Event::Updated(update) => {
            let old = update.old.clone().unwrap_or_default();
            let new = update.new.clone().unwrap_or_default();
            let name = if workspace_name(&new).is_empty() {
                workspace_name(&old)
            } else {
                workspace_name(&new)
            };
            if state(&old) == state(&new) {
                format!("updated {name} {}", state(&new))
            } else {
                format!("updated {name} {} -> {}", state(&old), state(&new))
            }
        }
    })
}

/// `cordium watch [NAME]`: one line per event, until interrupted or the server ends the
/// stream.
pub(super) async fn watch(
    command: &OnServer<WatchArgs>,
    out: &mut Output,
) -> Result<(), ClientError> {
    let name = command.flags.name.clone().unwrap_or_default();
    let mut client = client(&command.server).await?;
    let request = pb::WatchWorkspaceRequest {
        name: name.clone(),
        ..Default::default()
    };
    let answer = client.api.watch_workspace(request).await;
    let mut stream = client.answer(answer)?;
    let what = if name.is_empty() {
        "every workspace you can see".to_owned()
    } else {
        format!("workspace {name}")
    };
    out.err(&format!(
        "watching {what} on {} (Ctrl-C to stop)\n",
        client.server
    ));
    let done = each_until_interrupted(&mut stream, |event| {
        if let Some(line) = event_line(&event) {
            out.out(&(line + "\n"));
            out.flush();
        }
        // Nobody reads any more (`cordium watch | head -1`).
        !out.is_closed()
    })
    .await;
    done.map_err(|status| client.error(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_from_a_hostile_server_is_shown_not_obeyed() {
        let workspace = pb::Workspace {
            metadata: Some(pb::Metadata {
                name: "n1\rOVER \u{1b}[2J".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let event = pb::WorkspaceEvent {
            event: Some(pb::workspace_event::Event::Created(workspace)),
            ..Default::default()
        };
        let line = event_line(&event).expect("a line");
        assert!(line.starts_with("created n1␍OVER ␛[2J "), "{line:?}");
    }
}
