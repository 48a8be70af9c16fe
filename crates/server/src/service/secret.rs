//! Secrets: write-only values kept in a Space, sealed under their identity before they reach
//! the store; only their names and metadata are ever answered.

use super::Caller;
use super::api::Api;
use super::documents::bad_field;
use super::resource::{
    Built, Kept, Place, Result, Scope, fresh_metadata, require_name, secret_bytes, updated_metadata,
};
use crate::crypto::sealing_identity;
use crate::pb;
use cordium_spec::Kind;

impl Api {
    /// `value` sealed as the secret of `kind` at `at`.
    pub(crate) fn seal(&self, kind: Kind, at: &Place, value: &[u8]) -> Result<Vec<u8>> {
        Ok(self
            .secrets
            .seal(value, &sealing_identity(kind, &at.scope, &at.name))?)
    }
}

#[tonic::async_trait]
impl Kept for pb::Secret {
    const KIND: Kind = Kind::Secret;
    const SCOPE: Scope = Scope::Space;

    fn requested_space(&self) -> String {
        self.status
            .as_ref()
            .map(|s| s.space.clone())
            .unwrap_or_default()
    }

    async fn build_new(
        api: &Api,
        caller: &Caller,
        at: &Place,
        mut req: Self,
    ) -> Result<Built<Self>> {
        require_name(Kind::Secret, &at.name)?;
        let value = secret_bytes(req.data.take())
            .ok_or_else(|| bad_field("data", "a Secret needs a value"))?;
        let sealed = api.seal(Kind::Secret, at, &value)?;
        Ok(Built {
            resource: pb::Secret {
                metadata: Some(fresh_metadata(req.metadata.take(), &at.name)?),
                data: None,
                status: Some(pb::SecretStatus {
                    space: at.space.clone(),
                    owner: caller.name.clone(),
                }),
            },
            sealed: Some(sealed),
        })
    }

    async fn build_updated(
        api: &Api,
        _caller: &Caller,
        at: &Place,
        stored: Self,
        mut req: Self,
    ) -> Result<Built<Self>> {
        let sealed = match secret_bytes(req.data.take()) {
            Some(v) => Some(api.seal(Kind::Secret, at, &v)?),
            None => None,
        };
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
