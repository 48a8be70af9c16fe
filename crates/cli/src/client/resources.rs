//! The resource commands, `create`, `get`, `list`, `update` and `delete`, written once for
//! every kind the server keeps ([`ServerResource`]).

use super::connect::call;
use super::document;
use super::error::ClientError;
use super::kinds::{Draft, ServerResource, Write};
use super::print::{print_list, print_one};
use super::scope::{self, Scope, not_for};
use super::value::{flag_value, secret_value};
use crate::args::{ListArgs, NamedArgs, OnServer, Printed, ResourceFormat, WriteArgs};
use crate::output::Output;
use cordium_api as pb;
use cordium_spec::Kind;

/// A resource command and its flags.
pub(crate) enum Verb<'a> {
    /// `cordium create KIND -f FILE`.
    Create(&'a OnServer<WriteArgs>),
    /// `cordium update KIND [NAME] -f FILE`.
    Update(&'a OnServer<WriteArgs>),
    /// `cordium get KIND NAME`.
    Get(&'a Printed<NamedArgs>),
    /// `cordium list KIND`.
    List(&'a Printed<ListArgs>),
    /// `cordium delete KIND NAME`.
    Delete(&'a OnServer<NamedArgs>),
}

/// Runs a resource command for the kind it names.
pub(crate) async fn run(verb: Verb<'_>, out: &mut Output) -> Result<(), ClientError> {
    match verb.kind() {
        Kind::Space => verb.run::<pb::Space>(out).await,
        Kind::Template => verb.run::<pb::Template>(out).await,
        Kind::Workspace => verb.run::<pb::Workspace>(out).await,
        Kind::Secret => verb.run::<pb::Secret>(out).await,
        Kind::UserSecret => verb.run::<pb::UserSecret>(out).await,
        Kind::GitProvider => verb.run::<pb::GitProvider>(out).await,
        // The command line offers only the kinds above.
        kind @ (Kind::UserConfig | Kind::ClusterConfig) => Err(ClientError::Usage(format!(
            "the resource commands do not manage {} documents",
            kind.as_str()
        ))),
    }
}

impl Verb<'_> {
    /// The kind the command names.
    fn kind(&self) -> Kind {
        match self {
            Self::Create(command) | Self::Update(command) => command.flags.kind,
            Self::Get(command) => command.flags.kind,
            Self::List(command) => command.flags.kind,
            Self::Delete(command) => command.flags.kind,
        }
    }

    /// Runs the command for kind `T`.
    async fn run<T: ServerResource>(self, out: &mut Output) -> Result<(), ClientError> {
        match self {
            Self::Create(command) => write::<T>(command, Write::Create, out).await,
            Self::Update(command) => write::<T>(command, Write::Update, out).await,
            Self::Get(command) => {
                let args = &command.flags;
                let r = scope::reference(T::KIND, T::SCOPE, &args.name, args.space.as_deref())?;
                let item = call(&command.server, async |api| T::get(api, r).await).await?;
                print_one(out, command.output, &item);
                if T::KIND == Kind::Workspace && command.output == ResourceFormat::Yaml {
                    super::applications::print(&command.server, &args.name, out).await;
                }
                Ok(())
            }
            Self::List(command) => {
                let args = &command.flags;
                let (space, template) = (args.space.as_deref(), args.template.as_deref());
                let request = scope::list_request(T::KIND, T::SCOPE, space, template)?;
                let items = call(&command.server, async |api| T::list(api, request).await).await?;
                print_list(out, command.output, &items);
                Ok(())
            }
            Self::Delete(command) => delete::<T>(command, out).await,
        }
    }
}

/// Refuses flags that make no sense for the kind and command.
fn check_write_flags<T: ServerResource>(args: &WriteArgs, write: Write) -> Result<(), ClientError> {
    let kind = T::KIND;
    let update = write == Write::Update;
    if !T::HOLDS_VALUE && (args.value_stdin || args.value_from_file.is_some()) {
        return Err(not_for(
            if args.value_stdin {
                "--value-stdin"
            } else {
                "--value-from-file"
            },
            kind,
        ));
    }
    if args.secret_type.is_some() && (kind != Kind::UserSecret || update) {
        return Err(if update {
            ClientError::Usage("--type is set when the UserSecret is created".into())
        } else {
            not_for("--type", kind)
        });
    }
    if args.space.is_some() && (T::SCOPE == Scope::NoSpace || (kind == Kind::Workspace && update)) {
        return Err(if update && kind == Kind::Workspace {
            ClientError::Usage("a workspace's Space cannot change".into())
        } else {
            not_for("--space", kind)
        });
    }
    if args.template.is_some() && (kind != Kind::Workspace || update) {
        return Err(if update && kind == Kind::Workspace {
            ClientError::Usage("a workspace's Template cannot change".into())
        } else {
            not_for("--template", kind)
        });
    }
    if !update && kind == Kind::Workspace && args.name.is_some() {
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

/// Reads and checks everything a `create` or `update` sends, before connecting.
fn draft<'a, T: ServerResource>(
    args: &'a WriteArgs,
    write: Write,
    out: &mut Output,
) -> Result<Draft<'a>, ClientError> {
    check_write_flags::<T>(args, write)?;
    let value = flag_value(args)?;
    // A secret's value may stay as it is: `data` is optional on update.
    let mut input = document::read(&args.file, T::KIND, out)?;
    if let Some(name) = &args.name {
        input.metadata.name.clone_from(name);
    }
    if write == Write::Update && input.metadata.name.is_empty() {
        return Err(ClientError::Usage(format!(
            "say which {} to update: NAME, or `metadata.name` in {}",
            T::KIND.as_str(),
            input.file
        )));
    }
    let data = secret_value(&mut input, value)?;
    let (name, space) = scope::split(
        T::KIND,
        T::SCOPE,
        &input.metadata.name,
        args.space.as_deref(),
        input.space.as_deref(),
    )?;
    input.metadata.name = name;
    Ok(Draft {
        input,
        data,
        space,
        flags: args,
    })
}

/// `cordium create KIND -f FILE` and `cordium update KIND [NAME] -f FILE`.
async fn write<T: ServerResource>(
    command: &OnServer<WriteArgs>,
    write: Write,
    out: &mut Output,
) -> Result<(), ClientError> {
    let args = &command.flags;
    let request = T::request(draft::<T>(args, write, out)?, write)?;
    let written = call(&command.server, async |api| match write {
        Write::Create => T::create(api, request).await,
        Write::Update => T::update(api, request).await,
    })
    .await?;
    match (args.output, write, written.brief()) {
        (None, Write::Create, Some(brief)) => out.out(&brief),
        (format, ..) => print_one(out, format.unwrap_or(ResourceFormat::Yaml), &written),
    }
    Ok(())
}

/// `cordium delete KIND NAME`.
async fn delete<T: ServerResource>(
    command: &OnServer<NamedArgs>,
    out: &mut Output,
) -> Result<(), ClientError> {
    let args = &command.flags;
    let r = scope::reference(T::KIND, T::SCOPE, &args.name, args.space.as_deref())?;
    let shown = if r.space.is_empty() {
        r.name.clone()
    } else {
        format!("{}/{}", r.space, r.name)
    };
    call(&command.server, async |api| T::delete(api, r).await).await?;
    out.out(&format!("deleted {} {shown}\n", T::KIND.as_str()));
    Ok(())
}
