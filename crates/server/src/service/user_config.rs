//! UserConfig: each user's own layer, created empty on first use.

use super::Caller;
use super::api::Api;
use super::documents::validate;
use super::resource::{Place, Result, new_record, requested_precondition, updated_metadata};
use crate::pb;
use crate::store::Write;
use cordium_spec::Kind;

impl Api {
    /// GetUserConfig.
    pub(crate) async fn get_user_config(
        &self,
        caller: &Caller,
        _request: pb::Empty,
    ) -> Result<pb::UserConfig> {
        self.user_config(caller)
            .await
            .map(std::sync::Arc::unwrap_or_clone)
    }

    /// UpdateUserConfig: only at the version the request names (if it names one).
    pub(crate) async fn update_user_config(
        &self,
        caller: &Caller,
        mut req: pb::UserConfig,
    ) -> Result<pb::UserConfig> {
        validate(Kind::UserConfig, &caller.name, req.spec.as_deref())?;
        super::documents::validate_metadata(Kind::UserConfig, req.metadata.as_ref())?;
        let stored = self.user_config(caller).await?;
        let precondition = requested_precondition(&mut req)?;
        let out = pb::UserConfig {
            metadata: Some(updated_metadata(stored.metadata.clone(), req.metadata)),
            spec: req.spec,
        };
        let at = Place::owned_by(&caller.name, &caller.name);
        let record = new_record(Kind::UserConfig, &at, &caller.name, &out);
        let write = Write::new(&record).expecting(precondition);
        self.write_update(write, out).await
    }
}
