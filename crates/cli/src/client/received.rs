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
//! standard error), and no file keeps a setuid, setgid or sticky bit. A link is judged by
//! following it as the kernel would, through the links already in the copy (`d -> .` makes
//! `d/d/../..` climb two levels, which a reading of the text alone misses), with what does
//! not exist read as text. Only then is it put in place ([`place`]), as `cp -r` would: a
//! folder merged into an existing folder, a file replacing a file; a folder is never replaced
//! by a file nor a file by a folder (`cp` refuses both, and the workspace decides what its
//! entry is), and a symbolic link in the destination is replaced, never followed.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};

/// The most links followed while judging one link (the kernel's own limit, `MAXSYMLINKS`).
const MAX_HOPS: usize = 40;
/// The most path steps taken while judging one link (a link that needs more is judged out).
const MAX_STEPS: usize = 1024;
/// The most path steps taken while judging all the links of one copy: past it, the links
/// left are judged out. A hostile archive's links cannot make the check cost more than this
/// (each step is one `lstat` at most).
const MAX_COPY_STEPS: usize = 200_000;

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
/// that resolve inside `root`, clears setuid, setgid and sticky bits, and gives the user every
/// right on every folder (an archive's folder of mode 000 would stop the check and the
/// clean-up); returns what was removed (for the user to read), as paths relative to `root`'s
/// parent.
pub(super) fn sanitize(root: &Path) -> io::Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut budget = MAX_COPY_STEPS;
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
            let mode = meta.permissions().mode();
            let usable = (mode & 0o777) | 0o700;
            if mode & 0o7777 != usable {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(usable))?;
            }
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&path)?;
            if !resolves_inside(root, &path, &target, &mut budget) {
                std::fs::remove_file(&path)?;
                removed.push(format!(
                    "{} (a symbolic link to {}: outside the copy, or past what is followed)",
                    shown(),
                    target.display()
                ));
            }
            continue;
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
        if kind.is_file() && mode & 0o7000 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777))?;
        }
    }
    removed.sort();
    Ok(removed)
}

/// One step of a path being followed.
enum Step {
    Up,
    Name(OsString),
}

/// `path`'s steps; `None` for an absolute path.
fn steps(path: &Path) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => steps.push(Step::Up),
            Component::Normal(name) => steps.push(Step::Name(name.to_owned())),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(steps)
}

/// Whether the symbolic link at `link` (inside `root`) pointing at `target` resolves inside
/// `root`: followed step by step from the link's folder, each link met on the way replaced by
/// its own target as the kernel does. Out when it climbs above `root`, meets an absolute
/// target, needs more than [`MAX_HOPS`] links or [`MAX_STEPS`] steps (or more than `budget`
/// has left), cannot be read, or climbs back out of a step that does not exist: the copy may
/// be merged into a folder where that name is the user's own link, which would lead the climb
/// elsewhere. Below a missing step the rest is taken as written (so a folder made there later
/// cannot make it climb out), with no `lstat`.
fn resolves_inside(root: &Path, link: &Path, target: &Path, budget: &mut usize) -> bool {
    let folder = link.parent().unwrap_or(root);
    let Ok(from) = folder.strip_prefix(root) else {
        return false;
    };
    let Some(first) = steps(target) else {
        return false;
    };
    let mut here = folder.to_path_buf();
    let mut depth = from.components().count();
    // Whether a step did not exist: the rest is taken as written, and may not climb.
    let mut missing = false;
    let mut todo: VecDeque<Step> = first.into();
    let (mut hops, mut taken) = (0, 0);
    while let Some(step) = todo.pop_front() {
        taken += 1;
        if taken > MAX_STEPS || *budget == 0 {
            return false;
        }
        *budget -= 1;
        let name = match step {
            Step::Up => {
                if depth == 0 || missing {
                    return false;
                }
                depth -= 1;
                here.pop();
                continue;
            }
            Step::Name(name) => name,
        };
        depth += 1;
        here.push(&name);
        if missing {
            continue;
        }
        let is_link = match std::fs::symlink_metadata(&here) {
            Ok(meta) => meta.file_type().is_symlink(),
            // Not there, or a path through a file: taken as written.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                missing = true;
                false
            }
            Err(_) => return false,
        };
        if !is_link {
            continue;
        }
        hops += 1;
        let Ok(next) = std::fs::read_link(&here) else {
            return false;
        };
        let Some(more) = steps(&next).filter(|_| hops <= MAX_HOPS) else {
            return false;
        };
        depth -= 1;
        here.pop();
        for step in more.into_iter().rev() {
            todo.push_front(step);
        }
    }
    true
}

/// Puts `copy` at `target`: renamed there when nothing is; merged into a folder already
/// there when both are folders; else replacing what is there. Refused, before anything is
/// changed, when anywhere a folder would be replaced by a file or a file by a folder.
pub(super) fn place(copy: &Path, target: &Path) -> io::Result<()> {
    if let Some((at, copy_is_dir)) = first_clash(copy, target)? {
        let (there, copied) = if copy_is_dir {
            ("not a folder", "a folder")
        } else {
            ("a folder", "not a folder")
        };
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} is {there} and the copy is {copied}: move it away or copy to another path",
                at.display()
            ),
        ));
    }
    merge(copy, target)
}

/// The first place under `target` where `copy` would replace a folder by a non-folder or a
/// non-folder by a folder, with whether the copy's is the folder (a symbolic link there is
/// replaced, never followed: no clash).
fn first_clash(copy: &Path, target: &Path) -> io::Result<Option<(PathBuf, bool)>> {
    let existing = match std::fs::symlink_metadata(target) {
        Ok(meta) => meta.file_type(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let copy_is_dir = std::fs::symlink_metadata(copy)?.is_dir();
    if existing.is_symlink() {
        return Ok(None);
    }
    if existing.is_dir() != copy_is_dir {
        return Ok(Some((target.to_path_buf(), copy_is_dir)));
    }
    if copy_is_dir {
        for entry in std::fs::read_dir(copy)? {
            let entry = entry?;
            if let Some(clash) = first_clash(&entry.path(), &target.join(entry.file_name()))? {
                return Ok(Some(clash));
            }
        }
    }
    Ok(None)
}

/// [`place`] once no clash was found.
fn merge(copy: &Path, target: &Path) -> io::Result<()> {
    let existing = match std::fs::symlink_metadata(target) {
        Ok(meta) => meta.file_type(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return std::fs::rename(copy, target),
        Err(e) => return Err(e),
    };
    let copy_is_dir = std::fs::symlink_metadata(copy)?.is_dir();
    if existing.is_dir() && copy_is_dir {
        for entry in std::fs::read_dir(copy)? {
            let entry = entry?;
            merge(&entry.path(), &target.join(entry.file_name()))?;
        }
        return std::fs::remove_dir(copy);
    }
    if existing.is_dir() {
        // Only between the check and now (the destination changed meanwhile): not replaced.
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} became a folder while copying", target.display()),
        ));
    }
    std::fs::remove_file(target)?;
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

    /// [`resolves_inside`] with a fresh budget.
    fn inside(root: &Path, link: &Path, target: &str) -> bool {
        resolves_inside(root, link, Path::new(target), &mut MAX_COPY_STEPS.clone())
    }

    #[test]
    fn a_link_stays_inside_only_when_it_resolves_inside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("copy");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        let link = root.join("sub/l");
        assert!(inside(&root, &link, "x"));
        assert!(inside(&root, &link, "../x"));
        assert!(inside(&root, &link, "./../sub/../x"));
        assert!(!inside(&root, &link, "../../x"));
        assert!(!inside(&root, &link, "/etc/passwd"));
        assert!(!inside(&root, &root.join("l"), ".."));
        // Probe round 7: a link to `.` keeps `d/d/` where it is, so `d/d/../..` climbs two
        // levels although its text goes down two first.
        std::os::unix::fs::symlink(".", root.join("d")).expect("symlink");
        assert!(inside(&root, &root.join("d"), "."));
        let deep = format!("{}{}etc/passwd", "d/".repeat(16), "../".repeat(16));
        assert!(!inside(&root, &root.join("passwd"), &deep));
        assert!(!inside(&root, &link, "../d/.."));
        assert!(inside(&root, &link, "../d/sub"));
        // A climb back out of a name the copy does not have: that name may be the user's own
        // link where the copy is merged (probe round 8), so it is out.
        assert!(!inside(&root, &link, "../nothere/../d/d/.."));
        assert!(!inside(&root, &link, "nothere/../../d/sub"));
        assert!(inside(&root, &link, "nothere/deeper"));
        // Through a link to a folder below, then up: judged where the link leads.
        std::fs::create_dir_all(root.join("a/b")).expect("mkdir");
        std::os::unix::fs::symlink("a/b", root.join("ab")).expect("symlink");
        assert!(inside(&root, &root.join("x"), "ab/../.."));
        assert!(!inside(&root, &root.join("x"), "ab/../../.."));
        // A loop is out, as the kernel's ELOOP.
        std::os::unix::fs::symlink("loop", root.join("loop")).expect("symlink");
        assert!(!inside(&root, &root.join("x"), "loop/x"));
        // A copy's links share one budget of steps: past it, what is left is out.
        let mut budget = 3;
        assert!(resolves_inside(&root, &link, Path::new("a/b"), &mut budget));
        assert!(!resolves_inside(
            &root,
            &link,
            Path::new("a/b"),
            &mut budget
        ));
    }

    /// A folder of mode 000 in the archive neither stops the check nor the clean-up.
    #[test]
    fn a_locked_folder_is_opened_for_the_user() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("report");
        std::fs::create_dir_all(root.join("locked")).expect("mkdir");
        std::os::unix::fs::symlink("/etc", root.join("locked/out")).expect("symlink");
        std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o000))
            .expect("chmod");
        let removed = sanitize(&root).expect("sanitize");
        assert_eq!(removed.len(), 1, "{removed:?}");
        let mode = std::fs::metadata(root.join("locked"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o700, 0o700);
        std::fs::remove_dir_all(&root).expect("removable");
    }

    /// The probe's archive: a link to `.` and links that climb through it; every one that
    /// leads out is left out, and the copy holds nothing that reaches the host's files.
    #[test]
    fn links_through_a_link_to_the_folder_itself_are_judged_where_they_lead() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("report");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        let deep = |end: &str| format!("{}{}{end}", "d/".repeat(16), "../".repeat(16));
        for (name, target) in [
            ("d", ".".to_owned()),
            ("passwd", deep("etc/passwd")),
            ("victim", deep("tmp")),
            ("sub/up", "../d/..".to_owned()),
            ("fine", "d/d/sub".to_owned()),
        ] {
            std::os::unix::fs::symlink(target, root.join(name)).expect("symlink");
        }
        let removed = sanitize(&root).expect("sanitize");
        let mut names: Vec<&str> = removed
            .iter()
            .map(|r| r.split(' ').next().unwrap_or_default())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["report/passwd", "report/sub/up", "report/victim"]);
        assert!(root.join("d").exists() && root.join("fine").is_dir());
    }

    /// As `cp`: a folder is not replaced by a file nor a file by a folder, and nothing is
    /// changed when one would be, deep in a merge too.
    #[test]
    fn a_folder_is_never_replaced_by_a_file_nor_a_file_by_a_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("report");
        std::fs::create_dir_all(target.join(".git")).expect("mkdir");
        std::fs::write(target.join(".git/config"), "important\n").expect("write");
        let file = dir.path().join("copy-file");
        std::fs::write(&file, "just a file\n").expect("write");
        let refused = place(&file, &target).expect_err("a folder is there");
        assert!(
            refused
                .to_string()
                .contains("is a folder and the copy is not a folder"),
            "{refused}"
        );
        assert!(target.join(".git/config").is_file(), "nothing removed");

        let copy = dir.path().join("copy-dir");
        std::fs::create_dir_all(copy.join("new")).expect("mkdir");
        std::fs::write(copy.join("new/a"), "a\n").expect("write");
        std::fs::create_dir_all(copy.join(".git/config")).expect("mkdir");
        let refused = place(&copy, &target).expect_err("a file is there, deep");
        assert!(
            refused
                .to_string()
                .contains("is not a folder and the copy is a folder"),
            "{refused}"
        );
        assert!(
            !target.join("new").exists(),
            "nothing merged before the clash was found"
        );
        std::fs::remove_dir(copy.join(".git/config")).expect("rmdir");
        place(&copy, &target).expect("no clash now");
        assert!(target.join("new/a").is_file() && target.join(".git/config").is_file());
    }
}
