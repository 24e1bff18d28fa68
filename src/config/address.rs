//! A `host:port` address as written in the config: checked for shape, resolved only when used.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// A listening or connecting address, `host:port`; an IPv6 host is written in brackets.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    host: String,
    port: u16,
}

impl Address {
    /// Parses `host:port` (or `[v6]:port`). The port must be non-zero: a config names real ports.
    pub fn parse(text: &str) -> Result<Address, String> {
        let expected = || format!("expected host:port, found {text:?}");
        let (host, port) = text.rsplit_once(':').ok_or_else(expected)?;
        let host = match host.strip_prefix('[') {
            Some(inner) => inner.strip_suffix(']').ok_or_else(expected)?,
            None if host.contains(':') => return Err(expected()),
            None => host,
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(expected());
        }
        let port: u16 = port.parse().map_err(|_| expected())?;
        if port == 0 {
            return Err(format!("port 0 is not a fixed port in {text:?}"));
        }
        Ok(Address {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The host name or IP literal, without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The first socket address the host resolves to (a name lookup for host names).
    pub fn resolve(&self) -> io::Result<SocketAddr> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address for host"))
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Address {
        Address {
            host: addr.ip().to_string(),
            port: addr.port(),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Address;

    #[test]
    fn parses_names_v4_and_bracketed_v6() {
        let a = Address::parse("127.0.0.1:12382").unwrap();
        assert_eq!((a.host(), a.port()), ("127.0.0.1", 12382));
        assert_eq!(Address::parse("LocalHost:80").unwrap().host(), "localhost");
        let v6 = Address::parse("[::1]:9000").unwrap();
        assert_eq!((v6.host(), v6.to_string().as_str()), ("::1", "[::1]:9000"));
    }

    #[test]
    fn refuses_malformed_addresses() {
        for bad in [
            "12382",
            ":80",
            "host:",
            "host:0",
            "host:70000",
            "::1:80",
            "[::1:80",
            "a b:1",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
