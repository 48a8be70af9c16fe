//! `cordium.v1.ManagementService`: the ClusterConfig, for administrators.

use super::documents::validate;
use super::handlers::{Api, Resource, now};
use crate::pb::{self, management_service_server::ManagementService};
use crate::store::{Record, Write};
use cordium_spec::Kind;
use prost::Message as _;
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
            self.api.cluster_config().await?.unwrap_or_default(),
        ))
    }

    async fn update_cluster_config(
        &self,
        request: Request<pb::ClusterConfig>,
    ) -> Result<Response<pb::ClusterConfig>, Status> {
        let caller = self.admin(&request).await?;
        let mut req = request.into_inner();
        validate(Kind::ClusterConfig, "cluster", req.spec.as_ref())?;
        let version = req.meta().as_ref().map_or(0, |m| m.resource_version);
        let mut out = pb::ClusterConfig {
            metadata: Some(pb::Metadata {
                name: "cluster".into(),
                updated_at: Some(now()),
                ..Default::default()
            }),
            spec: req.spec,
        };
        let record = Record {
            kind: "ClusterConfig",
            scope: String::new(),
            name: "cluster".into(),
            owner: caller.name.clone(),
            space: String::new(),
            body: out.encode_to_vec(),
            version,
        };
        let v = match self.api.store.get("ClusterConfig", "", "cluster").await? {
            Some(_) => {
                self.api
                    .store
                    .update(Write {
                        record: &record,
                        secret: None,
                        event: false,
                    })
                    .await?
            }
            None => {
                self.api
                    .store
                    .create(Write {
                        record: &record,
                        secret: None,
                        event: false,
                    })
                    .await?;
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
