//! The outbound guard: this node's DEALER reaches a peer through a relay that checks what the
//! peer answers, so a stranger listening at a peer's address gets no more power over this node
//! than one connecting to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixListener, UnixStream};
use tokio::task::JoinHandle;

use super::zmtp::{Role, ZmtpValidator};
use crate::config::Address;

const READ_BYTES: usize = 64 * 1024;

/// A relay to one peer, ready for the DEALER to connect to `path`. Dropping it stops the relay.
pub(in crate::cluster) struct Relay {
    pub path: PathBuf,
    task: JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Dials `addr` within `timeout` (a host name is looked up now, within the same timeout) and
/// starts a relay at `<dir>/<name>.sock` that serves exactly
/// one local connection. `None` when the peer cannot be reached.
pub(in crate::cluster) async fn dial(
    addr: &Address,
    dir: &Path,
    name: &str,
    timeout: Duration,
) -> Option<Relay> {
    let target = (addr.host(), addr.port());
    let tcp = match tokio::time::timeout(timeout, TcpStream::connect(target)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => {
            log::debug!("cannot reach {addr}: {e}");
            return None;
        }
        Err(_) => return None,
    };
    let addr = addr.clone();
    let _ = tcp.set_nodelay(true);
    let path = dir.join(format!("{name}.sock"));
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path) {
        Ok(listener) => listener,
        Err(e) => {
            log::warn!("cannot open a relay socket at {}: {e}", path.display());
            return None;
        }
    };
    let task = tokio::spawn(async move {
        let Ok(Ok((local, _))) = tokio::time::timeout(timeout, listener.accept()).await else {
            return;
        };
        drop(listener);
        if let Err(e) = relay(local, tcp).await {
            log::debug!("relay to {addr} closed: {e}");
        }
    });
    Some(Relay { path, task })
}

/// Copies the DEALER's bytes to the peer as they are, and the peer's bytes back only as far as
/// they are a ROUTER's greeting and READY.
async fn relay(mut local: UnixStream, mut tcp: TcpStream) -> Result<(), String> {
    let mut validator = ZmtpValidator::new(Role::Router);
    let mut from_local = vec![0u8; READ_BYTES];
    let mut from_peer = vec![0u8; 1024];
    let mut forward = Vec::new();
    loop {
        tokio::select! {
            read = local.read(&mut from_local) => match read {
                Ok(0) => return Ok(()),
                Ok(n) => tcp.write_all(&from_local[..n]).await.map_err(|e| e.to_string())?,
                Err(e) => return Err(e.to_string()),
            },
            read = tcp.read(&mut from_peer) => match read {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    forward.clear();
                    validator
                        .feed(&from_peer[..n], &mut forward)
                        .map_err(|e| format!("the peer broke the protocol: {e}"))?;
                    local.write_all(&forward).await.map_err(|e| e.to_string())?;
                }
                Err(e) => return Err(e.to_string()),
            },
        }
    }
}
