//! `cordium.v1.ManagementService`: the ClusterConfig, for administrators.

use super::api::Api;
use super::documents::validate;
use super::resource::{Place, Resource, new_record, now, requested_precondition};
use crate::pb::{self, management_service_server::ManagementService};
use crate::store::Write;
use cordium_spec::Kind;
use tonic::{Request, Response, Status};

/// The ManagementService implementation (shares the MainService's store and identity).
#[derive(Debug, Clone)]
pub struct Management {
    api: Api,
}

impl Management {
    /// Administration over the same store as `api`.
    pub fn new(api: Api) -> Self {
        Self { api }
    }

    async fn admin<T>(&self, request: &Request<T>) -> Result<super::Caller, Status> {
        let caller = self.api.caller(request).await?;
        if !caller.admin {
            return Err(Status::permission_denied(
                "the ClusterConfig is for administrators",
            ));
        }
        Ok(caller)
    }
}

#[tonic::async_trait]
impl ManagementService for Management {
    async fn get_cluster_config(
        &self,
        request: Request<pb::Empty>,
    ) -> Result<Response<pb::ClusterConfig>, Status> {
        self.admin(&request).await?;
        Ok(Response::new(
            self.api
                .cluster_config()
                .await?
                .map(std::sync::Arc::unwrap_or_clone)
                .unwrap_or_default(),
        ))
    }

    async fn update_cluster_config(
        &self,
        request: Request<pb::ClusterConfig>,
    ) -> Result<Response<pb::ClusterConfig>, Status> {
        let caller = self.admin(&request).await?;
        let mut req = request.into_inner();
        validate(Kind::ClusterConfig, "cluster", req.spec.as_deref())?;
        let precondition = requested_precondition(&mut req)?;
        let mut out = pb::ClusterConfig {
            metadata: Some(pb::Metadata {
                name: "cluster".into(),
                updated_at: Some(now()),
                ..Default::default()
            }),
            spec: req.spec,
        };
        let at = Place::global("cluster", "");
        let record = new_record(Kind::ClusterConfig, &at, &caller.name, &out);
        let write = Write::new(&record).expecting(precondition);
        let v = match self
            .api
            .store
            .get(Kind::ClusterConfig, "", "cluster")
            .await?
        {
            Some(_) => self.api.store.update(write).await?,
            None => {
                self.api.store.create(write).await?;
                1
            }
        };
        if let Some(m) = out.meta() {
            m.resource_version = v;
        }
        tracing::info!(user = %caller.name, "cluster config updated");
        Ok(Response::new(out))
    }
}
