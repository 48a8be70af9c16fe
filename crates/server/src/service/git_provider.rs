//! GitProviders: a Space's named git hosts, which Templates and Workspaces refer to.

use super::Caller;
use super::api::Api;
use super::documents::validate;
use super::resource::{
    Built, Context, Kept, Place, Respec, Result, Scope, Updated, fresh_metadata, require_name,
};
use crate::pb;
use crate::store::Record;
use cordium_spec::Kind;

#[tonic::async_trait]
impl Updated for pb::GitProvider {
    const KIND: Kind = Kind::GitProvider;

    async fn build_updated(cx: &Context<'_>, stored: Self, req: Self) -> Result<Built<Self>> {
        validate(Kind::GitProvider, &cx.at.name, req.spec.as_deref())?;
        Ok(Built::plain(Self::respec(stored, req)))
    }

    async fn check_update(api: &Api, caller: &Caller, record: &Record) -> Result<()> {
        api.may_change_shared(caller, record).await
    }
}

#[tonic::async_trait]
impl Kept for pb::GitProvider {
    const SCOPE: Scope = Scope::Space;

    fn check_new(at: &Place, req: &Self) -> Result<()> {
        require_name(Kind::GitProvider, &at.name)?;
        validate(Kind::GitProvider, &at.name, req.spec.as_deref())
    }

    async fn check_delete(api: &Api, caller: &Caller, at: &Place) -> Result<()> {
        let (record, _) = api.stored::<Self>(at).await?;
        api.may_change_shared(caller, &record).await
    }

    async fn build_new(cx: &Context<'_>, mut req: Self) -> Result<Built<Self>> {
        Ok(Built::plain(pb::GitProvider {
            metadata: Some(fresh_metadata(req.metadata.take(), &cx.at.name)?),
            spec: req.spec,
            status: Some(pb::SecretStatus {
                space: cx.at.space.clone(),
                owner: cx.caller.name.clone(),
            }),
        }))
    }
}
