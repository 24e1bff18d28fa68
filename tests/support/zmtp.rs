//! A raw ZMTP 3.0 client over a plain blocking TCP socket: what an outsider (or a test playing
//! one) uses to reach a raft port without the zeromq library's help. Self-contained, so the
//! `cluster_*` tests include it by path as well.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The 64-byte NULL-mechanism greeting a DEALER sends.
pub fn greeting() -> Vec<u8> {
    let mut g = vec![0u8; 64];
    g[0] = 0xff;
    g[9] = 0x7f;
    g[10] = 3;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// A DEALER's READY command frame.
pub fn ready() -> Vec<u8> {
    let mut body = b"\x05READY\x0bSocket-Type".to_vec();
    body.extend_from_slice(&6u32.to_be_bytes());
    body.extend_from_slice(b"DEALER");
    let mut frame = vec![0x04, body.len() as u8];
    frame.extend_from_slice(&body);
    frame
}

/// The header of a single-part message frame of `len` bytes.
pub fn frame_header(len: u64) -> Vec<u8> {
    if len > 255 {
        let mut h = vec![0x02];
        h.extend_from_slice(&len.to_be_bytes());
        h
    } else {
        vec![0x00, len as u8]
    }
}

/// A whole single-part message frame.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = frame_header(body.len() as u64);
    f.extend_from_slice(body);
    f
}

/// One raw connection to a raft port.
pub struct RawPeer {
    pub stream: TcpStream,
}

impl RawPeer {
    /// Connects (no bytes sent).
    pub fn connect(addr: SocketAddr) -> RawPeer {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        RawPeer { stream }
    }

    /// Connects and completes the ZMTP handshake as a DEALER: sends the greeting and READY,
    /// reads the other side's greeting and READY.
    pub fn handshaken(addr: SocketAddr) -> RawPeer {
        let mut peer = RawPeer::connect(addr);
        peer.send(&greeting());
        peer.send(&ready());
        let mut answer = [0u8; 64];
        peer.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        peer.stream
            .read_exact(&mut answer)
            .expect("the node's greeting");
        assert_eq!((answer[0], answer[9], answer[10]), (0xff, 0x7f, 3));
        let mut header = [0u8; 2];
        peer.stream.read_exact(&mut header).expect("READY header");
        assert_eq!(header[0], 0x04, "READY is a short command");
        let mut body = vec![0u8; usize::from(header[1])];
        peer.stream.read_exact(&mut body).expect("READY body");
        assert!(body.starts_with(b"\x05READY"));
        peer
    }

    /// Writes `bytes`; a write refused because the node already closed is ignored (the test
    /// then checks [`RawPeer::closed_within`]).
    pub fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// True if the node closes the connection within `timeout` (reads until end of stream,
    /// discarding anything sent).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        while start.elapsed() < timeout {
            let left = timeout
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(1));
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return true,
            }
        }
        false
    }
}
