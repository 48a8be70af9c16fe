//! `cordium cp`: files and folders both ways, as a tar archive over one ExecStream session
//! (`tar c` on one side, `tar x` on the other; a local `tar` and one in the workspace).
//!
//! As `cp -r` does: when the destination is an existing folder, the source goes inside it
//! under its own name; otherwise the destination becomes the copy (extracted into a
//! temporary folder beside it, then renamed into place).

use super::connect::client;
use super::error::ClientError;
use super::exec::exit_code;
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
            let (target, temporary) = extraction(&destination)?;
            let mut extract = tar()
                .arg("x")
                .arg("-C")
                .arg(&target)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| local_error("tar", e))?;
            let stdin = extract
                .stdin
                .take()
                .ok_or_else(|| local_error("tar", "no input"))?;
            let base = Path::new(&path)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let open = open(name, ARCHIVE, vec![path]);
            let mut client = client(&command.server).await?;
            let ended = session::run(
                &mut client,
                open,
                None,
                Sink::Writer(Box::new(stdin)),
                &mut err,
            )
            .await;
            let local = extract.wait().await.map_err(|e| local_error("tar", e))?;
            let code = finish(ended?, local.success())?;
            if let Some(temporary) = temporary {
                let placed = if code == 0 {
                    std::fs::rename(temporary.join(&base), &destination)
                } else {
                    Ok(())
                };
                let _ = std::fs::remove_dir_all(&temporary);
                placed.map_err(|e| local_error(&destination.display().to_string(), e))?;
            }
            Ok(code)
        }
        _ => Err(ClientError::Usage(
            "one side of `cordium cp` is NAME:PATH in a workspace, the other a local path".into(),
        )),
    }
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

/// Where to extract for `destination`: the folder itself when it is one, else a new
/// temporary folder beside it (also returned, to rename from and remove).
fn extraction(destination: &Path) -> Result<(PathBuf, Option<PathBuf>), ClientError> {
    if destination.is_dir() {
        return Ok((destination.to_path_buf(), None));
    }
    let parent = match destination.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temporary = parent.join(format!(".cordium-cp-{}", std::process::id()));
    std::fs::create_dir_all(&temporary)
        .map_err(|e| local_error(&temporary.display().to_string(), e))?;
    Ok((temporary.clone(), Some(temporary)))
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
