//! `cordium port-forward`: a local listener whose every connection is carried by a
//! PortForward call of its own, many at once over the one HTTP/2 connection to the server.

use super::connect::{Api, client};
use super::error::ClientError;
use super::interrupt::Interrupt;
use crate::args::{OnServer, PortForwardArgs};
use crate::output::Output;
use cordium_api as pb;
use pb::port_forward_request::Frame;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Bytes read from a local connection at a time.
const CHUNK: usize = 32 * 1024;

/// What to forward: the local port (`0`: any free one) and the target.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    local: u16,
    application: String,
    port: u16,
}

/// `[LOCAL:]PORT` or `[LOCAL:]APPLICATION`.
fn target(text: &str) -> Result<Target, ClientError> {
    let bad = || {
        ClientError::Usage(format!(
            "`{text}` is not [LOCAL:]PORT or [LOCAL:]APPLICATION (ports are 1 to 65535)"
        ))
    };
    let (local, remote) = match text.split_once(':') {
        Some((local, remote)) => (Some(local.parse::<u16>().map_err(|_| bad())?), remote),
        None => (None, text),
    };
    if remote.is_empty() {
        return Err(bad());
    }
    Ok(match remote.parse::<u16>() {
        Ok(0) => return Err(bad()),
        Ok(port) => Target {
            local: local.unwrap_or(port),
            application: String::new(),
            port,
        },
        Err(_) if remote.bytes().all(|b| b.is_ascii_digit()) => return Err(bad()),
        Err(_) => Target {
            local: local.unwrap_or(0),
            application: remote.to_owned(),
            port: 0,
        },
    })
}

/// `cordium port-forward NAME [LOCAL:]APP_OR_PORT`: serves until Ctrl-C.
pub(super) async fn port_forward(
    command: &OnServer<PortForwardArgs>,
    out: &mut Output,
) -> Result<(), ClientError> {
    let args = &command.flags;
    let target = target(&args.target)?;
    let client = client(&command.server).await?;
    let listener = TcpListener::bind((args.address, target.local))
        .await
        .map_err(|e| {
            ClientError::Usage(format!(
                "cannot listen on {}:{}: {e}",
                args.address, target.local
            ))
        })?;
    let local = listener
        .local_addr()
        .map_err(|e| ClientError::Usage(format!("cannot listen: {e}")))?;
    out.out(&format!("Forwarding from {local} -> {}\n", args.target));
    out.flush();
    let mut interrupt = Interrupt::listen();
    let open = pb::PortForwardOpen {
        name: args.name.clone(),
        application: target.application,
        port: u32::from(target.port),
    };
    loop {
        tokio::select! {
            () = interrupt.pressed() => return Ok(()),
            accepted = listener.accept() => {
                let Ok((socket, _)) = accepted else { continue };
                let (api, open) = (client.api.clone(), open.clone());
                tokio::spawn(async move {
                    if let Err(status) = carry(api, open, socket).await {
                        eprintln!("cordium port-forward: a connection failed: {}", status.message());
                    }
                });
            }
        }
    }
}

/// Carries one local connection over a PortForward call until both ends are done.
async fn carry(
    mut api: Api,
    open: pb::PortForwardOpen,
    socket: TcpStream,
) -> Result<(), tonic::Status> {
    let _ = socket.set_nodelay(true);
    let (mut read_half, mut write_half) = socket.into_split();
    let (tx, rx) = mpsc::channel(8);
    let first = pb::PortForwardRequest {
        frame: Some(Frame::Open(open)),
    };
    if tx.send(first).await.is_err() {
        return Ok(());
    }
    let mut responses = api
        .port_forward(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    let upstream = async move {
        loop {
            let mut data = vec![0_u8; CHUNK];
            match read_half.read(&mut data).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    data.truncate(n);
                    let frame = pb::PortForwardRequest {
                        frame: Some(Frame::Data(data)),
                    };
                    if tx.send(frame).await.is_err() {
                        return;
                    }
                }
            }
        }
        // Dropping `tx` ends the call's request stream: the far end sees end of input.
    };
    let downstream = async {
        while let Some(message) = responses.message().await? {
            if write_half.write_all(&message.data).await.is_err() {
                break;
            }
        }
        let _ = write_half.shutdown().await;
        Ok::<(), tonic::Status>(())
    };
    // The far end closing ends the connection, whatever this side still sends.
    let upstream = async {
        upstream.await;
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = upstream => Ok(()),
        result = downstream => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_ports_or_applications_with_an_optional_local_port() {
        let t = target("8080").expect("port");
        assert_eq!((t.local, t.port, t.application.as_str()), (8080, 8080, ""));
        let t = target("9000:3000").expect("local and port");
        assert_eq!((t.local, t.port), (9000, 3000));
        let t = target("web").expect("application");
        assert_eq!((t.local, t.port, t.application.as_str()), (0, 0, "web"));
        let t = target("8080:web").expect("local and application");
        assert_eq!((t.local, t.application.as_str()), (8080, "web"));
        assert!(target("0").is_err());
        assert!(target("99999").is_err());
        assert!(target("x:80").is_err());
        assert!(target("80:").is_err());
    }
}
