//! Accepting connections on an open port: how many, from whom, and for how long a connection
//! that does nothing may stay.
//!
//! A connection is only worth its file descriptor while its peer speaks HTTP/2. Four rules keep
//! idle or hostile peers from using up the server:
//! - **A cap on connections**, overall and per peer (an IPv4 address, or an IPv6 /64: one
//!   host, or one subscriber's network, commonly holds a whole /64, so counting its addresses
//!   one by one would not cap it): past it, a new connection is closed at once (and a warning logged, at most every few seconds), so the listener's backlog
//!   never fills and the connections already open, health checks among them, keep answering.
//! - **A handshake deadline**: the client preface and the first frame header must arrive within
//!   [`ConnectionLimits::handshake_timeout`] of the accept, however slowly they trickle in.
//! - **An idle deadline** afterwards: a connection from which nothing is read for
//!   [`ConnectionLimits::idle_timeout`] is closed. The server pings every
//!   [`ConnectionLimits::keepalive_interval`] and a live client answers every ping, so a quiet
//!   watch stream is never idle; a peer that stopped answering is.
//! - **Accept errors back off** (a full file-descriptor table answers every accept with an
//!   error at once; retrying at once spins the CPU).
//!
//! Streams per connection are capped by HTTP/2's own `SETTINGS_MAX_CONCURRENT_STREAMS`, set
//! from [`ConnectionLimits::max_streams_per_connection`] in [`crate::server`].
//!
//! Writes on gRPC connections are gathered ([`Connection`]'s `AsyncWrite`): what HTTP/2 writes
//! between two flushes goes out in one `write`, unless it passes `GATHER_BYTES` (then what
//! was gathered goes first, and a single write that large goes out as it is). With vectored
//! writes, h2 sends every DATA frame of more than 256 bytes (a GetWorkspace answer) in a
//! `writev` of its own, so the answers of many concurrent calls cost a system call each: at 64
//! concurrent calls a GetWorkspace cost 19.8 µs of server CPU against the health check's 13.2;
//! gathered, 17.8 to 18.3 against 12.5 to 13.4. SSH and the web console's HTTP/1.1 write as
//! before: nothing obliges their code to flush.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// The bytes a client sends before anything else: the 24-byte HTTP/2 preface and the 9-byte
/// header of its SETTINGS frame. Until they have arrived, the handshake deadline applies.
const HANDSHAKE_BYTES: usize = 24 + 9;
/// How long the accept loop waits after an accept error before it tries again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// At most one "limit reached" warning per this interval: an attack would otherwise flood the
/// log it is meant to show up in.
const WARN_INTERVAL: Duration = Duration::from_secs(5);
/// The most bytes a connection gathers before it writes them out, whether or not a flush came
/// (h2's own write buffer is as large); a single write at least this large is not copied.
const GATHER_BYTES: usize = 16 * 1024;

/// What the server accepts; [`Default`] is what `cordium-server serve` uses unless told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections at most, from everyone together.
    pub max_connections: usize,
    /// Open connections at most from one peer: an IPv4 address or an IPv6 /64.
    pub max_connections_per_peer: usize,
    /// How long a new connection has to send the HTTP/2 preface and its first frame header.
    pub handshake_timeout: Duration,
    /// How long an established connection may go without sending a byte (a live client
    /// answers the server's pings, so this only ends connections whose peer went away).
    pub idle_timeout: Duration,
    /// How often the server pings each connection.
    pub keepalive_interval: Duration,
    /// How long the server waits for a ping's answer before it closes the connection.
    pub keepalive_timeout: Duration,
    /// Concurrent streams (calls) at most on one connection.
    pub max_streams_per_connection: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_connections_per_peer: 512,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(20),
            max_streams_per_connection: 128,
        }
    }
}

/// Accepts connections from `listener` under `limits`, in a task of its own, and hands them
/// out as a stream for tonic's `serve_with_incoming`. The task ends when the stream is dropped.
/// Their writes are gathered until hyper flushes them (see the module's documentation).
pub fn incoming(listener: TcpListener, limits: ConnectionLimits) -> Incoming {
    spawn_accept_loop(listener, limits, Carries::Http2)
}

/// As [`incoming`], for SSH: every write is sent as it is made, since an SSH implementation
/// need not flush a socket (russh does not after its version line).
pub fn incoming_ssh(listener: TcpListener, limits: ConnectionLimits) -> Incoming {
    spawn_accept_loop(listener, limits, Carries::Ssh)
}

/// What a listener's connections carry, which decides how they treat writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carries {
    /// gRPC: writes are gathered until hyper's flush.
    Http2,
    /// The web console: a write also pushes the idle deadline back ([`incoming_http1`]).
    Http1,
    /// SSH: writes go out as they are made.
    Ssh,
}

/// The accepted connections, as a stream.
pub type Incoming = tokio_stream::wrappers::ReceiverStream<io::Result<Connection>>;

/// As [`incoming`], for HTTP/1.1 (the web console): a browser sends nothing while it reads a
/// server-sent event stream, and HTTP/1.1 has no pings, so a write the peer's TCP stack took
/// also pushes the idle deadline back (the console writes a keep-alive every few seconds; a
/// vanished peer stops taking them, its send buffer fills and the deadline passes).
pub fn incoming_http1(listener: TcpListener, limits: ConnectionLimits) -> Incoming {
    spawn_accept_loop(listener, limits, Carries::Http1)
}

fn spawn_accept_loop(
    listener: TcpListener,
    limits: ConnectionLimits,
    carries: Carries,
) -> Incoming {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(accept_loop(listener, limits, carries, tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

async fn accept_loop(
    listener: TcpListener,
    limits: ConnectionLimits,
    carries: Carries,
    tx: mpsc::Sender<io::Result<Connection>>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let peers = PeerCounts::default();
    let throttle = crate::throttle::Throttle::new(WARN_INTERVAL);
    let warn = |message: std::fmt::Arguments<'_>| {
        throttle.warn(|left_out| {
            tracing::warn!("{message} ({left_out} more such warnings since the last)");
        });
    };
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn(format_args!("accepting a connection: {e}; retrying in {ACCEPT_BACKOFF:?}"));
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = tx.closed() => return,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            warn(format_args!(
                "connection limit reached ({} open); closing new connections until some end",
                limits.max_connections
            ));
            continue;
        };
        let Some(peer_slot) = peers.claim(peer.ip(), limits.max_connections_per_peer) else {
            warn(format_args!(
                "{} has {} connections open, the most one peer may have; closing its new ones",
                peer_of(peer.ip()),
                limits.max_connections_per_peer
            ));
            continue;
        };
        // Unary calls answer in several small writes: without TCP_NODELAY, Nagle's algorithm
        // and delayed ACKs stall every such answer by up to 40 ms.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let connection = Connection {
            stream,
            deadline: Box::pin(tokio::time::sleep(limits.handshake_timeout)),
            read: 0,
            idle_timeout: limits.idle_timeout,
            carries,
            gathered: Vec::new(),
            sent: 0,
            _slots: (slot, peer_slot),
        };
        if tx.send(Ok(connection)).await.is_err() {
            return;
        }
    }
}

/// Open connections per peer (see [`peer_of`]).
#[derive(Debug, Clone, Default)]
struct PeerCounts(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// The peer an address counts toward: an IPv4 address (also when it comes IPv4-mapped) is
/// itself, an IPv6 address its /64.
fn peer_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

impl PeerCounts {
    /// Counts one more connection from `ip`'s peer, unless it has `max` already.
    fn claim(&self, ip: IpAddr, max: usize) -> Option<PeerSlot> {
        let ip = peer_of(ip);
        let mut counts = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = counts.entry(ip).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(PeerSlot {
            counts: self.clone(),
            ip,
        })
    }
}

/// One connection's place in [`PeerCounts`], given back when the connection closes.
#[derive(Debug)]
struct PeerSlot {
    counts: PeerCounts,
    ip: IpAddr,
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// An accepted TCP connection that fails its reads when its peer keeps silent past the
/// handshake or idle deadline (hyper then closes it), and holds its places under the caps
/// until it is dropped.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    deadline: Pin<Box<Sleep>>,
    read: usize,
    idle_timeout: Duration,
    /// What it carries: whether writes are gathered, and whether they keep it alive.
    carries: Carries,
    /// HTTP/2 only: bytes written but not yet sent (at most `GATHER_BYTES`), and how many
    /// of them were.
    gathered: Vec<u8>,
    sent: usize,
    _slots: (OwnedSemaphorePermit, PeerSlot),
}

impl Connection {
    /// The peer's address.
    pub fn peer(&self) -> io::Result<std::net::SocketAddr> {
        self.stream.peer_addr()
    }

    fn wrote(&mut self, result: &Poll<io::Result<usize>>) {
        if self.carries == Carries::Http1
            && self.read >= HANDSHAKE_BYTES
            && matches!(result, Poll::Ready(Ok(n)) if *n > 0)
        {
            let next = Instant::now() + self.idle_timeout;
            self.deadline.as_mut().reset(next);
        }
    }

    /// Sends every gathered byte; ready once none is left.
    fn poll_send_gathered(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.gathered.len() {
            let result = Pin::new(&mut self.stream).poll_write(cx, &self.gathered[self.sent..]);
            self.wrote(&result);
            match std::task::ready!(result)? {
                0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                n => self.sent += n,
            }
        }
        self.gathered.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                self.read = self.read.saturating_add(buf.filled().len() - before);
                // The handshake deadline stays fixed however slowly bytes trickle in; after
                // it, each read pushes the idle deadline back.
                if self.read >= HANDSHAKE_BYTES {
                    let next = Instant::now() + self.idle_timeout;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    if self.read < HANDSHAKE_BYTES {
                        "no HTTP/2 handshake in time"
                    } else {
                        "the connection was idle too long"
                    },
                ))),
                Poll::Pending => Poll::Pending,
            },
            ready_err => ready_err,
        }
    }
}

/// On HTTP/2 connections, writes are gathered and sent at a flush, or when `GATHER_BYTES`
/// would be exceeded: hyper flushes after every round of frames. They are not vectored then,
/// so h2 copies DATA frames of up to a KiB into its buffer instead of writing each one apart.
impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.carries != Carries::Http2 {
            let result = Pin::new(&mut self.stream).poll_write(cx, buf);
            self.wrote(&result);
            return result;
        }
        if self.gathered.len() + buf.len() > GATHER_BYTES {
            std::task::ready!(self.poll_send_gathered(cx))?;
        }
        if buf.len() >= GATHER_BYTES {
            let result = Pin::new(&mut self.stream).poll_write(cx, buf);
            self.wrote(&result);
            return result;
        }
        if self.gathered.capacity() == 0 {
            // Exactly the bound: gathering never grows it (a doubling Vec could reach twice).
            self.gathered.reserve_exact(GATHER_BYTES);
        }
        self.gathered.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_send_gathered(cx))?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_send_gathered(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.carries == Carries::Http2 {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &**b);
            return self.poll_write(cx, first);
        }
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.carries != Carries::Http2 && self.stream.is_write_vectored()
    }
}

impl Connected for Connection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_peer_is_its_64_and_an_ipv4_mapped_one_its_ipv4_address() {
        let peers = PeerCounts::default();
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same_64: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().expect("ip");
        let next_64: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        let _first = peers.claim(one, 1).expect("first");
        assert!(
            peers.claim(same_64, 1).is_none(),
            "the same /64 is one peer"
        );
        assert!(peers.claim(next_64, 1).is_some(), "the next /64 is another");
        let v4: IpAddr = [192, 0, 2, 7].into();
        let _v4 = peers.claim(v4, 1).expect("an IPv4 address");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert!(
            peers.claim(mapped, 1).is_none(),
            "mapped, the same IPv4 peer"
        );
        assert!(
            peers.claim([192, 0, 2, 8].into(), 1).is_some(),
            "each IPv4 address is a peer"
        );
    }

    #[test]
    fn peer_slots_are_counted_and_given_back() {
        let peers = PeerCounts::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let first = peers.claim(ip, 2).expect("first");
        let second = peers.claim(ip, 2).expect("second");
        assert!(peers.claim(ip, 2).is_none(), "a third is over the cap");
        assert!(
            peers.claim([10, 0, 0, 2].into(), 2).is_some(),
            "another peer is not"
        );
        drop(first);
        assert!(
            peers.claim(ip, 2).is_some(),
            "a closed connection frees its place"
        );
        drop(second);
    }

    /// An accepted connection carrying `carries`, and its peer's end.
    async fn accepted_pair(carries: Carries) -> (Connection, TcpStream) {
        use tokio_stream::StreamExt as _;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let mut connections = spawn_accept_loop(listener, ConnectionLimits::default(), carries);
        let peer = TcpStream::connect(addr).await.expect("connect");
        let accepted = connections
            .next()
            .await
            .expect("a connection")
            .expect("accepted");
        (accepted, peer)
    }

    /// Reads what has arrived at `peer` within a moment.
    async fn arrived(peer: &mut TcpStream) -> Vec<u8> {
        use tokio::io::AsyncReadExt as _;
        let mut got = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(100), peer.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got
    }

    #[tokio::test]
    async fn writes_are_sent_together_at_the_flush_and_in_order() {
        use tokio::io::AsyncWriteExt as _;
        let (mut connection, mut peer) = accepted_pair(Carries::Http2).await;
        connection.write_all(b"one ").await.expect("write");
        connection.write_all(b"two ").await.expect("write");
        assert!(
            arrived(&mut peer).await.is_empty(),
            "nothing is sent before the flush"
        );
        connection.flush().await.expect("flush");
        assert_eq!(arrived(&mut peer).await, b"one two ");

        // A write too large to gather goes out after what was gathered before it; one that
        // would overflow the gathered bytes sends them first.
        let large = vec![b'L'; GATHER_BYTES + 1];
        let almost = vec![b'a'; GATHER_BYTES - 2];
        connection.write_all(b"small ").await.expect("write");
        connection.write_all(&large).await.expect("write");
        connection.write_all(&almost).await.expect("write");
        connection.write_all(b"tail").await.expect("write");
        connection.flush().await.expect("flush");
        let mut expected = b"small ".to_vec();
        expected.extend_from_slice(&large);
        expected.extend_from_slice(&almost);
        expected.extend_from_slice(b"tail");
        assert_eq!(arrived(&mut peer).await, expected);
        assert!(connection.gathered.is_empty());
        assert_eq!(
            connection.gathered.capacity(),
            GATHER_BYTES,
            "the buffer is never larger than the bound"
        );
    }

    #[tokio::test]
    async fn ssh_and_http1_writes_are_sent_without_a_flush() {
        use tokio::io::AsyncWriteExt as _;
        for carries in [Carries::Ssh, Carries::Http1] {
            let (mut connection, mut peer) = accepted_pair(carries).await;
            connection.write_all(b"SSH-2.0-x\r\n").await.expect("write");
            assert_eq!(arrived(&mut peer).await, b"SSH-2.0-x\r\n", "{carries:?}");
        }
    }
}
