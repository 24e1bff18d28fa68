//! The TCP server: one task per connection on a thread of its own, every buffer and wait bounded.
//!
//! A connection's commands are served one after another and answered in order, so a pipelined
//! `set` then `get` always sees the value. Answers to pipelined commands are gathered and written
//! together once no complete command is left in the input.

use std::io;
use std::net::TcpListener as StdTcpListener;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::exec::TextContext;
use super::parser::Parser;
use super::reply::Reply;
use crate::config::Address;
use crate::security::Caller;

/// A connection that has not finished its TLS handshake this long after it was accepted is closed.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection idle between commands this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// A connection that stops sending in the middle of a command this long is closed.
pub const PARTIAL_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection that does not take its answers this long is closed.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes asked of the socket per read.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Answers are written once this many bytes are pending, even mid-pipeline.
const FLUSH_BYTES: usize = 64 * 1024;

/// Binds the text address now, so that a taken port fails the node's start.
pub fn bind(address: &Address) -> io::Result<StdTcpListener> {
    let listener = StdTcpListener::bind(address.resolve()?)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves the text protocol on `listener` on a new actix arbiter (a thread with its own event
/// loop), so that parsing never delays the replicator. Runs until the actix system stops.
pub fn spawn(listener: StdTcpListener, ctx: TextContext) {
    let arbiter = actix::Arbiter::new();
    arbiter.spawn(async move {
        match TcpListener::from_std(listener) {
            Ok(listener) => accept_loop(listener, ctx).await,
            Err(e) => log::error!("text: cannot serve: {e}"),
        }
    });
}

async fn accept_loop(listener: TcpListener, ctx: TextContext) {
    let tls = match ctx.config.client_tls().map(|t| t.server_config(&[])) {
        None => None,
        Some(Ok(config)) => Some(tokio_rustls::TlsAcceptor::from(config)),
        Some(Err(e)) => {
            log::error!("text: bad TLS configuration, not serving: {e}");
            return;
        }
    };
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                log::warn!("text: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = ctx.connections.try_open() else {
            log::debug!(
                "text: refusing {peer}: {} connections open",
                ctx.connections.limit()
            );
            if tls.is_none() {
                // Answered without waiting: the writes of refused connections never pile up.
                let _ = stream.try_write(b"ERR_OVERLOADED\r\n");
            }
            continue;
        };
        let ctx = ctx.clone();
        let tls = tls.clone();
        actix::spawn(async move {
            let _ = stream.set_nodelay(true);
            let served = match tls {
                None => serve_connection(stream, &ctx, Caller::Anonymous).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let caller = certificate_caller(&ctx, stream.get_ref().1);
                            serve_connection(stream, &ctx, caller).await
                        }
                        Ok(Err(e)) => Err(e),
                        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake")),
                    }
                }
            };
            if let Err(e) = served {
                log::debug!("text: connection from {peer} closed: {e}");
            }
            drop(slot);
        });
    }
}

/// With `client_cert_auth`, the user a connection's verified client certificate names (its
/// CN, as etcd takes it) is the connection's caller until an `auth` command logs in as another;
/// a name that is no user's is refused each command by the permission check.
fn certificate_caller(ctx: &TextContext, session: &rustls::ServerConnection) -> Caller {
    let cert_auth = ctx.config.client_cert_auth();
    let name = session
        .peer_certificates()
        .and_then(crate::security::cert::common_name);
    match name {
        Some(name) if cert_auth => Caller::User(name),
        _ => Caller::Anonymous,
    }
}

/// Serves one connection, first as `caller`, until it closes, errs or times out.
async fn serve_connection<S>(mut stream: S, ctx: &TextContext, mut caller: Caller) -> io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let max_value_bytes = ctx.config.cluster().max_value_bytes as usize;
    let mut parser = Parser::new(max_value_bytes);
    let mut input = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut output = BytesMut::new();
    loop {
        // Serve every complete command already buffered, in order.
        loop {
            match parser.next(&mut input) {
                Ok(Some(command)) => {
                    let noreply = command.noreply();
                    let reply = ctx.execute(&mut caller, command).await;
                    if !noreply {
                        reply.write_to(&mut output);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    log::debug!("text: {e}");
                    Reply::CmdErr.write_to(&mut output);
                }
            }
            if output.len() >= FLUSH_BYTES {
                flush(&mut stream, &mut output).await?;
            }
        }
        flush(&mut stream, &mut output).await?;
        let timeout = if parser.in_command(&input) {
            PARTIAL_COMMAND_TIMEOUT
        } else {
            IDLE_TIMEOUT
        };
        // Crucial to bound memory: the parser has taken every complete command, so the input
        // holds at most one unfinished command (a line, or a value within the limit) plus a chunk.
        input.reserve(READ_CHUNK_BYTES);
        match tokio::time::timeout(timeout, stream.read_buf(&mut input)).await {
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "read timeout")),
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
        }
    }
}

/// Writes the pending answers, giving up after [`WRITE_TIMEOUT`].
async fn flush<S>(stream: &mut S, output: &mut BytesMut) -> io::Result<()>
where
    S: tokio::io::AsyncWrite + Unpin,
{
    if output.is_empty() {
        return Ok(());
    }
    match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(output)).await {
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "write timeout")),
        Ok(result) => {
            output.clear();
            result
        }
    }
}
