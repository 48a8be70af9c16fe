//! Validated string newtypes: values that have a shape (names, git refs, URLs, mount paths,
//! capabilities). Each checks its shape when converted from a document, and exposes the same
//! check as a function so the compiler can re-run it on substituted values.

use crate::convert::{Cx, FromNode};
use crate::diagnostic::{Diagnostic, codes};
use crate::node::{Node, NodeKind};
use crate::source::Location;
use std::borrow::Cow;

/// Why a value does not have the shape it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// Stable diagnostic code.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl ShapeError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// This problem as a diagnostic at the value written at `at`.
    pub fn into_diagnostic(self, at: Location) -> Diagnostic {
        let d = Diagnostic::error(self.code, self.message).at(at);
        match self.help {
            Some(h) => d.with_help(h),
            None => d,
        }
    }
}

/// Whether `value` may hold `${{ vars.X }}` (it is then checked only after substitution).
/// Searches for `$` bytes rather than through `str::contains`, whose substring searcher costs
/// more to set up than most values take to scan; every string of every layer is asked.
pub fn is_templated(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut from = 0;
    while let Some(at) = bytes[from..].iter().position(|&b| b == b'$') {
        if bytes[from + at..].starts_with(b"${{") {
            return true;
        }
        from += at + 1;
    }
    false
}

macro_rules! shaped_string {
    (
        $(#[doc = $doc:literal])*
        $name:ident, check = $check:path, templated = $templated:literal, schema = $schema:tt
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks `value` and wraps it.
            pub fn new(value: impl Into<String>) -> Result<Self, ShapeError> {
                let value = value.into();
                $check(&value)?;
                Ok(Self(value))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl FromNode for $name {
            fn from_node(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
                let value = String::from_node(node, cx)?;
                Self::checked(value, node.loc, cx)
            }

            fn from_owned(node: Node, cx: &mut Cx<'_>) -> Option<Self> {
                match node.kind {
                    NodeKind::Str(value) => Self::checked(value, node.loc, cx),
                    _ => Self::from_node(&node, cx),
                }
            }
        }

        impl $name {
            /// `value`, written at `at`, when it has the shape.
            fn checked(value: String, at: Location, cx: &mut Cx<'_>) -> Option<Self> {
                if $templated && cx.defer_templated && is_templated(&value) {
                    return Some(Self(value));
                }
                match $check(&value) {
                    Ok(()) => Some(Self(value)),
                    Err(e) => {
                        cx.report(e.into_diagnostic(at));
                        None
                    }
                }
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let description = concat!($($doc, "\n",)* "").trim();
                let mut schema = schemars::json_schema!($schema);
                schema.insert("description".into(), description.into());
                schema
            }
        }
    };
}

shaped_string! {
    /// A name of one segment: a lowercase letter, then up to 38 lowercase letters, digits or
    /// `-`, ending with a letter or digit; no `--`.
    Name, check = check_name, templated = false,
    schema = { "type": "string", "pattern": "^[a-z](?:[a-z0-9]|-(?!-)){0,38}[a-z0-9]$" }
}

shaped_string! {
    /// A git branch, tag or commit: `[A-Za-z0-9_][A-Za-z0-9._/+-]{0,254}`, without `..`, not
    /// ending in `.lock` or `/`. May hold `${{ vars.NAME }}`; checked after substitution.
    GitRef, check = check_git_ref, templated = true,
    schema = { "type": "string", "maxLength": 255 }
}

shaped_string! {
    /// An `https://` URL of at most 256 characters. May hold `${{ vars.NAME }}`; checked after
    /// substitution.
    HttpsUrl, check = check_https_url, templated = true,
    schema = { "type": "string", "maxLength": 256 }
}

shaped_string! {
    /// A URL or image reference of at most 256 characters, without white space. May hold
    /// `${{ vars.NAME }}`; checked after substitution.
    Url, check = check_url, templated = true,
    schema = { "type": "string", "minLength": 1, "maxLength": 256 }
}

shaped_string! {
    /// An absolute, clean path (no `..`, `//` or trailing `/`) outside the reserved system
    /// paths (`/proc`, `/workspace`, `/var/run`, ...).
    MountPath, check = check_mount_path, templated = false,
    schema = { "type": "string", "pattern": "^/", "maxLength": 256 }
}

shaped_string! {
    /// A Linux capability name without the `CAP_` prefix (`NET_ADMIN`), or `ALL`.
    Capability, check = check_capability, templated = false,
    schema = { "type": "string", "pattern": "^(ALL|[A-Z][A-Z0-9_]{0,29})$" }
}

/// The most bytes of a value an error message quotes ([`shown`]).
const SHOWN_BYTES: usize = 80;

/// `value` as an error message quotes it: its first 80 bytes (cut at a character's boundary),
/// then `…`. A value is as long as its writer makes it (a request's name, a line of YAML), and
/// one message must stay short.
pub fn shown(value: &str) -> std::borrow::Cow<'_, str> {
    cut(value, SHOWN_BYTES)
}

/// `text` cut to at most `max` bytes at a character's boundary, with `…` after a cut: the one
/// rule for every bounded quotation (a message's names, an answer's violations).
pub fn cut(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

/// Checks one name segment (upstream `NameMain`).
pub fn check_name(value: &str) -> Result<(), ShapeError> {
    let bytes = value.as_bytes();
    let ok = (2..=40).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.last().is_some_and(|b| *b != b'-')
        && !value.contains("--");
    if ok {
        Ok(())
    } else {
        Err(ShapeError::new(
            codes::NAME,
            format!("`{}` is not a valid name", shown(value)),
        )
        .help("use 2 to 40 lowercase letters, digits and single dashes, starting with a letter"))
    }
}

/// Checks a Workspace name: like [`check_name`], but it may start with a digit, since the
/// server generates names such as `x7k` or `88s` (3 to 6 lowercase letters and digits).
pub fn check_workspace_name(value: &str) -> Result<(), ShapeError> {
    let first_is_digit = value.as_bytes().first().is_some_and(u8::is_ascii_digit);
    let rest = if first_is_digit {
        format!("a{}", &value[1..])
    } else {
        value.to_owned()
    };
    check_name(&rest).map_err(|_| {
        ShapeError::new(
            codes::NAME,
            format!("`{}` is not a valid workspace name", shown(value)),
        )
        .help("use 2 to 40 lowercase letters, digits and single dashes")
    })
}

/// Checks a resource name of at most `max_segments` dot-separated segments, each a valid
/// [`Name`], at most 128 characters in all.
pub fn check_resource_name(value: &str, max_segments: usize) -> Result<(), ShapeError> {
    let segments = value.split('.').count();
    if value.len() > 128 {
        return Err(ShapeError::new(
            codes::NAME,
            "a name is at most 128 characters",
        ));
    }
    if segments > max_segments {
        return Err(ShapeError::new(
            codes::NAME,
            format!(
                "`{}` has {segments} dot-separated parts; at most {max_segments} are allowed here",
                shown(value)
            ),
        ));
    }
    value.split('.').try_for_each(check_name)
}

/// The longest git ref, in bytes.
pub const MAX_GIT_REF_BYTES: usize = 255;
/// The longest URL, in bytes.
pub const MAX_URL_BYTES: usize = 256;

/// Checks a git ref (upstream `checkGitRef`): safe to pass to git, no option injection.
pub fn check_git_ref(value: &str) -> Result<(), ShapeError> {
    if value.is_empty() {
        return Ok(());
    }
    let bad = |why: &str| {
        Err(ShapeError::new(
            codes::GIT_REF,
            format!(
                "`{}` is not a valid git ref: {why}",
                shown(value).escape_debug()
            ),
        )
        .help("use a branch, tag or commit such as `main`, `v1.2.3` or `release/2026-01`"))
    };
    if value.len() > MAX_GIT_REF_BYTES {
        return bad("longer than 255 characters");
    }
    let first = value.as_bytes()[0];
    if !(first.is_ascii_alphanumeric() || first == b'_') {
        return bad("it must start with a letter, digit or `_`");
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._/+-".contains(*c)))
    {
        return bad(&format!("`{}` is not allowed", c.escape_debug()));
    }
    if value.contains("..") {
        return bad("`..` is not allowed");
    }
    if value.ends_with(".lock") || value.ends_with('/') {
        return bad("it must not end with `.lock` or `/`");
    }
    Ok(())
}

/// Checks a URL: non-empty, at most 256 characters, no white space or control characters.
pub fn check_url(value: &str) -> Result<(), ShapeError> {
    if value.is_empty() {
        return Err(ShapeError::new(codes::URL, "the URL is empty"));
    }
    if value.len() > MAX_URL_BYTES {
        return Err(ShapeError::new(
            codes::URL,
            "a URL is at most 256 characters",
        ));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ShapeError::new(
            codes::URL,
            format!(
                "`{}` is not a valid URL: it contains white space",
                value.escape_debug()
            ),
        ));
    }
    // No URL or image reference begins with `-`; on a command line (`podman pull`, `git
    // clone`) one would read as a flag.
    if value.starts_with('-') {
        return Err(ShapeError::new(
            codes::URL,
            format!("`{}` is not a valid URL: it begins with `-`", shown(value)),
        ));
    }
    Ok(())
}

/// Checks an https URL with a host.
pub fn check_https_url(value: &str) -> Result<(), ShapeError> {
    check_url(value)?;
    let Some(rest) = value.strip_prefix("https://") else {
        return Err(ShapeError::new(
            codes::URL,
            format!("`{}` is not an https URL", shown(value)),
        )
        .help(match (value.split_once("://"), scp_like(value)) {
            (Some((_, rest)), _) => format!("use `https://{rest}`"),
            (None, Some((host, path))) => format!("use `https://{host}/{path}`"),
            (None, None) => format!("use `https://{value}`"),
        }));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
    {
        return Err(ShapeError::new(
            codes::URL,
            format!("`{}` has no valid host", shown(value)),
        ));
    }
    Ok(())
}

/// The host and path of an scp-like git address, `user@host:path`.
fn scp_like(value: &str) -> Option<(&str, &str)> {
    let (user_host, path) = value.split_once(':')?;
    let (_, host) = user_host.split_once('@')?;
    (!host.is_empty() && !host.contains('/') && !path.is_empty())
        .then(|| (host, path.trim_start_matches('/')))
}

/// Exact paths that may not be mount points.
pub const RESERVED_MOUNT_PATHS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/root",
    "/sbin",
    "/tmp",
    "/usr",
    "/var",
    "/var/tmp",
    "/workspace",
];
/// Trees (the path and everything below) that may not be mount points.
pub const RESERVED_MOUNT_TREES: &[&str] = &[
    "/dev",
    "/octelium",
    "/proc",
    "/run",
    "/sys",
    "/var/lib/containers",
    "/var/lib/docker",
    "/var/run",
    "/cordium-volumes",
];

/// Checks a volume mount path (upstream `CheckVolumeMountPath`).
pub fn check_mount_path(value: &str) -> Result<(), ShapeError> {
    let bad = |why: String| Err(ShapeError::new(codes::MOUNT_PATH, why));
    if value.is_empty() {
        return bad("the mount path is empty".into());
    }
    if value.len() > 256 {
        return bad("a mount path is at most 256 characters".into());
    }
    if !value.starts_with('/') {
        return Err(ShapeError::new(
            codes::MOUNT_PATH,
            format!("`{}` is not an absolute path", shown(value)),
        )
        .help(format!("use `/{}`", value.trim_start_matches(['.', '/']))));
    }
    if value.contains(['\\', '\0']) {
        return bad(format!("`{}` contains `\\` or NUL", value.escape_debug()));
    }
    // The runtime writes `VOLUME:PATH` (podman) or `source=..,target=PATH` mounts: past a `:`
    // or `,` a path would add mount options (`/data:U` chowns a volume other workspaces share).
    if value.contains([':', ',']) {
        return Err(ShapeError::new(
            codes::MOUNT_PATH,
            format!("`{}` contains `:` or `,`", shown(value)),
        )
        .help("a mount path is a plain folder path; mount options are not set here"));
    }
    let clean = value.len() == 1
        || (!value.ends_with('/')
            && value[1..]
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".."));
    if !clean {
        return Err(ShapeError::new(
            codes::MOUNT_PATH,
            format!("`{}` is not a clean path", shown(value)),
        )
        .help("remove trailing `/`, `//`, `.` and `..`"));
    }
    if RESERVED_MOUNT_PATHS.contains(&value) {
        return bad(format!("`{}` is a reserved path", shown(value)));
    }
    if let Some(tree) = RESERVED_MOUNT_TREES
        .iter()
        .find(|t| value == **t || value.strip_prefix(**t).is_some_and(|r| r.starts_with('/')))
    {
        return bad(format!(
            "`{}` is inside the reserved tree `{tree}`",
            shown(value)
        ));
    }
    Ok(())
}

/// A network destination: an address and a prefix length, host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    /// The network's first address.
    pub addr: core::net::IpAddr,
    /// The prefix length (at most 32 for IPv4, 128 for IPv6).
    pub prefix: u8,
}

impl Cidr {
    /// Whether `other` lies wholly inside this network (the same family, a prefix at least as
    /// long, and the same leading bits).
    pub fn contains(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix
            && Self::parts(other.addr, self.prefix) == Self::parts(self.addr, self.prefix)
    }

    /// The family and the address's bits with all but the first `prefix` cleared.
    fn parts(addr: core::net::IpAddr, prefix: u8) -> (bool, u128) {
        let (v6, bits, width) = match addr {
            core::net::IpAddr::V4(a) => (false, u128::from(u32::from(a)), 32),
            core::net::IpAddr::V6(a) => (true, u128::from(a), 128),
        };
        let keep = u32::from(prefix.min(width));
        let shift = u32::from(width) - keep;
        (
            v6,
            if keep == 0 {
                0
            } else {
                (bits >> shift) << shift
            },
        )
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Parses an egress destination: `ADDRESS/PREFIX` or a bare address (a single host). Host
/// bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`), as nftables and Kubernetes expect.
pub fn parse_cidr(value: &str) -> Result<Cidr, ShapeError> {
    let bad = || {
        ShapeError::new(
            codes::CIDR,
            format!("`{}` is not an IPv4 or IPv6 network", shown(value)),
        )
        .help("write a network such as `10.0.0.0/8`, `2001:db8::/32` or an address")
    };
    let (addr, prefix) = match value.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (value, None),
    };
    let addr: core::net::IpAddr = addr.parse().map_err(|_| bad())?;
    let width = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => width,
        Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= width)
            .ok_or_else(bad)?,
        Some(_) => return Err(bad()),
    };
    let (_, bits) = Cidr::parts(addr, prefix);
    let addr = match addr {
        core::net::IpAddr::V4(_) => {
            core::net::IpAddr::V4(core::net::Ipv4Addr::from(u32::try_from(bits).unwrap_or(0)))
        }
        core::net::IpAddr::V6(_) => core::net::IpAddr::V6(core::net::Ipv6Addr::from(bits)),
    };
    Ok(Cidr { addr, prefix })
}

/// Checks a capability name.
pub fn check_capability(value: &str) -> Result<(), ShapeError> {
    let b = value.as_bytes();
    let ok = value == "ALL"
        || (!b.is_empty()
            && b.len() <= 30
            && b[0].is_ascii_uppercase()
            && b.iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_'));
    if ok {
        Ok(())
    } else {
        let mut e = ShapeError::new(
            codes::CAPABILITY,
            format!("`{}` is not a capability name", shown(value)),
        );
        let fixed = value
            .trim_start_matches("CAP_")
            .trim_start_matches("cap_")
            .to_ascii_uppercase();
        if fixed != value && check_capability(&fixed).is_ok() {
            e = e.help(format!("write `{fixed}`"));
        } else {
            e = e.help("use `ALL` or an upper-case name without `CAP_`, such as `NET_ADMIN`");
        }
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_is_found_wherever_it_starts() {
        for text in [
            "${{ vars.A }}",
            "x${{vars.A}}",
            "$$${{",
            "a $ b ${{ c",
            "é${{",
        ] {
            assert!(is_templated(text), "{text:?}");
        }
        for text in ["", "$", "${", "${ {", "$ {{", "price: $5 {{x}}", "${}{"] {
            assert!(!is_templated(text), "{text:?}");
        }
    }

    #[test]
    fn cidrs_are_networks_with_host_bits_cleared() {
        let c = |s: &str| parse_cidr(s).map(|c| c.to_string());
        assert_eq!(c("10.1.2.3/8").as_deref(), Ok("10.0.0.0/8"));
        assert_eq!(c("192.168.1.7").as_deref(), Ok("192.168.1.7/32"));
        assert_eq!(c("0.0.0.0/0").as_deref(), Ok("0.0.0.0/0"));
        assert_eq!(c("2001:db8::1/32").as_deref(), Ok("2001:db8::/32"));
        assert_eq!(c("::1").as_deref(), Ok("::1/128"));
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "::/129",
            "x/8",
        ] {
            assert_eq!(
                parse_cidr(bad).map_err(|e| e.code),
                Err(codes::CIDR),
                "{bad}"
            );
        }
        let net = parse_cidr("10.0.0.0/8").unwrap_or_else(|e| panic!("{e:?}"));
        let host = parse_cidr("10.9.0.1").unwrap_or_else(|e| panic!("{e:?}"));
        let v6 = parse_cidr("::/0").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(net.contains(&host) && net.contains(&net) && !host.contains(&net));
        assert!(!v6.contains(&net) && v6.contains(&parse_cidr("fe80::/10").unwrap_or(v6)));
    }

    #[test]
    fn git_refs_from_upstream_tests() {
        let long = "a".repeat(300);
        for ok in [
            "",
            "main",
            "master",
            "v1.2.3",
            "release/2026-01",
            "feature/JIRA-123_thing",
            "users/bob/wip",
            "9a1f0c4e2b7d8f6a3c5e1b9d7f2a4c6e8b0d2f4a",
            "HEAD",
            "1.0.0+build.7",
        ] {
            assert!(check_git_ref(ok).is_ok(), "{ok}");
        }
        for bad in [
            "main; curl http://x | sh",
            "main && id",
            "main`id`",
            "main$(id)",
            "main\nid",
            "main id",
            "main|id",
            "main>out",
            "main'x'",
            "main\"x\"",
            "main&",
            "-main",
            "--upload-pack=/bin/sh",
            "-o",
            "a..b",
            "..",
            "main.lock",
            "refs/heads/",
            long.as_str(),
        ] {
            assert_eq!(
                check_git_ref(bad).map_err(|e| e.code),
                Err(codes::GIT_REF),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn mount_paths_from_upstream_tests() {
        for ok in [
            "/data",
            "/mnt/datasets",
            "/home/octelium/data",
            "/workspace-data",
            "/opt/models",
            "/var/lib/my-app",
            "/etc/my-app",
        ] {
            assert!(check_mount_path(ok).is_ok(), "{ok}");
        }
        let nuls = format!("/{}", "\0".repeat(300));
        for bad in [
            "",
            "data",
            "./data",
            "../data",
            "/",
            "/data/",
            "/data/../etc",
            "/data//cache",
            "/proc",
            "/sys",
            "/dev",
            "/etc",
            "/usr",
            "/var",
            "/var/tmp",
            "/var/run",
            "/var/lib/docker",
            "/tmp",
            "/run",
            "/workspace",
            "/cordium-volumes",
            "/cordium-volumes/abc",
            "/proc/self",
            "/sys/fs/cgroup",
            "/dev/shm",
            "/run/octelium",
            "/var/run/octelium-proxy.sock",
            "/var/lib/docker/overlay",
            "/var/lib/containers/storage",
            // Mount options smuggled after the path.
            "/data:U",
            "/data:O",
            "/data,readonly=false",
            "/octelium",
            "/octelium/workspace",
            "/data\\x",
            nuls.as_str(),
        ] {
            assert_eq!(
                check_mount_path(bad).map_err(|e| e.code),
                Err(codes::MOUNT_PATH),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn urls_and_image_references_never_begin_with_a_dash() {
        for ok in [
            "python:3.11-slim",
            "127.0.0.1:5000/a/b:1",
            "https://x/y.git",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for flag in ["--help", "--", "-v", "--authfile=/etc/passwd"] {
            assert_eq!(
                check_url(flag).map_err(|e| e.code),
                Err(codes::URL),
                "{flag}"
            );
        }
    }

    #[test]
    fn https_urls() {
        assert!(check_https_url("https://github.com/example/example.git").is_ok());
        for bad in [
            "http://example.com/example/example",
            "github.com/example/example",
            "https://",
            "https:// x",
        ] {
            assert!(check_https_url(bad).is_err(), "{bad}");
        }
        let e = check_https_url("http://example.com/a").expect_err("http");
        assert_eq!(e.help.as_deref(), Some("use `https://example.com/a`"));
        let e = check_https_url("git@github.com:acme/protos.git").expect_err("scp-like");
        assert_eq!(
            e.help.as_deref(),
            Some("use `https://github.com/acme/protos.git`")
        );
    }

    #[test]
    fn capabilities_and_names() {
        assert!(check_capability("NET_ADMIN").is_ok());
        assert!(check_capability("ALL").is_ok());
        let e = check_capability("cap_net_admin").expect_err("lower");
        assert_eq!(e.help.as_deref(), Some("write `NET_ADMIN`"));
        assert!(check_name("app1").is_ok());
        for bad in ["a", "1app", "app-", "a--b", "App", &"a".repeat(41)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_resource_name("ml-env.research.jdoe", 3).is_ok());
        assert!(check_resource_name("ml-env.research.jdoe", 2).is_err());
    }
}
