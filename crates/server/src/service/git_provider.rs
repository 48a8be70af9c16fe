//! GitProviders: a Space's named git hosts, which Templates and Workspaces refer to.

use super::documents::validate;
use super::resource::{
    Built, Context, Kept, Place, Result, Scope, fresh_metadata, require_name, updated_metadata,
};
use crate::pb;
use cordium_spec::Kind;

#[tonic::async_trait]
impl Kept for pb::GitProvider {
    const KIND: Kind = Kind::GitProvider;
    const SCOPE: Scope = Scope::Space;

    fn check_new(at: &Place, req: &Self) -> Result<()> {
        require_name(Kind::GitProvider, &at.name)?;
        validate(Kind::GitProvider, &at.name, req.spec.as_ref())
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

    async fn build_updated(cx: &Context<'_>, stored: Self, req: Self) -> Result<Built<Self>> {
        validate(Kind::GitProvider, &cx.at.name, req.spec.as_ref())?;
        Ok(Built::plain(pb::GitProvider {
            metadata: Some(updated_metadata(stored.metadata, req.metadata)),
            spec: req.spec,
            status: stored.status,
        }))
    }
}
