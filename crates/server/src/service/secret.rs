//! Secrets: write-only values kept in a Space, sealed under their identity before they reach
//! the store; only their names and metadata are ever answered.

use super::documents::bad_field;
use super::resource::{
    Built, Context, Kept, Result, Scope, Updated, fresh_metadata, secret_bytes, updated_metadata,
};
use crate::pb;
use cordium_spec::Kind;

#[tonic::async_trait]
impl Updated for pb::Secret {
    const KIND: Kind = Kind::Secret;

    async fn build_updated(cx: &Context<'_>, stored: Self, mut req: Self) -> Result<Built<Self>> {
        let sealed = cx.reseal(Kind::Secret, secret_bytes(req.data.take())?)?;
        Ok(Built {
            resource: pb::Secret {
                metadata: Some(updated_metadata(stored.metadata, req.metadata)),
                data: None,
                status: stored.status,
            },
            sealed,
        })
    }
}

#[tonic::async_trait]
impl Kept for pb::Secret {
    const SCOPE: Scope = Scope::Space;

    async fn build_new(cx: &Context<'_>, mut req: Self) -> Result<Built<Self>> {
        let value = secret_bytes(req.data.take())?
            .ok_or_else(|| bad_field("data", "a Secret needs a value"))?;
        let sealed = cx.seal(Kind::Secret, &value)?;
        Ok(Built {
            resource: pb::Secret {
                metadata: Some(fresh_metadata(req.metadata.take(), &cx.at.name)?),
                data: None,
                status: Some(pb::SecretStatus {
                    space: cx.at.space.clone(),
                    owner: cx.caller.name.clone(),
                }),
            },
            sealed: Some(sealed),
        })
    }
}
