//! `cordium logs`, and the end of a workspace's log that a failure explanation shows.

use super::connect::{Client, client};
use super::error::ClientError;
use super::interrupt::each_until_interrupted;
use crate::args::{LogsArgs, OnServer};
use crate::output::Output;
use cordium_api as pb;

/// `cordium logs NAME [--follow]`: the workspace's container log, chunk by chunk, to standard
/// output as it is; with `--follow`, until the workspace stops, the reader goes away or
/// Ctrl-C.
pub(super) async fn logs(
    command: &OnServer<LogsArgs>,
    out: &mut Output,
) -> Result<(), ClientError> {
    let args = &command.flags;
    let mut client = client(&command.server).await?;
    let request = pb::WorkspaceLogsRequest {
        name: args.name.clone(),
        follow: args.follow,
    };
    let answer = client.api.workspace_logs(request).await;
    let mut stream = client.answer(answer)?;
    let done = each_until_interrupted(&mut stream, |chunk| {
        out.out_raw(&chunk.data);
        !out.is_closed()
    })
    .await;
    done.map_err(|status| client.error(status))
}

/// Collects the last `lines` lines of a workspace's log as it is now, giving up after
/// `within` (the log goes when the container does); `None` when it cannot be read.
pub(crate) async fn log_tail(
    client: &mut Client,
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
