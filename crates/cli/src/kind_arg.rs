//! The kinds the resource commands take, as people type them: `cordium get ws x7k`. The one
//! kind type is [`cordium_spec::Kind`]; this module only names six of its kinds for the
//! command line (lower case, with plural and dashed aliases) and explains them in `--help`.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use cordium_spec::Kind;
use std::ffi::OsStr;

/// The kinds a server keeps and the resource commands manage, in `--help` order: the kind,
/// its name on the command line ([`kind_arg`], which a test checks), its help line, and
/// the other spellings accepted.
const SERVED: [(Kind, &str, &str, &[&str]); 6] = [
    (
        Kind::Space,
        "space",
        "Spaces (`<name>.<user>` or `<name>.cordium`)",
        &["spaces"],
    ),
    (
        Kind::Template,
        "template",
        "Templates of a Space",
        &["templates"],
    ),
    (
        Kind::Workspace,
        "workspace",
        "Workspaces",
        &["workspaces", "ws"],
    ),
    (Kind::Secret, "secret", "Secrets of a Space", &["secrets"]),
    (
        Kind::UserSecret,
        "usersecret",
        "Your own secrets",
        &["usersecrets", "user-secret", "user-secrets"],
    ),
    (
        Kind::GitProvider,
        "gitprovider",
        "Git providers of a Space",
        &["gitproviders", "git-provider", "git-providers"],
    ),
];

/// The command-line spelling of a kind: its name in lower case (`usersecret`).
pub(crate) fn kind_arg(kind: Kind) -> String {
    kind.as_str().to_ascii_lowercase()
}

/// Parses a resource command's KIND into a [`Kind`], offering exactly the kinds of
/// [`SERVED`] (clap lists them, with their help, and suggests the closest on a typo).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServedKind;

impl ServedKind {
    fn values() -> impl Iterator<Item = (Kind, PossibleValue)> {
        SERVED.iter().map(|&(kind, name, help, aliases)| {
            let value = PossibleValue::new(name)
                .help(help)
                .aliases(aliases.iter().copied());
            (kind, value)
        })
    }
}

impl TypedValueParser for ServedKind {
    type Value = Kind;

    /// Clap's own parser of possible values checks the text, so a wrong one is refused with
    /// clap's message and suggestion; a name that is not UTF-8 is refused the same way, as
    /// the text it shows.
    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Kind, clap::Error> {
        let text = value.to_string_lossy();
        let given = PossibleValuesParser::new(Self::values().map(|(_, v)| v)).parse_ref(
            cmd,
            arg,
            OsStr::new(text.as_ref()),
        )?;
        let ignore_case = arg.is_some_and(clap::Arg::is_ignore_case_set);
        Self::values()
            .find(|(_, v)| v.matches(&given, ignore_case))
            .map(|(kind, _)| kind)
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(Self::values().map(|(_, value)| value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_kind_is_named_as_the_server_names_it() {
        let cmd = clap::Command::new("t");
        for (kind, value) in ServedKind::values() {
            assert_eq!(value.get_name(), kind_arg(kind));
            for name in value.get_name_and_aliases() {
                assert_eq!(
                    ServedKind.parse_ref(&cmd, None, OsStr::new(name)).ok(),
                    Some(kind)
                );
            }
        }
        assert!(
            ServedKind
                .parse_ref(&cmd, None, OsStr::new("userconfig"))
                .is_err()
        );
    }
}
