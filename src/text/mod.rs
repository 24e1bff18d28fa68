//! The memcached-style text protocol over TCP, served by every node on its configured `text`
//! address beside the HTTP API (`telnet host port` is a client):
//!
//! ```text
//! set <key> <exptime> <numbytes> [noreply]\r\n<value>\r\n            -> OK <version>
//! get <key>\r\n                                                      -> VALUE <numbytes>\r\n<value>
//! getm <key>\r\n                      -> VALUE <version> <exptime> <numbytes>\r\n<value>
//! cas <key> <exptime> <version> <numbytes> [noreply]\r\n<value>\r\n  -> OK <version> | ERR_VERSION
//! delete <key> [noreply]\r\n                                         -> DELETED
//! errors: ERR_NOT_FOUND, ERR_CMD_ERR, ERR_INTERNAL, ERR_REDIRECT <host> <port>
//! ```
//! Every answer ends with `\r\n`. `exptime` is seconds to live (0: never); `getm` shows the seconds
//! remaining, rounded up, on the state machine's clock. A follower answers writes with
//! `ERR_REDIRECT` naming the leader's text address; reads are linearizable on any node. `noreply`
//! silences every answer to a well-formed command; a malformed one is always answered
//! `ERR_CMD_ERR`, since its `noreply` cannot be trusted.
//!
//! [`parser`] turns bytes into commands, [`TextContext`] carries them out through the replicator,
//! [`Reply`] spells the answers, and [`spawn`] runs the server.

pub mod parser;

mod exec;
mod reply;
mod server;

pub use exec::TextContext;
pub use parser::{ParseError, Parser, TextCommand, MAX_KEY_BYTES};
pub use reply::Reply;
pub use server::{
    bind, spawn, HANDSHAKE_TIMEOUT, IDLE_TIMEOUT, PARTIAL_COMMAND_TIMEOUT, WRITE_TIMEOUT,
};
