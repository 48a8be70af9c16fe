//! Where a named resource is: its own name and its Space, from `SPACE/NAME` (and a
//! Template's `NAME.SPACE`), `--space` and the document's `status.space`, in that order.

use super::document::Input;
use super::error::ClientError;
use crate::kind_arg::kind_arg;
use cordium_api as pb;
use cordium_spec::Kind;

/// Where the resources of a kind are named, which decides what `--space` means for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// In no Space (Spaces, UserSecrets): `--space` is refused.
    NoSpace,
    /// In a Space, but named alone, the name being unique (Workspaces): `--space` picks a
    /// new one's Space and filters a list.
    UniqueName,
    /// Named within its Space (Templates, Secrets, GitProviders): `SPACE/NAME`, or `NAME`
    /// and `--space`.
    InSpace,
}

/// Splits a name into the resource's own name and its Space: `SPACE/NAME` for the kinds
/// named within a Space, and, for Templates, `NAME.SPACE` (`python.backend.cordium`), as
/// Template documents are named. `--space` and the document's `status.space` come after,
/// in that order.
pub(crate) fn split(
    kind: Kind,
    scope: Scope,
    name: &str,
    flag: Option<&str>,
    from_file: Option<&str>,
) -> Result<(String, Option<String>), ClientError> {
    if scope != Scope::InSpace {
        return Ok((name.to_owned(), None));
    }
    let split = match name.split_once('/') {
        Some((space, own)) if !space.is_empty() && !own.is_empty() => Some((own, space)),
        Some(_) => return Err(ClientError::Usage(format!("`{name}`: write SPACE/NAME"))),
        None if kind == Kind::Template => name.split_once('.'),
        None => None,
    };
    let (own, from_name) = match split {
        Some((own, space)) => (own, Some(space)),
        None => (name, None),
    };
    if let (Some(flag), Some(named)) = (flag, from_name)
        && flag != named
    {
        return Err(ClientError::Usage(format!(
            "`{name}` names Space `{named}`, but --space says `{flag}`"
        )));
    }
    Ok((
        own.to_owned(),
        flag.or(from_name).or(from_file).map(str::to_owned),
    ))
}

/// The Space of a kind named within one, which must be known.
pub(crate) fn required_space(kind: Kind, space: Option<String>) -> Result<String, ClientError> {
    space.filter(|s| !s.is_empty()).ok_or_else(|| {
        ClientError::Usage(format!(
            "say which Space the {} is in: --space SPACE, or write the name as SPACE/NAME",
            kind.as_str()
        ))
    })
}

/// A flag given to a kind it does not apply to.
pub(crate) fn not_for(flag: &str, kind: Kind) -> ClientError {
    ClientError::Usage(format!("{flag} is not used with {}", kind_arg(kind)))
}

/// The reference `get` and `delete` send.
pub(crate) fn reference(
    kind: Kind,
    scope: Scope,
    name: &str,
    space: Option<&str>,
) -> Result<pb::Ref, ClientError> {
    if scope != Scope::InSpace && space.is_some() {
        return Err(not_for("--space", kind));
    }
    let (name, space) = split(kind, scope, name, space, None)?;
    let space = match scope {
        Scope::InSpace => required_space(kind, space)?,
        Scope::NoSpace | Scope::UniqueName => String::new(),
    };
    Ok(pb::Ref { name, space })
}

/// What `list` asks for: `--space`, and for Workspaces `--template` (`NAME` or
/// `SPACE/NAME`).
pub(crate) fn list_request(
    kind: Kind,
    scope: Scope,
    space_flag: Option<&str>,
    template_flag: Option<&str>,
) -> Result<pb::ListRequest, ClientError> {
    if space_flag.is_some() && scope == Scope::NoSpace {
        return Err(not_for("--space", kind));
    }
    if template_flag.is_some() && kind != Kind::Workspace {
        return Err(not_for("--template", kind));
    }
    let (space, template) = match template_flag.map(|t| t.split_once('/')) {
        Some(Some((s, t))) => {
            if let Some(flag) = space_flag.filter(|flag| *flag != s) {
                return Err(ClientError::Usage(format!(
                    "--template names Space `{s}`, but --space says `{flag}`"
                )));
            }
            (s, t)
        }
        _ => (
            space_flag.unwrap_or_default(),
            template_flag.unwrap_or_default(),
        ),
    };
    Ok(pb::ListRequest {
        space: space.to_owned(),
        template: template.to_owned(),
        ..Default::default()
    })
}

/// The Space and Template of a new workspace: `--template` (`NAME` or `SPACE/NAME`) and
/// `--space`, else the document's `status`; empty means the server's defaults.
pub(crate) fn workspace_target(
    template_flag: Option<&str>,
    space_flag: Option<&str>,
    input: &Input,
) -> Result<(String, String), ClientError> {
    let (template_space, template) = match template_flag {
        Some(t) => match t.split_once('/') {
            Some((s, n)) if !s.is_empty() && !n.is_empty() => (Some(s), Some(n)),
            Some(_) => {
                return Err(ClientError::Usage(format!(
                    "--template `{t}`: write NAME or SPACE/NAME"
                )));
            }
            None => (None, Some(t)),
        },
        None => (None, None),
    };
    if let (Some(flag), Some(named)) = (space_flag, template_space)
        && flag != named
    {
        return Err(ClientError::Usage(format!(
            "--template names Space `{named}`, but --space says `{flag}`"
        )));
    }
    let space = space_flag
        .or(template_space)
        .or(input.space.as_deref())
        .unwrap_or_default();
    let template = template.or(input.template.as_deref()).unwrap_or_default();
    Ok((space.to_owned(), template.to_owned()))
}
