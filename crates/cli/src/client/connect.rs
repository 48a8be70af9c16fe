//! The connection: a gRPC channel to the server, with the caller's token on every call.

use super::config::{self, Saved};
use super::error::ClientError;
use crate::args::ServerArgs;
use cordium_api::main_service_client::MainServiceClient;
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Debug, Clone)]
pub(crate) struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// The MainService client the commands use.
pub(crate) type Api = MainServiceClient<InterceptedService<Channel, Bearer>>;

/// A connected client and the address it talks to (for messages).
pub(crate) struct Client {
    /// The stub.
    pub(crate) api: Api,
    /// The server's URL, as used.
    pub(crate) server: String,
}

impl Client {
    /// A call's answer, or the error that names this server.
    pub(crate) fn answer<T>(
        &self,
        result: Result<tonic::Response<T>, Status>,
    ) -> Result<T, ClientError> {
        result
            .map(tonic::Response::into_inner)
            .map_err(|status| self.error(status))
    }

    /// A failed call, remembering which server answered.
    pub(crate) fn error(&self, status: Status) -> ClientError {
        ClientError::Status {
            server: self.server.clone(),
            status: Box::new(status),
        }
    }
}

/// The URL to dial: `HOST:PORT` means `http://HOST:PORT`; only plain `http` is spoken (put
/// a TLS-terminating proxy in front of the server, and talk to it over a trusted network).
pub(crate) fn normalize(server: &str) -> Result<String, ClientError> {
    let server = server.trim().trim_end_matches('/');
    let url = if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    };
    if !url.starts_with("http://") {
        return Err(ClientError::Usage(format!(
            "`{server}`: only http:// servers are supported (this cordium has no TLS); use http://HOST:PORT"
        )));
    }
    Ok(url)
}

/// Connects to `login.server` (failing early, with the address, if it cannot be reached).
pub(crate) async fn connect(login: &Saved) -> Result<Client, ClientError> {
    let server = normalize(&login.server)?;
    let header = MetadataValue::try_from(format!("Bearer {}", login.token.trim()))
        .map_err(|_| ClientError::Usage("the token holds characters a token cannot have".into()))?;
    let endpoint = Endpoint::from_shared(server.clone())
        .map_err(|e| ClientError::Usage(format!("`{server}` is not a server URL: {}", chain(&e))))?
        .connect_timeout(Duration::from_secs(10));
    let channel = endpoint.connect().await.map_err(|e| ClientError::Connect {
        server: server.clone(),
        reason: chain(&e),
    })?;
    Ok(Client {
        api: MainServiceClient::with_interceptor(channel, Bearer(header)),
        server,
    })
}

/// Resolves the login (flags, environment, saved file) and connects.
pub(crate) async fn client(args: &ServerArgs) -> Result<Client, ClientError> {
    let login = super::sign_in::refreshed(config::resolve(args)?).await?;
    connect(&login).await
}

/// Connects as `args` say and makes one call (the commands that need no more).
pub(crate) async fn call<T>(
    args: &ServerArgs,
    call: impl AsyncFnOnce(&mut Api) -> Result<tonic::Response<T>, Status>,
) -> Result<T, ClientError> {
    let mut client = client(args).await?;
    let answer = call(&mut client.api).await;
    client.answer(answer)
}

/// An error and its causes, `outer: inner: innermost`, without repeats.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}
