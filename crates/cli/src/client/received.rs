//! What `cordium cp` copies out of a workspace, made safe before it is put in place.
//!
//! The archive comes from the workspace, which may be hostile (a hostile image, an agent, a
//! compromised workspace): a local `tar x` into the destination would write whatever it
//! holds, `.bashrc`, `.ssh/authorized_keys` or a setuid file beside the one file asked for
//! (`kubectl cp` had this class of bugs: CVE-2019-1002101, CVE-2019-11246). So the archive is
//! extracted into a new folder of its own beside the destination, and only its one entry
//! `./NAME` (`tar x -- ./NAME`), owned by the user and with the user's umask; then the tree is
//! checked ([`sanitize`]): only folders, regular files and symbolic links that stay inside the
//! copy remain (devices, FIFOs, sockets and links pointing out are removed, each named on
//! standard error), and no file keeps a setuid, setgid or sticky bit. Only then is it put in
//! place ([`place`]), as `cp -r` would: a folder merged into an existing folder, anything
//! else replacing what was there (a symbolic link in the destination is replaced, never
//! followed).

use std::io;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};

/// A new, empty folder beside `target` for the extraction (same file system, so the copy is
/// renamed into place).
pub(super) fn staging_beside(target: &Path) -> io::Result<PathBuf> {
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let staging = parent.join(format!(".cordium-cp-{suffix}"));
    std::fs::create_dir(&staging)?;
    Ok(staging)
}

/// The local `tar` arguments extracting only `./NAME` into `staging`, as the user (not as the
/// archive's owners and modes).
pub(super) fn extract_args(staging: &Path, name: &str) -> Vec<std::ffi::OsString> {
    vec![
        "x".into(),
        "--no-same-owner".into(),
        "--no-same-permissions".into(),
        "-C".into(),
        staging.as_os_str().to_owned(),
        "--".into(),
        format!("./{name}").into(),
    ]
}

/// Removes from the tree at `root` everything but folders, regular files and symbolic links
/// that resolve inside `root`, and clears setuid, setgid and sticky bits; returns what was
/// removed (for the user to read), as paths relative to `root`'s parent.
pub(super) fn sanitize(root: &Path) -> io::Result<Vec<String>> {
    let mut removed = Vec::new();
    let top = root.parent().unwrap_or(Path::new(""));
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        let kind = meta.file_type();
        let shown = || {
            path.strip_prefix(top)
                .unwrap_or(&path)
                .display()
                .to_string()
        };
        if kind.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&path)?;
            if !stays_inside(root, &path, &target) {
                std::fs::remove_file(&path)?;
                removed.push(format!(
                    "{} (a symbolic link to {}, outside the copy)",
                    shown(),
                    target.display()
                ));
                continue;
            }
        } else if !kind.is_file() {
            let what = if kind.is_fifo() {
                "a FIFO"
            } else if kind.is_socket() {
                "a socket"
            } else {
                "a device"
            };
            std::fs::remove_file(&path)?;
            removed.push(format!("{} ({what})", shown()));
            continue;
        }
        let mode = meta.permissions().mode();
        if !kind.is_symlink() && mode & 0o7000 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777))?;
        }
    }
    removed.sort();
    Ok(removed)
}

/// Whether the symbolic link at `link` (inside `root`) pointing at `target` resolves inside
/// `root`, read lexically (a link that goes through another link is judged by that one).
fn stays_inside(root: &Path, link: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let Ok(from) = link.parent().unwrap_or(root).strip_prefix(root) else {
        return false;
    };
    let mut depth: Vec<Component<'_>> = from.components().collect();
    for part in target.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            Component::Normal(_) => depth.push(part),
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Puts `copy` at `target`: renamed there when nothing is; merged into a folder already
/// there when both are folders; else replacing what is there.
pub(super) fn place(copy: &Path, target: &Path) -> io::Result<()> {
    let existing = match std::fs::symlink_metadata(target) {
        Ok(meta) => meta.file_type(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return std::fs::rename(copy, target),
        Err(e) => return Err(e),
    };
    let copy_is_dir = std::fs::symlink_metadata(copy)?.is_dir();
    if existing.is_dir() && copy_is_dir {
        for entry in std::fs::read_dir(copy)? {
            let entry = entry?;
            place(&entry.path(), &target.join(entry.file_name()))?;
        }
        return std::fs::remove_dir(copy);
    }
    if existing.is_dir() {
        std::fs::remove_dir_all(target)?;
    } else {
        std::fs::remove_file(target)?;
    }
    std::fs::rename(copy, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hostile workspace's answer to `cordium cp WS:/workspace/report.txt DIR`: the file
    /// asked for, and beside it and inside it what it should not plant.
    const HOSTILE: &str = r##"
import io, sys, tarfile
out = tarfile.open(sys.argv[1], "w")
def add(name, data=b"", mode=0o644, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.size = kind, mode, link, len(data)
    info.uid = info.gid = 0
    out.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
add("./.bashrc", b"echo planted\n")
add("./.ssh", kind=tarfile.DIRTYPE, mode=0o700)
add("./.ssh/authorized_keys", b"ssh-ed25519 AAAA planted\n")
add("./report", kind=tarfile.DIRTYPE, mode=0o755)
add("./report/ok.txt", b"fine\n")
add("./report/suid", b"#!/bin/sh\n", mode=0o4755)
add("./report/out", kind=tarfile.SYMTYPE, link="/etc")
add("./report/up", kind=tarfile.SYMTYPE, link="../../x")
add("./report/in", kind=tarfile.SYMTYPE, link="ok.txt")
add("./report/pipe", kind=tarfile.FIFOTYPE)
out.close()
"##;

    #[test]
    fn a_hostile_archive_leaves_only_the_copy_and_nothing_that_reaches_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = dir.path().join("hostile.tar");
        let made = std::process::Command::new("python3")
            .args(["-c", HOSTILE])
            .arg(&archive)
            .status()
            .expect("python3");
        assert!(made.success());
        let into = dir.path().join("into");
        std::fs::create_dir(&into).expect("mkdir");
        // A file of the name is there already, and a link where the copy goes is replaced,
        // not followed.
        std::fs::write(into.join("keep.txt"), "mine\n").expect("write");
        let target = into.join("report");
        let staging = staging_beside(&target).expect("staging");
        let extracted = std::process::Command::new("tar")
            .args(extract_args(&staging, "report"))
            .stdin(std::fs::File::open(&archive).expect("archive"))
            .status()
            .expect("tar");
        assert!(extracted.success());
        let removed = sanitize(&staging.join("report")).expect("sanitize");
        assert_eq!(removed.len(), 3, "{removed:?}");
        assert!(
            removed
                .iter()
                .any(|r| r.starts_with("report/out (a symbolic link to /etc"))
        );
        assert!(removed.iter().any(|r| r.starts_with("report/up (")));
        assert!(removed.iter().any(|r| r == "report/pipe (a FIFO)"));
        place(&staging.join("report"), &target).expect("place");
        std::fs::remove_dir(&staging).expect("the staging folder is empty");

        let mut names: Vec<String> = std::fs::read_dir(&into)
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["keep.txt", "report"],
            "nothing planted beside the copy"
        );
        let mut inside: Vec<String> = std::fs::read_dir(&target)
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        inside.sort();
        assert_eq!(inside, ["in", "ok.txt", "suid"]);
        let suid = std::fs::metadata(target.join("suid")).expect("suid");
        assert_eq!(suid.permissions().mode() & 0o7000, 0, "no setuid bit");
        assert_eq!(
            std::fs::read_to_string(target.join("in")).expect("in"),
            "fine\n"
        );
    }

    #[test]
    fn a_link_stays_inside_only_when_it_resolves_inside() {
        let root = Path::new("/t/copy");
        let link = Path::new("/t/copy/sub/l");
        assert!(stays_inside(root, link, Path::new("x")));
        assert!(stays_inside(root, link, Path::new("../x")));
        assert!(stays_inside(root, link, Path::new("./../sub/../x")));
        assert!(!stays_inside(root, link, Path::new("../../x")));
        assert!(!stays_inside(root, link, Path::new("/etc/passwd")));
        assert!(!stays_inside(root, Path::new("/t/copy/l"), Path::new("..")));
    }
}
