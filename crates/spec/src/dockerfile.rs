//! What an inline Dockerfile may ask of the host's builder.
//!
//! The podman backend builds an inline Dockerfile with the host's podman (buildah), as root,
//! with an empty context, no network for its steps (`--network none`) and base images pulled
//! again from their registries (`--pull=always`); and only when the operator allows builds
//! (`podman::build`). What the text could still ask of the host is refused here, at validation
//! and again before each build:
//! - **`RUN` with any flag**: `--mount` reaches the host's files (bind sources resolved on the
//!   host before podman 4.9.4, CVE-2024-1753; cache ids climbing out of the cache before
//!   5.2.5, CVE-2024-9675; and a cache shared by every user's builds on any version), and
//!   `--network=host` puts the step in the host's network namespace (buildah 1.30 and later),
//!   past `--network none`. A flag's name may be spelled with quotes or variables
//!   (`--$M=...`), so no flag at all: a step gets what it needs with `COPY`.
//! - **`ADD`**: with no context it can only fetch a URL, which buildah does from the host's
//!   own network namespace (a service listening only on the host's loopback would be read
//!   into the image); the URL may come from a variable (`ARG U=http://...` then `ADD $U`).
//! - **`ONBUILD`**: triggers run in another build; a workspace's image has no use for them.
//!   (A base image's own triggers run in this build, unseen by any check of the text: why
//!   builds are off unless the operator trusts the users with the host.)
//! - **A base image from the host's own store**: `localhost/...` and `cordium/...` (the names
//!   builds are tagged with: other users' images), an image id, or a name made of variables,
//!   in `FROM` or `COPY --from`.
//!
//! **The text is not read one way and then trusted.** Parsers disagree (where a parser
//! directive may stand, whether a comment line ends a continued instruction), and each
//! disagreement was a way past a check that read the text one way. So every rule is applied
//! to the instructions as the Dockerfile parser joins them with either escape character (`\`
//! and `` ` ``, whatever the `escape` directive says) and to every physical line as if it began
//! an instruction; and `--mount` is refused wherever it is spelled once comment lines,
//! whitespace and both escape characters are gone. A false refusal (a heredoc's line that
//! reads `add x`) costs less than a missed one, and says which line to change.

use crate::diagnostic::codes;
use crate::shapes::ShapeError;

/// Checks an inline Dockerfile (see the [module docs](self)); on refusal, the line (1-based)
/// and the error.
pub fn check(text: &str) -> Result<(), (usize, ShapeError)> {
    let refused = |at: usize, why: String, help: &str| {
        Err((
            at,
            ShapeError::new(codes::DOCKERFILE, format!("line {at}: {why}")).help(help.to_owned()),
        ))
    };
    if let Some(at) = mount_flag_line(text) {
        return refused(
            at,
            "`--mount` is not allowed: the host's builder resolves `RUN --mount` on the host"
                .into(),
            "copy what the step needs with `COPY` (or `COPY --from=STAGE`) instead",
        );
    }
    for candidate in candidates(text) {
        let Some(instruction) = Instruction::read(&candidate.text) else {
            continue;
        };
        let at = candidate.line;
        match instruction.keyword.as_str() {
            "add" => {
                return refused(
                    at,
                    "`ADD` is not allowed: with no build context it can only fetch a URL, which \
                     the host's builder does from the host's own network"
                        .into(),
                    "build the image where it may fetch what it needs and name it in \
                     `image.registry`, or `COPY --from=IMAGE` what you need",
                );
            }
            "onbuild" => {
                return refused(
                    at,
                    "`ONBUILD` is not allowed: a workspace's image has no use for triggers".into(),
                    "run the step in this Dockerfile instead",
                );
            }
            "run" if instruction.rest.starts_with('-') => {
                return refused(
                    at,
                    "`RUN` flags are not allowed: `--mount` and `--network` reach the host".into(),
                    "give the step what it needs with `COPY` (or `COPY --from=STAGE`) instead",
                );
            }
            "copy"
                if instruction
                    .words()
                    .take_while(|w| w.starts_with("--"))
                    .any(|w| w.contains('$')) =>
            {
                // A flag's name may be made of variables too (`--fr${X}m=`).
                return refused(
                    at,
                    "`COPY` flags are written as they are, not made of variables".into(),
                    "write the flag and its value literally, e.g. `--from=STAGE`",
                );
            }
            "from" | "copy" => {
                if let Some(Err(why)) = instruction.image().map(|image| judge_image(&image)) {
                    return refused(
                        at,
                        why,
                        "name the base image with its registry, e.g. `docker.io/library/alpine:3`",
                    );
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Why `image` (a `FROM` or `COPY --from` reference, quotes removed) may not be a base image.
fn judge_image(image: &str) -> Result<(), String> {
    let lower = image.to_ascii_lowercase();
    let is_id = lower.starts_with("sha256:")
        || (lower.len() >= 12 && lower.bytes().all(|b| b.is_ascii_hexdigit()));
    if image.contains('$') {
        Err(format!(
            "`{}`: a base image is written as its name, not made of variables",
            short(image)
        ))
    } else if lower.starts_with("localhost/") || lower.starts_with("cordium/") || is_id {
        Err(format!(
            "`{}`: a base image comes from a registry, not from the host's own images",
            short(image)
        ))
    } else {
        Ok(())
    }
}

/// At most 80 characters of `text`, for an error message.
fn short(text: &str) -> String {
    text.chars().take(80).collect()
}

/// A piece of text judged as an instruction, and its first line.
struct Candidate {
    line: usize,
    text: String,
}

/// Every physical line that is not a comment, then the instructions as the parser joins them
/// with `\` and with `` ` `` as the escape character.
fn candidates(text: &str) -> Vec<Candidate> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut found: Vec<Candidate> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !skipped(line))
        .map(|(at, line)| Candidate {
            line: at + 1,
            text: line.to_owned(),
        })
        .collect();
    for escape in ['\\', '`'] {
        found.extend(instructions(text, escape));
    }
    found
}

/// Whether the parser skips `line` between and inside instructions: empty, or a comment.
fn skipped(line: &str) -> bool {
    let line = line.trim_start();
    line.is_empty() || line.starts_with('#')
}

/// `line` without its continuation (`escape`, then only spaces and tabs, at its end), when it
/// has one.
fn continued(line: &str, escape: char) -> Option<&str> {
    line.trim_end_matches([' ', '\t']).strip_suffix(escape)
}

/// The instructions of `text` joined as the Dockerfile parser joins them with `escape` as the
/// escape character: a line ending in `escape` (then spaces or tabs) goes on with the next
/// line that is neither empty nor a comment, appended as it is, with nothing between.
fn instructions(text: &str, escape: char) -> Vec<Candidate> {
    let mut found = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((at, line)) = lines.next() {
        if skipped(line) {
            continue;
        }
        let mut instruction = line.to_owned();
        while let Some(kept) = continued(&instruction, escape).map(str::len) {
            instruction.truncate(kept);
            match lines.by_ref().map(|(_, l)| l).find(|l| !skipped(l)) {
                Some(next) => instruction.push_str(next),
                None => break,
            }
        }
        found.push(Candidate {
            line: at + 1,
            text: instruction,
        });
    }
    found
}

/// An instruction's keyword (lowercased as the builder lowercases it) and the rest of it.
struct Instruction<'t> {
    keyword: String,
    rest: &'t str,
}

impl<'t> Instruction<'t> {
    fn read(text: &'t str) -> Option<Self> {
        let text = text.trim_start();
        let end = text.find(char::is_whitespace).unwrap_or(text.len());
        let (keyword, rest) = text.split_at(end);
        if keyword.is_empty() {
            return None;
        }
        Some(Self {
            keyword: go_lowercase(keyword),
            rest: rest.trim_start(),
        })
    }

    /// The words after the keyword, quotes and escapes removed (as the builder reads a flag
    /// or an image name).
    fn words(&self) -> impl Iterator<Item = String> + 't {
        self.rest.split_whitespace().map(|w| {
            w.chars()
                .filter(|c| !matches!(c, '"' | '\'' | '\\' | '`'))
                .collect()
        })
    }

    /// The image a `FROM` names, or a `COPY --from`'s value.
    fn image(&self) -> Option<String> {
        match self.keyword.as_str() {
            "from" => self.words().find(|w| !w.starts_with("--")),
            "copy" => self
                .words()
                .find_map(|w| w.strip_prefix("--from=").map(str::to_owned)),
            _ => None,
        }
    }
}

/// `keyword` lowercased as Go's `strings.ToLower` does it (the builder's), which maps the two
/// non-ASCII letters whose lowercase is ASCII (`İ` to `i`, the Kelvin sign to `k`): so
/// `ONBUİLD` is `onbuild` here too.
fn go_lowercase(keyword: &str) -> String {
    keyword
        .chars()
        .map(|c| match c {
            '\u{130}' => 'i',
            '\u{212a}' => 'k',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The line (1-based) where `--mount` begins in `text` read without its comment lines, its
/// whitespace and its escape characters, in any case.
fn mount_flag_line(text: &str) -> Option<usize> {
    let mut flat = Vec::with_capacity(text.len());
    let mut line_of = Vec::with_capacity(text.len());
    for (at, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        for byte in line.bytes() {
            if !(byte.is_ascii_whitespace() || byte == b'\\' || byte == b'`') {
                flat.push(byte.to_ascii_lowercase());
                line_of.push(at + 1);
            }
        }
    }
    flat.windows(b"--mount".len())
        .position(|w| w == b"--mount")
        .and_then(|i| line_of.get(i).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_at(text: &str) -> Option<usize> {
        match check(text) {
            Ok(()) => None,
            Err((line, e)) => {
                assert_eq!(e.code, codes::DOCKERFILE, "{text}");
                Some(line)
            }
        }
    }

    #[test]
    fn what_a_build_may_ask() {
        for ok in [
            "FROM alpine\nRUN echo baked > /baked\n",
            "FROM docker.io/library/alpine:3 AS base\nRUN ln -s / /rootdir\nFROM alpine\nCOPY --from=base /etc/hostname /x\n",
            "FROM alpine\n# RUN --mount=type=bind,source=/,target=/h\nCOPY --from=0 /x /x\n",
            "FROM alpine\nRUN apk add git \\\n  && git --version\n",
            "FROM alpine\nRUN echo ADD > /added\n",
            "FROM --platform=linux/amd64 127.0.0.1:5000/x/y:1\nRUN true\n",
            "FROM scratch\nCOPY --from=alpine:3 /bin/busybox /busybox\n",
        ] {
            assert_eq!(refused_at(ok), None, "{ok}");
        }
    }

    #[test]
    fn what_reaches_the_host_is_refused_at_its_line() {
        for (bad, line) in [
            (
                "FROM a AS b\nRUN ln -s / /r\nFROM a\nRUN --mount=type=bind,from=b,source=/r,destination=/h,rw cat /h/etc/shadow\n",
                4,
            ),
            ("FROM a\nrun --MOUNT=type=cache,target=/c true\n", 2),
            (
                "FROM a\nRUN \\\n  --mount=type=bind,source=/,target=/h true\n",
                3,
            ),
            (
                "# escape=`\nFROM a\nRUN `\n  --mount=type=bind,target=/h true\n",
                4,
            ),
            ("FROM a\nADD http://127.0.0.1:8080/secret /s\n", 2),
            ("FROM a\nadd --chown=1:1 https://example.com/x /x\n", 2),
            ("FROM a\nADD \\\n  git@github.com:o/r.git /r\n", 2),
            ("FROM a\nONBUILD RUN true\n", 2),
            ("FROM a\nonbuild ADD http://10.0.0.1/x /x\n", 2),
            // Probe round 7: a comment line inside a continued instruction (the builder skips
            // it and goes on with the next line).
            (
                "FROM a\nRUN \\\n# hidden\n--mount=type=bind,from=b,source=/r,destination=/h cat /h/x\n",
                4,
            ),
            (
                "FROM a\nADD \\\n# c\nhttp://127.0.0.1/secret.txt /w.txt\n",
                2,
            ),
            // An escape directive after another comment, which the builder ignores.
            (
                "# hello\n# escape=`\nFROM a\nRUN \\\n  --mount=type=tmpfs,target=/t true\n",
                5,
            ),
            (
                "FROM a\nRUN -\\\n# x\n-mo\\\nunt=type=cache,target=/c true\n",
                2,
            ),
            (
                "FROM a\nARG U=http://127.0.0.1:57998/secret.txt\nADD $U /ssrf.txt\n",
                3,
            ),
            ("FROM a\nENV S=http\nADD ${S}://127.0.0.1/x /x\n", 3),
            ("FROM a\nADD local.txt /x\n", 2),
            ("FROM a\nRUN true `\nADD http://h/x /x\n", 3),
            // The review: any flag on RUN (`--network=host` puts the step on the host's
            // network), however the flag is spelled.
            (
                "FROM a\nRUN --network=host wget -qO- http://127.0.0.1/\n",
                2,
            ),
            (
                "FROM a\nRUN --mo''unt=type=bind,source=/,target=/h cat /h/etc/shadow\n",
                2,
            ),
            (
                "FROM a\nRUN --\"mount\"=type=cache,id=pip,target=/c true\n",
                2,
            ),
            (
                "FROM a\nARG M=mount\nRUN --$M=type=cache,target=/c true\n",
                3,
            ),
            ("FROM a\nRUN \\\n  --network=host true\n", 2),
            // A keyword split over a continuation: the parser joins with nothing between.
            ("FROM a\nAD\\\nD http://127.0.0.1:8080/secret /s\n", 2),
            ("FROM a\nONBUIL\\\nD RUN true\n", 2),
            // A keyword as the builder lowercases it.
            ("FROM a\nONBU\u{130}LD RUN true\n", 2),
            // Images of the host's own store, or made of variables.
            ("FROM localhost/cordium/cdm-abc:latest\nRUN true\n", 1),
            ("FROM cordium/cdm-abc\nRUN true\n", 1),
            ("FROM \"localhost\"/x\nRUN true\n", 1),
            (
                "FROM sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
                1,
            ),
            ("FROM 0123456789ab\n", 1),
            ("ARG BASE=alpine\nFROM $BASE\n", 2),
            (
                "FROM alpine\nCOPY --from=localhost/private/app:1 /x /x\n",
                2,
            ),
            ("FROM alpine\nCOPY --fr\"om\"=${IMG} /x /x\n", 2),
            // Probe round 9: a flag's name made of a variable.
            (
                "FROM alpine\nARG X=o\nCOPY --fr${X}m=localhost/private/app:1 /x /x\n",
                3,
            ),
            // A byte order mark does not hide the first line.
            ("\u{feff}ADD http://h/x /x\n", 1),
        ] {
            assert_eq!(refused_at(bad), Some(line), "{bad}");
        }
        // A continuation at the end of the text ends the instruction.
        assert_eq!(refused_at("FROM a\nRUN true \\\\"), None);
        assert_eq!(refused_at("FROM a\nRUN true \\"), None);
    }
}
