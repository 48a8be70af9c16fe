//! `cordium.v1.MainService`: each call authenticated here, then handed to the module of its
//! resource (`space`, `template`, `workspace`, `exec`, `user_config`, `compile`) or, for the
//! kinds that follow the common rules (`secret`, `user_secret`, `git_provider`, Templates, and
//! the updates of Spaces and Workspaces), to the generic Create/Get/List/Update/Delete of
//! `resource`. The table below is the whole service: a call, who may make it, and the function
//! that answers it.

use super::api::Api;
use super::exec::LogStream;
use super::resource::Result;
use super::watch::WatchStream;
use crate::pb::{self, main_service_server::MainService};
use tonic::{Request, Response};

/// The MainService impl from a table: `call(Request) -> Response = authentication => answer;`
/// for calls answered by one message, `call(Request) -> List = authentication => page;` for
/// the list calls (a [`super::pages::Page`]) (`caller`: users only; `any_caller`: a workspace's session too),
/// `call(Request) -> Stream => answer;` for the long-lived calls (the streams, and the unary
/// ExecWorkspace, whose command may run for hours), which keep the caller's token to
/// authenticate it again while they run, and `call(Request) -> Response => answer;`
/// for the sign-in calls made without a bearer (the request carries the credential, or
/// begins a sign-in that will give one).
macro_rules! main_service {
    (
        calls { $($call:ident($req:ty) -> $resp:ty = $who:ident => $answer:expr;)* }
        streams { $($stream:ident($sreq:ty) -> $sresp:ty => $sanswer:expr;)* }
        unauthenticated { $($open:ident($oreq:ty) -> $oresp:ty => $oanswer:expr;)* }
        lists { $($list:ident($lreq:ty) -> $lresp:ident = $lwho:ident => $items:expr;)* }
    ) => {
        #[tonic::async_trait]
        impl MainService for Api {
            type WatchWorkspaceStream = WatchStream;
            type WorkspaceLogsStream = LogStream;
            type ExecStreamStream = super::stream::ExecStreamOut;
            type PortForwardStream = super::stream::PortForwardOut;

            $(
                async fn $stream(&self, request: Request<$sreq>) -> Result<Response<$sresp>> {
                    let caller = self.caller(&request).await?;
                    let token = Api::bearer(&request)?.to_owned();
                    ($sanswer)(self, &caller, token, request.into_inner())
                        .await
                        .map(Response::new)
                }
            )*

            $(
                async fn $open(&self, request: Request<$oreq>) -> Result<Response<$oresp>> {
                    ($oanswer)(self, request.into_inner()).await.map(Response::new)
                }
            )*

            $(
                async fn $call(&self, request: Request<$req>) -> Result<Response<$resp>> {
                    let caller = self.$who(&request).await?;
                    ($answer)(self, &caller, request.into_inner()).await.map(Response::new)
                }
            )*

            $(
                async fn $list(&self, request: Request<$lreq>) -> Result<Response<pb::$lresp>> {
                    let caller = self.$lwho(&request).await?;
                    let page = ($items)(self, &caller, request.into_inner()).await?;
                    Ok(Response::new(pb::$lresp {
                        items: page.items,
                        next_page_token: page.next_page_token,
                    }))
                }
            )*
        }
    };
}

main_service! {
    calls {
        create_space(pb::Space) -> pb::Space = caller => Api::create_space;
        get_space(pb::Ref) -> pb::Space = caller => Api::get_space;
        update_space(pb::Space) -> pb::Space = caller => Api::update_kept::<pb::Space>;
        delete_space(pb::Ref) -> pb::DeleteResponse = caller => Api::delete_space;

        create_template(pb::Template) -> pb::Template = caller => Api::create_kept::<pb::Template>;
        get_template(pb::Ref) -> pb::Template = caller => Api::get_kept::<pb::Template>;
        update_template(pb::Template) -> pb::Template = caller => Api::update_kept::<pb::Template>;
        delete_template(pb::Ref) -> pb::DeleteResponse = caller => Api::delete_kept::<pb::Template>;
        build_template(pb::BuildTemplateRequest) -> pb::Template = caller => Api::build_template;
        cancel_build_template(pb::Ref) -> pb::Template = caller => Api::cancel_build_template;

        create_workspace(pb::Workspace) -> pb::Workspace = caller => Api::create_workspace;
        get_workspace(pb::Ref) -> pb::Workspace = caller => Api::get_workspace;
        update_workspace(pb::Workspace) -> pb::Workspace = caller => Api::update_kept::<pb::Workspace>;
        delete_workspace(pb::Ref) -> pb::DeleteResponse = caller => Api::delete_workspace;
        start_workspace(pb::StartWorkspaceRequest) -> pb::Workspace = caller => Api::start_workspace;
        stop_workspace(pb::StopWorkspaceRequest) -> pb::Workspace = caller => Api::stop_workspace;
        compile_workspace(pb::CompileWorkspaceRequest) -> pb::CompileWorkspaceResponse = any_caller => super::compile::compile_workspace;
        report_workspace_activity(pb::ReportActivityRequest) -> pb::Empty = any_caller => Api::report_workspace_activity;

        create_secret(pb::Secret) -> pb::Secret = caller => Api::create_kept::<pb::Secret>;
        get_secret(pb::Ref) -> pb::Secret = caller => Api::get_kept::<pb::Secret>;
        update_secret(pb::Secret) -> pb::Secret = caller => Api::update_kept::<pb::Secret>;
        delete_secret(pb::Ref) -> pb::DeleteResponse = caller => Api::delete_kept::<pb::Secret>;

        create_user_secret(pb::UserSecret) -> pb::UserSecret = caller => Api::create_kept::<pb::UserSecret>;
        get_user_secret(pb::Ref) -> pb::UserSecret = caller => Api::get_kept::<pb::UserSecret>;
        update_user_secret(pb::UserSecret) -> pb::UserSecret = caller => Api::update_kept::<pb::UserSecret>;
        delete_user_secret(pb::Ref) -> pb::DeleteResponse = caller => Api::delete_kept::<pb::UserSecret>;

        create_git_provider(pb::GitProvider) -> pb::GitProvider = caller => Api::create_kept::<pb::GitProvider>;
        get_git_provider(pb::Ref) -> pb::GitProvider = caller => Api::get_kept::<pb::GitProvider>;
        update_git_provider(pb::GitProvider) -> pb::GitProvider = caller => Api::update_kept::<pb::GitProvider>;
        delete_git_provider(pb::Ref) -> pb::DeleteResponse = caller => Api::delete_kept::<pb::GitProvider>;

        get_user_config(pb::Empty) -> pb::UserConfig = caller => Api::get_user_config;
        update_user_config(pb::UserConfig) -> pb::UserConfig = caller => Api::update_user_config;

        add_ssh_key(pb::AddSshKeyRequest) -> pb::SshKey = caller => Api::add_ssh_key;
        list_ssh_keys(pb::Empty) -> pb::SshKeyList = caller => Api::list_ssh_keys;
        remove_ssh_key(pb::RemoveSshKeyRequest) -> pb::Empty = caller => Api::remove_ssh_key;
        get_ssh_endpoint(pb::Empty) -> pb::SshEndpoint = caller => Api::get_ssh_endpoint;

        begin_git_connect(pb::BeginGitConnectRequest) -> pb::BeginGitConnectResponse = caller => Api::begin_git_connect;
        finish_git_connect(pb::FinishGitConnectRequest) -> pb::GitConnection = caller => Api::finish_git_connect;
        list_git_connections(pb::Empty) -> pb::GitConnectionList = caller => Api::list_git_connections;
        disconnect_git_provider(pb::Ref) -> pb::Empty = caller => Api::disconnect_git_provider;
    }
    streams {
        exec_stream(tonic::Streaming<pb::ExecStreamRequest>) -> super::stream::ExecStreamOut => Api::exec_stream;
        port_forward(tonic::Streaming<pb::PortForwardRequest>) -> super::stream::PortForwardOut => Api::port_forward;
        watch_workspace(pb::WatchWorkspaceRequest) -> WatchStream => Api::watch_workspace;
        workspace_logs(pb::WorkspaceLogsRequest) -> LogStream => Api::workspace_logs;
        exec_workspace(pb::ExecWorkspaceRequest) -> pb::ExecWorkspaceResponse => Api::exec_workspace;
    }
    unauthenticated {
        begin_git_hub_sign_in(pb::BeginGitHubSignInRequest) -> pb::BeginGitConnectResponse => Api::begin_github_sign_in;
        finish_git_hub_sign_in(pb::FinishGitConnectRequest) -> pb::ExchangeWorkloadTokenResponse => Api::finish_github_sign_in;
        exchange_workload_token(pb::ExchangeWorkloadTokenRequest) -> pb::ExchangeWorkloadTokenResponse => Api::exchange_workload_token;
    }
    lists {
        list_space(pb::ListRequest) -> SpaceList = caller => Api::list_space;
        list_template(pb::ListRequest) -> TemplateList = caller => Api::list_kept::<pb::Template>;
        list_workspace(pb::ListRequest) -> WorkspaceList = caller => Api::list_workspace;
        list_secret(pb::ListRequest) -> SecretList = caller => Api::list_kept::<pb::Secret>;
        list_user_secret(pb::ListRequest) -> UserSecretList = caller => Api::list_kept::<pb::UserSecret>;
        list_git_provider(pb::ListRequest) -> GitProviderList = caller => Api::list_kept::<pb::GitProvider>;
    }
}
