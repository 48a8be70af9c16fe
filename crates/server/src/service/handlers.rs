//! `cordium.v1.MainService`: each call authenticated here, then handed to the module of its
//! resource (`space`, `template`, `workspace`, `exec`, `user_config`, `compile`) or, for the
//! kinds that follow the common rules (`secret`, `user_secret`, `git_provider`, Templates, and
//! the updates of Spaces and Workspaces), to the generic Create/Get/List/Update/Delete of
//! `resource`.

use super::api::Api;
use super::exec::LogStream;
use super::resource::Result;
use super::workspace::WatchStream;
use crate::pb::{self, main_service_server::MainService};
use tonic::{Request, Response};

#[tonic::async_trait]
impl MainService for Api {
    async fn create_space(&self, request: Request<pb::Space>) -> Result<Response<pb::Space>> {
        let caller = self.caller(&request).await?;
        Api::create_space(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_space(&self, request: Request<pb::Ref>) -> Result<Response<pb::Space>> {
        let caller = self.caller(&request).await?;
        Api::get_space(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_space(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::SpaceList>> {
        let caller = self.caller(&request).await?;
        let items = Api::list_space(self, &caller, request.into_inner()).await?;
        Ok(Response::new(pb::SpaceList { items }))
    }

    async fn update_space(&self, request: Request<pb::Space>) -> Result<Response<pb::Space>> {
        let caller = self.caller(&request).await?;
        self.update_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn delete_space(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        let caller = self.caller(&request).await?;
        Api::delete_space(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn create_template(
        &self,
        request: Request<pb::Template>,
    ) -> Result<Response<pb::Template>> {
        let caller = self.caller(&request).await?;
        self.create_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_template(&self, request: Request<pb::Ref>) -> Result<Response<pb::Template>> {
        let caller = self.caller(&request).await?;
        self.get_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_template(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::TemplateList>> {
        let caller = self.caller(&request).await?;
        let items = self.list_kept(&caller, request.into_inner()).await?;
        Ok(Response::new(pb::TemplateList { items }))
    }

    async fn update_template(
        &self,
        request: Request<pb::Template>,
    ) -> Result<Response<pb::Template>> {
        let caller = self.caller(&request).await?;
        self.update_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn delete_template(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        let caller = self.caller(&request).await?;
        self.delete_kept::<pb::Template>(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn build_template(
        &self,
        request: Request<pb::BuildTemplateRequest>,
    ) -> Result<Response<pb::Template>> {
        let caller = self.caller(&request).await?;
        Api::build_template(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn cancel_build_template(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::Template>> {
        let caller = self.caller(&request).await?;
        Api::cancel_build_template(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn create_workspace(
        &self,
        request: Request<pb::Workspace>,
    ) -> Result<Response<pb::Workspace>> {
        let caller = self.caller(&request).await?;
        Api::create_workspace(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_workspace(&self, request: Request<pb::Ref>) -> Result<Response<pb::Workspace>> {
        let caller = self.caller(&request).await?;
        Api::get_workspace(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_workspace(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::WorkspaceList>> {
        let caller = self.caller(&request).await?;
        let items = Api::list_workspace(self, &caller, request.into_inner()).await?;
        Ok(Response::new(pb::WorkspaceList { items }))
    }

    async fn update_workspace(
        &self,
        request: Request<pb::Workspace>,
    ) -> Result<Response<pb::Workspace>> {
        let caller = self.caller(&request).await?;
        self.update_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn delete_workspace(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        let caller = self.caller(&request).await?;
        Api::delete_workspace(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn start_workspace(
        &self,
        request: Request<pb::StartWorkspaceRequest>,
    ) -> Result<Response<pb::Workspace>> {
        let caller = self.caller(&request).await?;
        Api::start_workspace(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn stop_workspace(
        &self,
        request: Request<pb::StopWorkspaceRequest>,
    ) -> Result<Response<pb::Workspace>> {
        let caller = self.caller(&request).await?;
        Api::stop_workspace(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    type WatchWorkspaceStream = WatchStream;

    async fn watch_workspace(
        &self,
        request: Request<pb::WatchWorkspaceRequest>,
    ) -> Result<Response<Self::WatchWorkspaceStream>> {
        let caller = self.caller(&request).await?;
        Api::watch_workspace(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn compile_workspace(
        &self,
        request: Request<pb::CompileWorkspaceRequest>,
    ) -> Result<Response<pb::CompileWorkspaceResponse>> {
        let caller = self.any_caller(&request).await?;
        super::compile::compile_workspace(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn exec_workspace(
        &self,
        request: Request<pb::ExecWorkspaceRequest>,
    ) -> Result<Response<pb::ExecWorkspaceResponse>> {
        let caller = self.caller(&request).await?;
        Api::exec_workspace(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    type WorkspaceLogsStream = LogStream;

    async fn workspace_logs(
        &self,
        request: Request<pb::WorkspaceLogsRequest>,
    ) -> Result<Response<Self::WorkspaceLogsStream>> {
        let caller = self.caller(&request).await?;
        Api::workspace_logs(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn report_workspace_activity(
        &self,
        request: Request<pb::ReportActivityRequest>,
    ) -> Result<Response<pb::Empty>> {
        let caller = self.any_caller(&request).await?;
        Api::report_workspace_activity(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn create_secret(&self, request: Request<pb::Secret>) -> Result<Response<pb::Secret>> {
        let caller = self.caller(&request).await?;
        self.create_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_secret(&self, request: Request<pb::Ref>) -> Result<Response<pb::Secret>> {
        let caller = self.caller(&request).await?;
        self.get_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_secret(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::SecretList>> {
        let caller = self.caller(&request).await?;
        let items = self.list_kept(&caller, request.into_inner()).await?;
        Ok(Response::new(pb::SecretList { items }))
    }

    async fn update_secret(&self, request: Request<pb::Secret>) -> Result<Response<pb::Secret>> {
        let caller = self.caller(&request).await?;
        self.update_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn delete_secret(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        let caller = self.caller(&request).await?;
        self.delete_kept::<pb::Secret>(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn create_user_secret(
        &self,
        request: Request<pb::UserSecret>,
    ) -> Result<Response<pb::UserSecret>> {
        let caller = self.caller(&request).await?;
        self.create_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_user_secret(&self, request: Request<pb::Ref>) -> Result<Response<pb::UserSecret>> {
        let caller = self.caller(&request).await?;
        self.get_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_user_secret(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::UserSecretList>> {
        let caller = self.caller(&request).await?;
        let items = self.list_kept(&caller, request.into_inner()).await?;
        Ok(Response::new(pb::UserSecretList { items }))
    }

    async fn update_user_secret(
        &self,
        request: Request<pb::UserSecret>,
    ) -> Result<Response<pb::UserSecret>> {
        let caller = self.caller(&request).await?;
        self.update_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn delete_user_secret(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        let caller = self.caller(&request).await?;
        self.delete_kept::<pb::UserSecret>(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn create_git_provider(
        &self,
        request: Request<pb::GitProvider>,
    ) -> Result<Response<pb::GitProvider>> {
        let caller = self.caller(&request).await?;
        self.create_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_git_provider(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::GitProvider>> {
        let caller = self.caller(&request).await?;
        self.get_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_git_provider(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::GitProviderList>> {
        let caller = self.caller(&request).await?;
        let items = self.list_kept(&caller, request.into_inner()).await?;
        Ok(Response::new(pb::GitProviderList { items }))
    }

    async fn update_git_provider(
        &self,
        request: Request<pb::GitProvider>,
    ) -> Result<Response<pb::GitProvider>> {
        let caller = self.caller(&request).await?;
        self.update_kept(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn delete_git_provider(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        let caller = self.caller(&request).await?;
        self.delete_kept::<pb::GitProvider>(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_user_config(
        &self,
        request: Request<pb::Empty>,
    ) -> Result<Response<pb::UserConfig>> {
        let caller = self.caller(&request).await?;
        Api::get_user_config(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn update_user_config(
        &self,
        request: Request<pb::UserConfig>,
    ) -> Result<Response<pb::UserConfig>> {
        let caller = self.caller(&request).await?;
        Api::update_user_config(self, &caller, request.into_inner())
            .await
            .map(Response::new)
    }
}
