//! GitProviders: a Space's named git hosts, which Templates and Workspaces refer to.

use super::Caller;
use super::api::Api;
use super::documents::validate;
use super::resource::{
    Built, Kept, Place, Result, Scope, fresh_metadata, require_name, updated_metadata,
};
use crate::pb;
use cordium_spec::Kind;

#[tonic::async_trait]
impl Kept for pb::GitProvider {
    const KIND: Kind = Kind::GitProvider;
    const SCOPE: Scope = Scope::Space;

    fn requested_space(&self) -> String {
        self.status
            .as_ref()
            .map(|s| s.space.clone())
            .unwrap_or_default()
    }

    async fn build_new(
        _api: &Api,
        caller: &Caller,
        at: &Place,
        mut req: Self,
    ) -> Result<Built<Self>> {
        require_name(Kind::GitProvider, &at.name)?;
        validate(Kind::GitProvider, &at.name, req.spec.as_ref())?;
        Ok(Built::plain(pb::GitProvider {
            metadata: Some(fresh_metadata(req.metadata.take(), &at.name)?),
            spec: req.spec,
            status: Some(pb::SecretStatus {
                space: at.space.clone(),
                owner: caller.name.clone(),
            }),
        }))
    }

    async fn build_updated(
        _api: &Api,
        _caller: &Caller,
        at: &Place,
        stored: Self,
        req: Self,
    ) -> Result<Built<Self>> {
        validate(Kind::GitProvider, &at.name, req.spec.as_ref())?;
        Ok(Built::plain(pb::GitProvider {
            metadata: Some(updated_metadata(stored.metadata, req.metadata)),
            spec: req.spec,
            status: stored.status,
        }))
    }
}
