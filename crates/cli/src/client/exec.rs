//! `cordium exec` and `cordium logs`: a running workspace's commands and output.

use super::ClientError;
use super::resources::client;
use crate::args::{ExecArgs, LogsArgs};
use crate::output::Output;
use cordium_api as pb;

/// The exit code `cordium exec` passes on: the command's when it is one a process can have
/// (0 to 255), else 255 (e.g. -1: the command could not be run at all).
pub(super) fn exit_code(code: i32) -> i32 {
    if (0..=255).contains(&code) { code } else { 255 }
}

/// `cordium exec NAME [-e KEY=VALUE]... [-w DIR] -- COMMAND...`: runs the command
/// (ExecWorkspace, not interactive), writes its standard output and standard error to ours
/// byte for byte, and returns its exit code.
pub(super) async fn exec(args: &ExecArgs, out: &mut Output) -> Result<i32, ClientError> {
    let mut client = client(&args.server).await?;
    let request = pb::ExecWorkspaceRequest {
        name: args.name.clone(),
        command: args.command.clone(),
        env: args.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        working_dir: args.workdir.clone().unwrap_or_default(),
    };
    let response = client
        .api
        .exec_workspace(request)
        .await
        .map_err(|e| client.error(e))?
        .into_inner();
    out.out_raw(&response.stdout);
    out.err_raw(&response.stderr);
    Ok(exit_code(response.exit_code))
}

/// `cordium logs NAME [--follow]`: the workspace's container log, chunk by chunk, to standard
/// output as it is; with `--follow`, until the workspace stops, the reader goes away or
/// Ctrl-C.
pub(super) async fn logs(args: &LogsArgs, out: &mut Output) -> Result<(), ClientError> {
    let mut client = client(&args.server).await?;
    let request = pb::WorkspaceLogsRequest {
        name: args.name.clone(),
        follow: args.follow,
    };
    let mut stream = client
        .api
        .workspace_logs(request)
        .await
        .map_err(|e| client.error(e))?
        .into_inner();
    let done = super::workspaces::each_until_interrupted(&mut stream, |chunk| {
        out.out_raw(&chunk.data);
        !out.is_closed()
    })
    .await;
    done.map_err(|status| client.error(status))
}

/// Collects the last `lines` lines of a workspace's log as it is now, giving up after
/// `within` (the log goes when the container does); `None` when it cannot be read.
pub(super) async fn log_tail(
    client: &mut super::connect::Client,
    name: &str,
    lines: usize,
    within: std::time::Duration,
) -> Option<Vec<String>> {
    let read = async {
        let request = pb::WorkspaceLogsRequest {
            name: name.to_owned(),
            follow: false,
        };
        let mut stream = client.api.workspace_logs(request).await.ok()?.into_inner();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.message().await.ok()? {
            bytes.extend(chunk.data);
            // Keep memory bounded on a chatty workspace: only the end matters.
            if bytes.len() > 1 << 20 {
                bytes.drain(..bytes.len() - (1 << 19));
            }
        }
        Some(bytes)
    };
    let bytes = tokio::time::timeout(within, read).await.ok()??;
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    Some(all[start..].iter().map(|l| (*l).to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_a_process_can_have_pass_through() {
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(3), 3);
        assert_eq!(exit_code(255), 255);
        assert_eq!(exit_code(-1), 255);
        assert_eq!(exit_code(256), 255);
    }
}
