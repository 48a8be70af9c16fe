//! What the server's benches share: an in-process server on a free port, a user's token,
//! and clients that send it.

use cordium_server::crypto::{hash_token, new_token};
use cordium_server::pb;
use cordium_server::service::Api;
use tonic::transport::Channel;

/// A MainService client sending a user's token.
pub(crate) type Main = pb::main_service_client::MainServiceClient<
    tonic::service::interceptor::InterceptedService<Channel, Auth>,
>;

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub(crate) struct Auth(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl Auth {
    /// For `token`.
    pub(crate) fn bearer(token: &str) -> Self {
        Self(format!("Bearer {token}").parse().expect("header"))
    }
}

impl tonic::service::Interceptor for Auth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// Adds the user `bench` (an administrator when `admin`), serves `api` on a free port until
/// the process ends, and returns a channel to it and the user's token.
#[allow(dead_code, reason = "the load bench serves on a runtime of its own")]
pub(crate) async fn serve(api: Api, admin: bool) -> (Channel, String) {
    let (addr, token) = listen(api, admin).await;
    (connect(addr).await, token)
}

/// Adds the user `bench` (an administrator when `admin`) and serves `api` on a free port of
/// the current runtime until the process ends: its address and the user's token.
pub(crate) async fn listen(api: Api, admin: bool) -> (std::net::SocketAddr, String) {
    let token = new_token().expect("token");
    api.store()
        .add_user("bench", &hash_token(&token), admin)
        .await
        .expect("user");
    let listener = cordium_server::server::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(cordium_server::server::serve(
        api,
        listener,
        std::future::pending(),
    ));
    (addr, token)
}

/// A channel to `addr`, its connection driven by the current runtime.
pub(crate) async fn connect(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}
