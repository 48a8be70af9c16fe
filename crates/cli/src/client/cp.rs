//! `cordium cp`: files and folders both ways, as a tar archive over one ExecStream session
//! (`tar c` on one side, `tar x` on the other; a local `tar` and one in the workspace).
//!
//! As `cp -r` does: when the destination is an existing folder, the source goes inside it
//! under its own name; otherwise the destination becomes the copy. A copy out of a workspace
//! is extracted into a folder of its own beside its place, checked, then put in place
//! ([`super::received`]: the archive comes from the workspace, which may be hostile).

use super::connect::client;
use super::error::ClientError;
use super::exec::exit_code;
use super::received;
use super::session::{self, Ended, Sink};
use super::terminal;
use crate::args::{CpArgs, OnServer};
use crate::output::Output;
use cordium_api as pb;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::Command;

/// Extracts standard input at `$1`, the archive's one entry being `./$2`.
const EXTRACT: &str = r#"d=$1; n=$2
if [ -d "$d" ]; then exec tar x -C "$d"; fi
p=$(dirname "$d"); mkdir -p "$p" || exit 1
t=$(mktemp -d "$p/.cordium-cp.XXXXXX") || exit 1
if tar x -C "$t" && rm -rf "$d" && mv "$t/$n" "$d"; then rmdir "$t"; else rm -rf "$t"; exit 1; fi"#;

/// Archives `$1` (as `./NAME`) on standard output.
const ARCHIVE: &str = r#"cd "$(dirname "$1")" && exec tar c "./$(basename "$1")""#;

/// One side of a copy.
#[derive(Debug, PartialEq, Eq)]
enum Side {
    Local(PathBuf),
    Remote { name: String, path: String },
}

/// `NAME:PATH` (NAME without `/`) is in a workspace; anything else is local.
fn side(text: &str) -> Side {
    match text.split_once(':') {
        Some((name, path)) if !name.is_empty() && !name.contains('/') && !path.is_empty() => {
            Side::Remote {
                name: name.to_owned(),
                path: path.to_owned(),
            }
        }
        _ => Side::Local(PathBuf::from(text)),
    }
}

fn local_error(what: &str, e: impl std::fmt::Display) -> ClientError {
    ClientError::Usage(format!("{what}: {e}"))
}

/// The folder holding `path` and its last component.
fn split(path: &Path) -> Result<(PathBuf, String), ClientError> {
    let path =
        std::fs::canonicalize(path).map_err(|e| local_error(&path.display().to_string(), e))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| ClientError::Usage(format!("cannot copy `{}`", path.display())))?
        .to_owned();
    let parent = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    Ok((parent, name))
}

fn tar() -> Command {
    let mut tar = Command::new("tar");
    tar.kill_on_drop(true).stderr(Stdio::inherit());
    tar
}

/// `cordium cp SOURCE DESTINATION`. See the [module docs](self).
pub(super) async fn cp(command: &OnServer<CpArgs>, out: &mut Output) -> Result<i32, ClientError> {
    let args = &command.flags;
    let mut err = |data: &[u8]| out.err_raw(data);
    match (side(&args.source), side(&args.destination)) {
        (Side::Local(source), Side::Remote { name, path }) => {
            let (parent, base) = split(&source)?;
            let mut archive = tar()
                .arg("c")
                .arg("-C")
                .arg(&parent)
                .arg(format!("./{base}"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| local_error("tar", e))?;
            let stdout = archive
                .stdout
                .take()
                .ok_or_else(|| local_error("tar", "no output"))?;
            let open = open(name, EXTRACT, vec![path, base]);
            let mut client = client(&command.server).await?;
            let ended = session::run(
                &mut client,
                open,
                Some(terminal::reader_chunks(stdout)),
                Sink::Writer(Box::new(tokio::io::sink())),
                &mut err,
            )
            .await?;
            let local = archive.wait().await.map_err(|e| local_error("tar", e))?;
            finish(ended, local.success())
        }
        (Side::Remote { name, path }, Side::Local(destination)) => {
            let base = Path::new(&path)
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    ClientError::Usage(format!("`{path}`: name a file or folder to copy"))
                })?
                .to_owned();
            // As `cp -r`: into an existing folder under its own name, else as the destination.
            let target = if destination.is_dir() {
                destination.join(&base)
            } else {
                destination.clone()
            };
            let staging = received::staging_beside(&target)
                .map_err(|e| local_error(&target.display().to_string(), e))?;
            let received = receive(command, name, path, &staging, &base, &mut err).await;
            let placed = match received {
                Ok(0) => put_in_place(&staging.join(&base), &target, out),
                other => other,
            };
            let _ = std::fs::remove_dir_all(&staging);
            placed
        }
        _ => Err(ClientError::Usage(
            "one side of `cordium cp` is NAME:PATH in a workspace, the other a local path".into(),
        )),
    }
}

/// Streams `path` of workspace `name` as an archive into the local `tar`, which extracts
/// only its entry `./BASE` into `staging` ([`received::extract_args`]); the copy's exit code.
async fn receive(
    command: &OnServer<CpArgs>,
    name: String,
    path: String,
    staging: &Path,
    base: &str,
    err: &mut impl FnMut(&[u8]),
) -> Result<i32, ClientError> {
    let mut extract = tar()
        .args(received::extract_args(staging, base))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| local_error("tar", e))?;
    let stdin = extract
        .stdin
        .take()
        .ok_or_else(|| local_error("tar", "no input"))?;
    let open = open(name, ARCHIVE, vec![path]);
    let mut client = client(&command.server).await?;
    let ended = session::run(&mut client, open, None, Sink::Writer(Box::new(stdin)), err).await;
    let local = extract.wait().await.map_err(|e| local_error("tar", e))?;
    finish(ended?, local.success())
}

/// Checks the extracted `copy` ([`received::sanitize`], naming what it removed) and puts it
/// at `target`.
fn put_in_place(copy: &Path, target: &Path, out: &mut Output) -> Result<i32, ClientError> {
    let shown = target.display().to_string();
    let removed = received::sanitize(copy).map_err(|e| local_error(&shown, e))?;
    for what in &removed {
        out.err(&crate::output::visible(&format!(
            "cordium cp: left out {what}\n"
        )));
    }
    received::place(copy, target).map_err(|e| local_error(&shown, e))?;
    Ok(0)
}

/// The session running `script` with `args` in workspace `name`.
fn open(name: String, script: &str, args: Vec<String>) -> pb::ExecStreamOpen {
    let mut command = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        script.to_owned(),
        "cordium-cp".to_owned(),
    ];
    command.extend(args);
    pb::ExecStreamOpen {
        name,
        command,
        ..pb::ExecStreamOpen::default()
    }
}

/// The exit code of a copy: the workspace side's, else 1 when the local `tar` failed.
fn finish(ended: Ended, local_ok: bool) -> Result<i32, ClientError> {
    match ended {
        Ended::Exit(0) if !local_ok => Ok(1),
        Ended::Exit(code) => Ok(exit_code(code)),
        Ended::Stopped(code) => Ok(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_with_a_name_before_the_colon_is_in_a_workspace() {
        assert_eq!(
            side("x7k:/workspace/a"),
            Side::Remote {
                name: "x7k".into(),
                path: "/workspace/a".into()
            }
        );
        assert_eq!(side("./a:b"), Side::Local("./a:b".into()));
        assert_eq!(side("file"), Side::Local("file".into()));
        assert_eq!(side(":x"), Side::Local(":x".into()));
    }
}
