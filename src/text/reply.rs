//! The answers of the text protocol, and their bytes on the wire.

use bytes::{BufMut, Bytes, BytesMut};

/// One answer to one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `OK <version>`: a `set` or `cas` was applied; the key's new version.
    Stored { version: u64 },
    /// `VALUE <numbytes>` and the value: a `get`.
    Value(Bytes),
    /// `VALUE <version> <exptime> <numbytes>` and the value: a `getm`; `exptime` is the seconds
    /// remaining, 0 for a key that never expires.
    ValueMeta {
        version: u64,
        exptime: u64,
        value: Bytes,
    },
    /// `DELETED`.
    Deleted,
    /// `ERR_NOT_FOUND`: no such key (or it expired).
    NotFound,
    /// `ERR_VERSION`: a `cas` found the key at another version.
    Version,
    /// `ERR_CMD_ERR`: a malformed command.
    CmdErr,
    /// `ERR_INTERNAL`: the node could not serve the command (no leader, timeout, stopping...).
    Internal,
    /// `ERR_REDIRECT <host> <port>`: this node does not lead; the leader's text address.
    Redirect { host: String, port: u16 },
    /// `ERR_OVERLOADED`: the node holds as many requests as it admits; retry after a pause.
    Overloaded,
    /// `OK`: `auth` logged the connection in.
    LoggedIn,
    /// `ERR_AUTH`: wrong user or password, or auth is on and the connection has not logged in.
    AuthFailed,
    /// `ERR_PERMISSION`: the logged-in user may not do this.
    PermissionDenied,
}

impl Reply {
    /// Appends the answer's bytes, `\r\n` included.
    pub fn write_to(&self, out: &mut BytesMut) {
        match self {
            Reply::Stored { version } => out.put(format!("OK {version}\r\n").as_bytes()),
            Reply::Value(value) => {
                out.put(format!("VALUE {}\r\n", value.len()).as_bytes());
                put_value(out, value);
            }
            Reply::ValueMeta {
                version,
                exptime,
                value,
            } => {
                let header = format!("VALUE {version} {exptime} {}\r\n", value.len());
                out.put(header.as_bytes());
                put_value(out, value);
            }
            Reply::Deleted => out.put(&b"DELETED\r\n"[..]),
            Reply::NotFound => out.put(&b"ERR_NOT_FOUND\r\n"[..]),
            Reply::Version => out.put(&b"ERR_VERSION\r\n"[..]),
            Reply::CmdErr => out.put(&b"ERR_CMD_ERR\r\n"[..]),
            Reply::Internal => out.put(&b"ERR_INTERNAL\r\n"[..]),
            Reply::Overloaded => out.put(&b"ERR_OVERLOADED\r\n"[..]),
            Reply::LoggedIn => out.put(&b"OK\r\n"[..]),
            Reply::AuthFailed => out.put(&b"ERR_AUTH\r\n"[..]),
            Reply::PermissionDenied => out.put(&b"ERR_PERMISSION\r\n"[..]),
            Reply::Redirect { host, port } => {
                out.put(format!("ERR_REDIRECT {host} {port}\r\n").as_bytes())
            }
        }
    }
}

fn put_value(out: &mut BytesMut, value: &[u8]) {
    out.put(value);
    out.put(&b"\r\n"[..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(reply: Reply) -> Vec<u8> {
        let mut out = BytesMut::new();
        reply.write_to(&mut out);
        out.to_vec()
    }

    #[test]
    fn answers_are_spelled_as_the_protocol_says() {
        assert_eq!(bytes(Reply::Stored { version: 12 }), b"OK 12\r\n");
        assert_eq!(
            bytes(Reply::Value(Bytes::from_static(b"a\r\nb"))),
            b"VALUE 4\r\na\r\nb\r\n"
        );
        let meta = Reply::ValueMeta {
            version: 3,
            exptime: 9,
            value: Bytes::from_static(b"v"),
        };
        assert_eq!(bytes(meta), b"VALUE 3 9 1\r\nv\r\n");
        assert_eq!(bytes(Reply::Deleted), b"DELETED\r\n");
        assert_eq!(bytes(Reply::Version), b"ERR_VERSION\r\n");
        let redirect = Reply::Redirect {
            host: "10.0.0.2".into(),
            port: 22381,
        };
        assert_eq!(bytes(redirect), b"ERR_REDIRECT 10.0.0.2 22381\r\n");
    }
}
