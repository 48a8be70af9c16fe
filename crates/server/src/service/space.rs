//! Spaces: named `<name>.<owner>` (a user's) or `<name>.cordium` (an organization's), reached
//! by their owner and members, created with their default Template, deleted with everything
//! in them.

use super::Caller;
use super::api::{Api, DEFAULT_TEMPLATE};
use super::documents::{bad_field, validate, validate_metadata};
use super::pages::{Page, Rows, collect, page_request};
use super::resource::{
    Built, Context, Place, Reach, Reached, Respec, Result, Updated, decode, fresh_metadata,
    new_record, owned_quota, requested_name, with_version,
};
use crate::pb;
use crate::store::{Record, StoreError, Write};
use cordium_spec::Kind;
use tonic::Status;

#[tonic::async_trait]
impl Updated for pb::Space {
    const KIND: Kind = Kind::Space;

    async fn build_updated(cx: &Context<'_>, stored: Self, req: Self) -> Result<Built<Self>> {
        validate(Kind::Space, &cx.at.name, req.spec.as_deref())?;
        Ok(Built::plain(Self::respec(stored, req)))
    }
}

/// An update reaches a Space only for its owner.
#[tonic::async_trait]
impl Reach for pb::Space {
    async fn reach(api: &Api, caller: &Caller, _: &str, name: &str) -> Result<Reached<Self>> {
        let (record, space) = api.owned_space(caller, name).await?;
        Ok((Place::global(name, ""), record, space))
    }
}

/// Whether `caller` owns `space` or is a member.
pub(crate) fn can_access(caller: &Caller, space: &pb::Space) -> bool {
    space
        .status
        .as_ref()
        .is_some_and(|s| s.owner == caller.name || s.members.contains(&caller.name))
}

impl Api {
    /// The Space if the caller owns it; PermissionDenied for a member, NotFound otherwise.
    pub(crate) async fn owned_space(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<(Record, pb::Space)> {
        let found = self.accessible_space(caller, name).await?;
        if found.0.owner != caller.name {
            return Err(Status::permission_denied(format!(
                "only the owner of Space `{name}` may change or delete it"
            )));
        }
        Ok((found.0, (*found.1).clone()))
    }

    /// Creates `default.<user>` with its default Template when it does not exist.
    pub(crate) async fn ensure_default_space(&self, caller: &Caller) -> Result<String> {
        let name = format!("default.{}", caller.name);
        if self.store.get(Kind::Space, "", &name).await?.is_none() {
            self.clear_leftovers(&name).await?;
            let space = pb::Space {
                metadata: Some(pb::Metadata {
                    display_name: "Default Space".into(),
                    ..fresh_metadata(None, &name)?
                }),
                spec: None,
                status: Some(pb::SpaceStatus {
                    owner: caller.name.clone(),
                    r#type: pb::SpaceType::User as i32,
                    members: Vec::new(),
                }),
            };
            match self.create_space_with_template(caller, &name, &space).await {
                Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(name)
    }

    /// Removes the Space Volumes an earlier Space named `name` left in the runtime
    /// ([`cordium_provisioner::runtime::Runtime::remove_space_volumes`]), so that whoever makes
    /// the new one, its former owner or a new user of the same name, starts without its
    /// files. Called only while no Space of the name exists, so nothing in use is touched; a
    /// server that runs no workspaces has none.
    async fn clear_leftovers(&self, name: &str) -> Result<()> {
        let Ok(runtime) = self.runtime() else {
            return Ok(());
        };
        runtime.remove_space_volumes(name).await.map_err(|e| {
            Status::unavailable(format!(
                "the volumes an earlier Space `{name}` left could not be removed ({e}); try again"
            ))
        })
    }

    /// Writes a new Space and its default Template in one transaction.
    async fn create_space_with_template(
        &self,
        caller: &Caller,
        name: &str,
        space: &pb::Space,
    ) -> std::result::Result<(), StoreError> {
        let template = pb::Template {
            metadata: fresh_metadata(None, DEFAULT_TEMPLATE).ok(),
            spec: None,
            status: Some(pb::TemplateStatus {
                space: name.into(),
                owner: caller.name.clone(),
                ..Default::default()
            }),
        };
        let space_record = new_record(Kind::Space, &Place::global(name, ""), &caller.name, space);
        let template_record = new_record(
            Kind::Template,
            &Place::in_space(name, DEFAULT_TEMPLATE),
            &caller.name,
            &template,
        );
        self.store
            .create_all(&[
                Write::new(&space_record).within(owned_quota()),
                Write::new(&template_record).within(owned_quota()),
            ])
            .await
    }

    /// CreateSpace.
    pub(crate) async fn create_space(
        &self,
        caller: &Caller,
        request: pb::Space,
    ) -> Result<pb::Space> {
        let mut space = request;
        let name = requested_name(&mut space);
        let kind = match name.split_once('.') {
            Some((_, "cordium")) => pb::SpaceType::Organization,
            Some((_, owner)) if owner == caller.name => pb::SpaceType::User,
            _ => {
                return Err(bad_field(
                    "metadata.name",
                    format!(
                        "a Space is named `<name>.{}` (yours) or `<name>.cordium` (an organization's)",
                        caller.name
                    ),
                ));
            }
        };
        if kind == pb::SpaceType::Organization && !caller.admin {
            return Err(Status::permission_denied(
                "only administrators create organization Spaces (`<name>.cordium`)",
            ));
        }
        validate(Kind::Space, &name, space.spec.as_deref())?;
        validate_metadata(Kind::Space, space.metadata.as_ref())?;
        let out = pb::Space {
            metadata: Some(fresh_metadata(space.metadata.take(), &name)?),
            spec: space.spec,
            status: Some(pb::SpaceStatus {
                owner: caller.name.clone(),
                r#type: kind as i32,
                members: Vec::new(),
            }),
        };
        if self.store.get(Kind::Space, "", &name).await?.is_none() {
            self.clear_leftovers(&name).await?;
        }
        self.create_space_with_template(caller, &name, &out).await?;
        tracing::info!(user = %caller.name, space = %name, "space created");
        Ok(with_version(out, 1))
    }

    /// GetSpace.
    pub(crate) async fn get_space(&self, caller: &Caller, request: pb::Ref) -> Result<pb::Space> {
        Ok(self
            .accessible_space(caller, &request.name)
            .await?
            .1
            .as_ref()
            .clone())
    }

    /// ListSpace: the Spaces the caller owns or is a member of, a page at a time.
    pub(crate) async fn list_space(
        &self,
        caller: &Caller,
        request: pb::ListRequest,
    ) -> Result<Page<pb::Space>> {
        let page = page_request(Kind::Space, &request)?;
        let rows = Rows::SpacesOf { user: &caller.name };
        // The query reads the Spaces the caller reaches; the body has the last word.
        let keep = |r: &Record| {
            let space: pb::Space = decode(r)?;
            Ok(can_access(caller, &space).then_some(space))
        };
        collect(&self.store, rows, page, keep).await
    }

    /// DeleteSpace: the owner only, with everything in it.
    pub(crate) async fn delete_space(
        &self,
        caller: &Caller,
        r: pb::Ref,
    ) -> Result<pb::DeleteResponse> {
        let name = r.name.clone();
        self.owned_space(caller, &name).await?;
        // Its Templates' pre-builds are not rows: read them before the rows go.
        let templates = self.store.list_in_space(Kind::Template, &name).await?;
        self.store.delete_space(&name).await?;
        for record in templates {
            if let Ok(template) = super::resource::decode::<pb::Template>(&record) {
                let status = template.status.unwrap_or_default();
                self.delete_prebuilds(&record.name, &status).await;
            }
        }
        tracing::info!(user = %caller.name, space = %name, "space deleted with everything in it");
        Ok(pb::DeleteResponse {})
    }
}
