//! `login`, and the resource commands: `create`, `get`, `list`, `update`, `delete`.

use super::ClientError;
use super::config::{self, Saved};
use super::connect::{Client, connect, normalize};
use super::document::{self, Input, kind_arg, spec_kind};
use super::wire::{print_list, print_one};
use crate::args::{
    DeleteArgs, GetArgs, ListArgs, LoginArgs, ResourceFormat, ResourceKind, SecretTypeArg,
    ServerArgs, WriteArgs,
};
use crate::output::Output;
use cordium_api as pb;
use std::io::Read as _;

/// Resolves the login (flags, environment, saved file) and connects.
pub(super) async fn client(args: &ServerArgs) -> Result<Client, ClientError> {
    connect(&config::resolve(args)?).await
}

/// `cordium login`: checks the token with a cheap call, then saves the server and token.
pub(super) async fn login(args: &LoginArgs, out: &mut Output) -> Result<(), ClientError> {
    let given = |v: &Option<String>| {
        v.as_ref()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let server = given(&args.server.server).ok_or_else(|| {
        ClientError::Usage("say which server: --server http://HOST:PORT (or CORDIUM_SERVER)".into())
    })?;
    let token = given(&args.server.token).ok_or_else(|| {
        ClientError::Usage("give your API token: --token TOKEN (or CORDIUM_TOKEN)".into())
    })?;
    let login = Saved {
        server: normalize(&server)?,
        token,
    };
    let mut client = connect(&login).await?;
    let config = client
        .api
        .get_user_config(pb::Empty {})
        .await
        .map_err(|e| client.error(e))?
        .into_inner();
    let user = config.metadata.map(|m| m.name).unwrap_or_default();
    let path = config::path()?;
    config::save(&path, &login)?;
    out.out(&format!(
        "logged in to {} as {user}; saved to {}\n",
        login.server,
        path.display()
    ));
    Ok(())
}

/// Whether a kind lives in a Space.
fn in_space(kind: ResourceKind) -> bool {
    matches!(
        kind,
        ResourceKind::Template | ResourceKind::Secret | ResourceKind::Gitprovider
    )
}

fn kind_name(kind: ResourceKind) -> &'static str {
    spec_kind(kind).as_str()
}

/// Splits a name into the resource's own name and its Space: `SPACE/NAME` for the kinds that
/// live in a Space, and, for Templates, `NAME.SPACE` (`python.backend.cordium`), as Template
/// documents are named. `--space` and the document's `status.space` come after, in that order.
fn scope(
    kind: ResourceKind,
    name: &str,
    flag: Option<&str>,
    from_file: Option<&str>,
) -> Result<(String, Option<String>), ClientError> {
    if !in_space(kind) {
        return Ok((name.to_owned(), None));
    }
    let split = match name.split_once('/') {
        Some((space, own)) if !space.is_empty() && !own.is_empty() => Some((own, space)),
        Some(_) => return Err(ClientError::Usage(format!("`{name}`: write SPACE/NAME"))),
        None if kind == ResourceKind::Template => name.split_once('.'),
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

/// The Space of a kind that lives in one, which must be known.
fn required_space(kind: ResourceKind, space: Option<String>) -> Result<String, ClientError> {
    space.filter(|s| !s.is_empty()).ok_or_else(|| {
        ClientError::Usage(format!(
            "say which Space the {} is in: --space SPACE, or write the name as SPACE/NAME",
            kind_name(kind)
        ))
    })
}

fn not_for(flag: &str, kind: ResourceKind) -> ClientError {
    ClientError::Usage(format!(
        "{flag} is not used with {}",
        kind_arg(spec_kind(kind))
    ))
}

/// Refuses flags that make no sense for the kind and command.
fn check_write_flags(args: &WriteArgs, update: bool) -> Result<(), ClientError> {
    let kind = args.kind;
    let secret = matches!(kind, ResourceKind::Secret | ResourceKind::Usersecret);
    if !secret && (args.value_stdin || args.value_from_file.is_some()) {
        return Err(not_for(
            if args.value_stdin {
                "--value-stdin"
            } else {
                "--value-from-file"
            },
            kind,
        ));
    }
    if args.secret_type.is_some() && (kind != ResourceKind::Usersecret || update) {
        return Err(if update {
            ClientError::Usage("--type is set when the UserSecret is created".into())
        } else {
            not_for("--type", kind)
        });
    }
    if args.space.is_some()
        && (matches!(kind, ResourceKind::Space | ResourceKind::Usersecret)
            || (kind == ResourceKind::Workspace && update))
    {
        return Err(if update && kind == ResourceKind::Workspace {
            ClientError::Usage("a workspace's Space cannot change".into())
        } else {
            not_for("--space", kind)
        });
    }
    if args.template.is_some() && (kind != ResourceKind::Workspace || update) {
        return Err(if update && kind == ResourceKind::Workspace {
            ClientError::Usage("a workspace's Template cannot change".into())
        } else {
            not_for("--template", kind)
        });
    }
    if !update && kind == ResourceKind::Workspace && args.name.is_some() {
        return Err(ClientError::Usage(
            "the server names new workspaces; leave NAME out".into(),
        ));
    }
    if args.value_stdin && args.file.as_os_str() == "-" {
        return Err(ClientError::Usage(
            "standard input cannot hold both the document (-f -) and the value (--value-stdin)"
                .into(),
        ));
    }
    Ok(())
}

/// The value given by `--value-from-file` or `--value-stdin`, byte for byte.
fn flag_value(args: &WriteArgs) -> Result<Option<Vec<u8>>, ClientError> {
    const LIMIT: u64 = 1024 * 1024;
    let mut bytes = Vec::new();
    if let Some(path) = &args.value_from_file {
        let fail =
            |e: std::io::Error| ClientError::Usage(format!("cannot read {}: {e}", path.display()));
        std::fs::File::open(path)
            .and_then(|f| f.take(LIMIT + 1).read_to_end(&mut bytes))
            .map_err(fail)?;
    } else if args.value_stdin {
        std::io::stdin()
            .take(LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ClientError::Usage(format!("cannot read standard input: {e}")))?;
    } else {
        return Ok(None);
    }
    if bytes.len() as u64 > LIMIT {
        return Err(ClientError::Input(
            "the secret value is larger than 1 MiB".into(),
        ));
    }
    Ok(Some(bytes))
}

/// The secret value: from the document's `data` or from a flag, not both.
fn secret_value(
    input: &mut Input,
    flag: Option<Vec<u8>>,
) -> Result<Option<pb::SecretData>, ClientError> {
    use pb::secret_data::Value;
    match (input.data.take(), flag) {
        (Some(_), Some(_)) => Err(ClientError::Usage(format!(
            "the value is given twice: in {} (`data`) and by a --value flag; keep one",
            input.file
        ))),
        (Some(data), None) => Ok(Some(data)),
        (None, Some(bytes)) => Ok(Some(pb::SecretData {
            value: Some(match String::from_utf8(bytes) {
                Ok(text) => Value::Text(text),
                Err(e) => Value::Bytes(e.into_bytes()),
            }),
        })),
        (None, None) => Ok(None),
    }
}

fn no_value(kind: &str) -> ClientError {
    ClientError::Usage(format!(
        "a {kind} needs a value: --value-from-file FILE, --value-stdin, or `data: {{value: ...}}` in the document"
    ))
}

/// `cordium create KIND -f FILE`.
pub(super) async fn create(args: &WriteArgs, out: &mut Output) -> Result<(), ClientError> {
    check_write_flags(args, false)?;
    let value = flag_value(args)?;
    let mut input = document::read(&args.file, args.kind, out)?;
    if let Some(name) = &args.name {
        input.metadata.name.clone_from(name);
    }
    let data = secret_value(&mut input, value)?;
    let (name, space) = scope(
        args.kind,
        &input.metadata.name,
        args.space.as_deref(),
        input.space.as_deref(),
    )?;
    input.metadata.name = name;
    let format = args.output.unwrap_or(ResourceFormat::Yaml);
    match args.kind {
        ResourceKind::Space => {
            let mut client = client(&args.server).await?;
            let request = pb::Space {
                metadata: Some(input.metadata),
                spec: input.spec,
                status: None,
            };
            let created = client
                .api
                .create_space(request)
                .await
                .map_err(|e| client.error(e))?
                .into_inner();
            print_one(out, format, &created);
        }
        ResourceKind::Template => {
            let space = required_space(args.kind, space)?;
            let mut client = client(&args.server).await?;
            let status = pb::TemplateStatus {
                space,
                ..Default::default()
            };
            let request = pb::Template {
                metadata: Some(input.metadata),
                spec: input.spec,
                status: Some(status),
            };
            let created = client
                .api
                .create_template(request)
                .await
                .map_err(|e| client.error(e))?
                .into_inner();
            print_one(out, format, &created);
        }
        ResourceKind::Workspace => {
            let (space, template) =
                workspace_target(args.template.as_deref(), args.space.as_deref(), &input)?;
            let mut client = client(&args.server).await?;
            let status = pb::WorkspaceStatus {
                space,
                template,
                ..Default::default()
            };
            let request = pb::Workspace {
                metadata: Some(input.metadata),
                spec: input.spec,
                status: Some(status),
            };
            let created = client
                .api
                .create_workspace(request)
                .await
                .map_err(|e| client.error(e))?
                .into_inner();
            print_one(out, format, &created);
        }
        ResourceKind::Secret => {
            let space = required_space(args.kind, space)?;
            let data = data.ok_or_else(|| no_value("Secret"))?;
            let mut client = client(&args.server).await?;
            let status = pb::SecretStatus {
                space,
                owner: String::new(),
            };
            let request = pb::Secret {
                metadata: Some(input.metadata),
                data: Some(data),
                status: Some(status),
            };
            let created = client
                .api
                .create_secret(request)
                .await
                .map_err(|e| client.error(e))?
                .into_inner();
            print_one(out, format, &created);
        }
        ResourceKind::Usersecret => {
            let ssh = match args.secret_type {
                Some(SecretTypeArg::SshKey) => true,
                Some(SecretTypeArg::Default) if input.ssh_key => {
                    return Err(ClientError::Usage(format!(
                        "--type default, but {} says `spec.type: SSH_KEY`",
                        input.file
                    )));
                }
                Some(SecretTypeArg::Default) => false,
                None => input.ssh_key,
            };
            if ssh && data.is_some() {
                return Err(ClientError::Usage(
                    "an SSH_KEY UserSecret is generated by the server and takes no value".into(),
                ));
            }
            if !ssh && data.is_none() {
                return Err(no_value("UserSecret"));
            }
            let mut client = client(&args.server).await?;
            let r#type = if ssh {
                pb::UserSecretType::SshKey
            } else {
                pb::UserSecretType::Default
            };
            let request = pb::UserSecret {
                metadata: Some(input.metadata),
                r#type: r#type as i32,
                data,
                status: None,
            };
            let created = client
                .api
                .create_user_secret(request)
                .await
                .map_err(|e| client.error(e))?
                .into_inner();
            match args.output {
                // The one thing to do with a new key pair is to install its public key.
                None if ssh => out.out(&format!(
                    "{}\n",
                    created.status.map(|s| s.ssh_public_key).unwrap_or_default()
                )),
                _ => print_one(out, format, &created),
            }
        }
        ResourceKind::Gitprovider => {
            let space = required_space(args.kind, space)?;
            let mut client = client(&args.server).await?;
            let status = pb::SecretStatus {
                space,
                owner: String::new(),
            };
            let request = pb::GitProvider {
                metadata: Some(input.metadata),
                spec: input.spec,
                status: Some(status),
            };
            let created = client
                .api
                .create_git_provider(request)
                .await
                .map_err(|e| client.error(e))?
                .into_inner();
            print_one(out, format, &created);
        }
    }
    Ok(())
}

/// The Space and Template of a new workspace: `--template` (`NAME` or `SPACE/NAME`) and
/// `--space`, else the document's `status`; empty means the server's defaults.
pub(super) fn workspace_target(
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

/// `cordium update KIND [NAME] -f FILE`.
pub(super) async fn update(args: &WriteArgs, out: &mut Output) -> Result<(), ClientError> {
    check_write_flags(args, true)?;
    let value = flag_value(args)?;
    // A secret's value may stay as it is: `data` is optional on update.
    let mut input = document::read(&args.file, args.kind, out)?;
    if let Some(name) = &args.name {
        input.metadata.name.clone_from(name);
    }
    if input.metadata.name.is_empty() {
        return Err(ClientError::Usage(format!(
            "say which {} to update: NAME, or `metadata.name` in {}",
            kind_name(args.kind),
            input.file
        )));
    }
    let data = secret_value(&mut input, value)?;
    let (name, space) = scope(
        args.kind,
        &input.metadata.name,
        args.space.as_deref(),
        input.space.as_deref(),
    )?;
    input.metadata.name = name;
    let format = args.output.unwrap_or(ResourceFormat::Yaml);
    match args.kind {
        ResourceKind::Space => {
            let mut client = client(&args.server).await?;
            let request = pb::Space {
                metadata: Some(input.metadata),
                spec: input.spec,
                status: None,
            };
            let updated = client
                .api
                .update_space(request)
                .await
                .map_err(|e| client.error(e))?
                .into_inner();
            print_one(out, format, &updated);
        }
        ResourceKind::Template => {
            let space = required_space(args.kind, space)?;
            let mut client = client(&args.server).await?;
            let status = pb::TemplateStatus {
                space,
                ..Default::default()
            };
            let request = pb::Template {
                metadata: Some(input.metadata),
                spec: input.spec,
                status: Some(status),
            };
            let updated = client
                .api
                .update_template(request)
                .await
                .map_err(|e| client.error(e))?
                .into_inner();
            print_one(out, format, &updated);
        }
        ResourceKind::Workspace => {
            let mut client = client(&args.server).await?;
            let request = pb::Workspace {
                metadata: Some(input.metadata),
                spec: input.spec,
                status: None,
            };
            let updated = client
                .api
                .update_workspace(request)
                .await
                .map_err(|e| client.error(e))?
                .into_inner();
            print_one(out, format, &updated);
        }
        ResourceKind::Secret => {
            let space = required_space(args.kind, space)?;
            let mut client = client(&args.server).await?;
            let status = pb::SecretStatus {
                space,
                owner: String::new(),
            };
            let request = pb::Secret {
                metadata: Some(input.metadata),
                data,
                status: Some(status),
            };
            let updated = client
                .api
                .update_secret(request)
                .await
                .map_err(|e| client.error(e))?
                .into_inner();
            print_one(out, format, &updated);
        }
        ResourceKind::Usersecret => {
            let mut client = client(&args.server).await?;
            let request = pb::UserSecret {
                metadata: Some(input.metadata),
                r#type: 0,
                data,
                status: None,
            };
            let updated = client
                .api
                .update_user_secret(request)
                .await
                .map_err(|e| client.error(e))?
                .into_inner();
            print_one(out, format, &updated);
        }
        ResourceKind::Gitprovider => {
            let space = required_space(args.kind, space)?;
            let mut client = client(&args.server).await?;
            let status = pb::SecretStatus {
                space,
                owner: String::new(),
            };
            let request = pb::GitProvider {
                metadata: Some(input.metadata),
                spec: input.spec,
                status: Some(status),
            };
            let updated = client
                .api
                .update_git_provider(request)
                .await
                .map_err(|e| client.error(e))?
                .into_inner();
            print_one(out, format, &updated);
        }
    }
    Ok(())
}

/// The reference `get` and `delete` send.
fn reference(kind: ResourceKind, name: &str, space: Option<&str>) -> Result<pb::Ref, ClientError> {
    if !in_space(kind) && space.is_some() {
        return Err(not_for("--space", kind));
    }
    let (name, space) = scope(kind, name, space, None)?;
    let space = if in_space(kind) {
        required_space(kind, space)?
    } else {
        String::new()
    };
    Ok(pb::Ref { name, space })
}

/// `cordium get KIND NAME`.
pub(super) async fn get(args: &GetArgs, out: &mut Output) -> Result<(), ClientError> {
    let r = reference(args.kind, &args.name, args.space.as_deref())?;
    let mut client = client(&args.server).await?;
    let api = &mut client.api;
    let result = match args.kind {
        ResourceKind::Space => api
            .get_space(r)
            .await
            .map(|x| print_one(out, args.output, x.get_ref())),
        ResourceKind::Template => api
            .get_template(r)
            .await
            .map(|x| print_one(out, args.output, x.get_ref())),
        ResourceKind::Workspace => api
            .get_workspace(r)
            .await
            .map(|x| print_one(out, args.output, x.get_ref())),
        ResourceKind::Secret => api
            .get_secret(r)
            .await
            .map(|x| print_one(out, args.output, x.get_ref())),
        ResourceKind::Usersecret => api
            .get_user_secret(r)
            .await
            .map(|x| print_one(out, args.output, x.get_ref())),
        ResourceKind::Gitprovider => api
            .get_git_provider(r)
            .await
            .map(|x| print_one(out, args.output, x.get_ref())),
    };
    result.map_err(|e| client.error(e))
}

/// `cordium list KIND`.
pub(super) async fn list(args: &ListArgs, out: &mut Output) -> Result<(), ClientError> {
    let kind = args.kind;
    if args.space.is_some() && matches!(kind, ResourceKind::Space | ResourceKind::Usersecret) {
        return Err(not_for("--space", kind));
    }
    if args.template.is_some() && kind != ResourceKind::Workspace {
        return Err(not_for("--template", kind));
    }
    let (space, template) = match args.template.as_deref().map(|t| t.split_once('/')) {
        Some(Some((s, t))) => {
            if args.space.as_deref().is_some_and(|flag| flag != s) {
                return Err(ClientError::Usage(format!(
                    "--template names Space `{s}`, but --space says `{}`",
                    args.space.as_deref().unwrap_or_default()
                )));
            }
            (s.to_owned(), t.to_owned())
        }
        _ => (
            args.space.clone().unwrap_or_default(),
            args.template.clone().unwrap_or_default(),
        ),
    };
    let request = pb::ListRequest { space, template };
    let mut client = client(&args.server).await?;
    let api = &mut client.api;
    let f = args.output;
    let result = match kind {
        ResourceKind::Space => api
            .list_space(request)
            .await
            .map(|x| print_list(out, f, &x.get_ref().items)),
        ResourceKind::Template => api
            .list_template(request)
            .await
            .map(|x| print_list(out, f, &x.get_ref().items)),
        ResourceKind::Workspace => api
            .list_workspace(request)
            .await
            .map(|x| print_list(out, f, &x.get_ref().items)),
        ResourceKind::Secret => api
            .list_secret(request)
            .await
            .map(|x| print_list(out, f, &x.get_ref().items)),
        ResourceKind::Usersecret => api
            .list_user_secret(request)
            .await
            .map(|x| print_list(out, f, &x.get_ref().items)),
        ResourceKind::Gitprovider => api
            .list_git_provider(request)
            .await
            .map(|x| print_list(out, f, &x.get_ref().items)),
    };
    result.map_err(|e| client.error(e))
}

/// `cordium delete KIND NAME`.
pub(super) async fn delete(args: &DeleteArgs, out: &mut Output) -> Result<(), ClientError> {
    let r = reference(args.kind, &args.name, args.space.as_deref())?;
    let shown = if r.space.is_empty() {
        r.name.clone()
    } else {
        format!("{}/{}", r.space, r.name)
    };
    let mut client = client(&args.server).await?;
    let api = &mut client.api;
    let result = match args.kind {
        ResourceKind::Space => api.delete_space(r).await,
        ResourceKind::Template => api.delete_template(r).await,
        ResourceKind::Workspace => api.delete_workspace(r).await,
        ResourceKind::Secret => api.delete_secret(r).await,
        ResourceKind::Usersecret => api.delete_user_secret(r).await,
        ResourceKind::Gitprovider => api.delete_git_provider(r).await,
    };
    result.map_err(|e| client.error(e))?;
    out.out(&format!("deleted {} {shown}\n", kind_name(args.kind)));
    Ok(())
}
