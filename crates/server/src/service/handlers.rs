//! `cordium.v1.MainService`: each call handed to the module of its resource (`space`,
//! `template`, `workspace`, `exec`, `user_config`) or, for the kinds that follow the common
//! rules (`secret`, `user_secret`, `git_provider`, and Templates' reads, updates and deletes), to
//! the generic Create/Get/List/Update/Delete of `resource`.

use super::api::Api;
use super::exec::LogStream;
use super::resource::Result;
use super::workspace::WatchStream;
use crate::pb::{self, main_service_server::MainService};
use tonic::{Request, Response, Status};

#[tonic::async_trait]
impl MainService for Api {
    async fn create_space(&self, request: Request<pb::Space>) -> Result<Response<pb::Space>> {
        Api::create_space(self, request).await
    }

    async fn get_space(&self, request: Request<pb::Ref>) -> Result<Response<pb::Space>> {
        Api::get_space(self, request).await
    }

    async fn list_space(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::SpaceList>> {
        let items = Api::list_space(self, request).await?;
        Ok(Response::new(pb::SpaceList { items }))
    }

    async fn update_space(&self, request: Request<pb::Space>) -> Result<Response<pb::Space>> {
        Api::update_space(self, request).await
    }

    async fn delete_space(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        Api::delete_space(self, request).await
    }

    async fn create_template(
        &self,
        request: Request<pb::Template>,
    ) -> Result<Response<pb::Template>> {
        self.create_kept(request).await
    }

    async fn get_template(&self, request: Request<pb::Ref>) -> Result<Response<pb::Template>> {
        self.get_kept(request).await
    }

    async fn list_template(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::TemplateList>> {
        let items = self.list_kept(request).await?;
        Ok(Response::new(pb::TemplateList { items }))
    }

    async fn update_template(
        &self,
        request: Request<pb::Template>,
    ) -> Result<Response<pb::Template>> {
        self.update_kept(request).await
    }

    async fn delete_template(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        self.delete_kept::<pb::Template>(request).await
    }

    async fn build_template(
        &self,
        request: Request<pb::BuildTemplateRequest>,
    ) -> Result<Response<pb::Template>> {
        Api::build_template(self, request).await
    }

    async fn cancel_build_template(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::Template>> {
        Api::cancel_build_template(self, request).await
    }

    async fn create_workspace(
        &self,
        request: Request<pb::Workspace>,
    ) -> Result<Response<pb::Workspace>> {
        Api::create_workspace(self, request).await
    }

    async fn get_workspace(&self, request: Request<pb::Ref>) -> Result<Response<pb::Workspace>> {
        Api::get_workspace(self, request).await
    }

    async fn list_workspace(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::WorkspaceList>> {
        let items = Api::list_workspace(self, request).await?;
        Ok(Response::new(pb::WorkspaceList { items }))
    }

    async fn update_workspace(
        &self,
        request: Request<pb::Workspace>,
    ) -> Result<Response<pb::Workspace>> {
        Api::update_workspace(self, request).await
    }

    async fn delete_workspace(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        Api::delete_workspace(self, request).await
    }

    async fn start_workspace(
        &self,
        request: Request<pb::StartWorkspaceRequest>,
    ) -> Result<Response<pb::Workspace>> {
        Api::start_workspace(self, request).await
    }

    async fn stop_workspace(
        &self,
        request: Request<pb::StopWorkspaceRequest>,
    ) -> Result<Response<pb::Workspace>> {
        Api::stop_workspace(self, request).await
    }

    type WatchWorkspaceStream = WatchStream;

    async fn watch_workspace(
        &self,
        request: Request<pb::WatchWorkspaceRequest>,
    ) -> Result<Response<Self::WatchWorkspaceStream>> {
        Api::watch_workspace(self, request).await
    }

    async fn compile_workspace(
        &self,
        request: Request<pb::CompileWorkspaceRequest>,
    ) -> Result<Response<pb::CompileWorkspaceResponse>> {
        let caller = self.any_caller(&request).await?;
        let req = request.into_inner();
        if let Some(own) = &caller.session {
            let named = match &req.target {
                Some(pb::compile_workspace_request::Target::Name(name)) => name == own,
                _ => false,
            };
            if !named {
                return Err(Status::permission_denied(format!(
                    "a session credential may only compile its own workspace `{own}`"
                )));
            }
        }
        super::compile::compile(self, &caller, req)
            .await
            .map(Response::new)
    }

    async fn exec_workspace(
        &self,
        request: Request<pb::ExecWorkspaceRequest>,
    ) -> Result<Response<pb::ExecWorkspaceResponse>> {
        Api::exec_workspace(self, request).await
    }

    type WorkspaceLogsStream = LogStream;

    async fn workspace_logs(
        &self,
        request: Request<pb::WorkspaceLogsRequest>,
    ) -> Result<Response<Self::WorkspaceLogsStream>> {
        Api::workspace_logs(self, request).await
    }

    async fn report_workspace_activity(
        &self,
        request: Request<pb::ReportActivityRequest>,
    ) -> Result<Response<pb::Empty>> {
        Api::report_workspace_activity(self, request).await
    }

    async fn create_secret(&self, request: Request<pb::Secret>) -> Result<Response<pb::Secret>> {
        self.create_kept(request).await
    }

    async fn get_secret(&self, request: Request<pb::Ref>) -> Result<Response<pb::Secret>> {
        self.get_kept(request).await
    }

    async fn list_secret(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::SecretList>> {
        let items = self.list_kept(request).await?;
        Ok(Response::new(pb::SecretList { items }))
    }

    async fn update_secret(&self, request: Request<pb::Secret>) -> Result<Response<pb::Secret>> {
        self.update_kept(request).await
    }

    async fn delete_secret(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        self.delete_kept::<pb::Secret>(request).await
    }

    async fn create_user_secret(
        &self,
        request: Request<pb::UserSecret>,
    ) -> Result<Response<pb::UserSecret>> {
        self.create_kept(request).await
    }

    async fn get_user_secret(&self, request: Request<pb::Ref>) -> Result<Response<pb::UserSecret>> {
        self.get_kept(request).await
    }

    async fn list_user_secret(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::UserSecretList>> {
        let items = self.list_kept(request).await?;
        Ok(Response::new(pb::UserSecretList { items }))
    }

    async fn update_user_secret(
        &self,
        request: Request<pb::UserSecret>,
    ) -> Result<Response<pb::UserSecret>> {
        self.update_kept(request).await
    }

    async fn delete_user_secret(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        self.delete_kept::<pb::UserSecret>(request).await
    }

    async fn create_git_provider(
        &self,
        request: Request<pb::GitProvider>,
    ) -> Result<Response<pb::GitProvider>> {
        self.create_kept(request).await
    }

    async fn get_git_provider(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::GitProvider>> {
        self.get_kept(request).await
    }

    async fn list_git_provider(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::GitProviderList>> {
        let items = self.list_kept(request).await?;
        Ok(Response::new(pb::GitProviderList { items }))
    }

    async fn update_git_provider(
        &self,
        request: Request<pb::GitProvider>,
    ) -> Result<Response<pb::GitProvider>> {
        self.update_kept(request).await
    }

    async fn delete_git_provider(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        self.delete_kept::<pb::GitProvider>(request).await
    }

    async fn get_user_config(
        &self,
        request: Request<pb::Empty>,
    ) -> Result<Response<pb::UserConfig>> {
        Api::get_user_config(self, request).await
    }

    async fn update_user_config(
        &self,
        request: Request<pb::UserConfig>,
    ) -> Result<Response<pb::UserConfig>> {
        Api::update_user_config(self, request).await
    }
}
