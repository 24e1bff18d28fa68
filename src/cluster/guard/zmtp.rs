//! A ZMTP 3.x stream checker that sits in front of the `zeromq` library.
//!
//! The library trusts the lengths a remote side declares: one long-frame header announcing a
//! 64 GiB frame makes it reserve 64 GiB, and the allocation failure aborts the process. This
//! checker reads the same bytes first, as they arrive, and refuses a stream the moment it
//! steps outside what a raftkv peer sends, so only well-formed, bounded traffic reaches the
//! library. It is pure (bytes in, bytes to forward out), which is what lets the fuzzer drive it.
//!
//! What it accepts, by [`Role`] of the remote side (ZMTP 3.0, rfc.zeromq.org/spec/23):
//! - the 64-byte greeting: signature `FF .. 7F`, major version 3, mechanism `NULL`;
//! - one READY command (at most [`MAX_COMMAND_BYTES`], well-formed properties);
//! - a DEALER then sends one hello frame (at most `max_hello_bytes`, captured for the caller to
//!   authenticate, never forwarded) and data frames of at most `max_frame_bytes`, each a whole
//!   single-part message;
//! - a ROUTER sends nothing more: raftkv's ROUTERs never answer.
//!
//! Memory is bounded by the role's limits whatever the input: bodies are forwarded as they
//! stream, and only a READY command or a hello (both small) is ever held whole.

use thiserror::Error;

/// Longest READY command accepted (its properties name the socket type and an identity of at
/// most 255 bytes).
pub const MAX_COMMAND_BYTES: u64 = 1024;

const GREETING_BYTES: usize = 64;
const FLAG_MORE: u8 = 0b001;
const FLAG_LONG: u8 = 0b010;
const FLAG_COMMAND: u8 = 0b100;

/// Who is on the other end, and so what it may send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A peer's DEALER connected to this node's ROUTER.
    Dealer {
        max_frame_bytes: u64,
        max_hello_bytes: u64,
    },
    /// A peer's ROUTER that this node's DEALER connected to.
    Router,
}

/// Why a stream was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ZmtpError {
    #[error("not a ZMTP greeting: {0}")]
    Greeting(&'static str),
    #[error("reserved frame flags {0:#04x}")]
    Flags(u8),
    #[error("a {len}-byte {what} is over the limit of {max}")]
    Oversized {
        what: &'static str,
        len: u64,
        max: u64,
    },
    #[error("its first frame ({len} bytes) is too long for a hello")]
    NotAHello { len: u64 },
    #[error("malformed READY command: {0}")]
    Ready(&'static str),
    #[error("unexpected {0}")]
    Unexpected(&'static str),
}

/// Where the stream is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Greeting,
    Ready,
    Hello,
    Data,
}

/// Within the current phase, what the next bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Collecting a frame header (flags, then a 1- or 8-byte size) into `header`.
    Header,
    /// Inside a frame body: `remaining` bytes to go.
    Body { remaining: u64, held: bool },
    /// A previous call failed: everything after is refused.
    Failed,
}

/// Checks one direction of one connection.
#[derive(Debug)]
pub struct ZmtpValidator {
    role: Role,
    phase: Phase,
    state: State,
    header: [u8; 9],
    header_len: usize,
    /// The greeting, the READY body or the hello body while it is collected. Never longer than
    /// the largest of those limits.
    held: Vec<u8>,
}

impl ZmtpValidator {
    /// A checker for a fresh connection whose remote side plays `role`.
    pub fn new(role: Role) -> Self {
        ZmtpValidator {
            role,
            phase: Phase::Greeting,
            state: State::Header,
            header: [0; 9],
            header_len: 0,
            held: Vec::new(),
        }
    }

    /// True once the greeting, READY and (from a DEALER) the hello have all been seen.
    pub fn handshaken(&self) -> bool {
        match self.role {
            Role::Dealer { .. } => self.phase == Phase::Data,
            Role::Router => self.phase == Phase::Data,
        }
    }

    /// Consumes `input`, appending to `forward` the bytes that may go on to the library, and
    /// returns the hello frame's body when this call completed it. The caller must
    /// authenticate a returned hello before it writes `forward` anywhere. After an error the
    /// stream must be closed; further calls fail too.
    pub fn feed(
        &mut self,
        mut input: &[u8],
        forward: &mut Vec<u8>,
    ) -> Result<Option<Vec<u8>>, ZmtpError> {
        let mut hello = None;
        while !input.is_empty() {
            let result = match self.phase {
                Phase::Greeting => self.greeting(&mut input, forward),
                _ => self.frames(&mut input, forward, &mut hello),
            };
            if let Err(e) = result {
                self.state = State::Failed;
                self.held = Vec::new();
                return Err(e);
            }
        }
        Ok(hello)
    }

    fn greeting(&mut self, input: &mut &[u8], forward: &mut Vec<u8>) -> Result<(), ZmtpError> {
        if self.state == State::Failed {
            return Err(ZmtpError::Unexpected("bytes after a refused frame"));
        }
        let take = (GREETING_BYTES - self.held.len()).min(input.len());
        self.held.extend_from_slice(&input[..take]);
        *input = &input[take..];
        // The signature's first byte tells a stranger at once, before 64 bytes arrive.
        if self.held.first().is_some_and(|&b| b != 0xff) {
            return Err(ZmtpError::Greeting("first byte is not 0xFF"));
        }
        if self.held.len() < GREETING_BYTES {
            return Ok(());
        }
        let g = std::mem::take(&mut self.held);
        if g[9] != 0x7f {
            return Err(ZmtpError::Greeting("signature does not end in 0x7F"));
        }
        if g[10] != 3 {
            return Err(ZmtpError::Greeting("major version is not 3"));
        }
        if &g[12..16] != b"NULL" || g[16..32].iter().any(|&b| b != 0) {
            return Err(ZmtpError::Greeting("mechanism is not NULL"));
        }
        if g[32] > 1 {
            return Err(ZmtpError::Greeting("as-server is neither 0 nor 1"));
        }
        forward.extend_from_slice(&g);
        self.phase = Phase::Ready;
        Ok(())
    }

    fn frames(
        &mut self,
        input: &mut &[u8],
        forward: &mut Vec<u8>,
        hello: &mut Option<Vec<u8>>,
    ) -> Result<(), ZmtpError> {
        match self.state {
            State::Failed => Err(ZmtpError::Unexpected("bytes after a refused frame")),
            State::Header => {
                let need = self.header_needed();
                let take = (need - self.header_len).min(input.len());
                self.header[self.header_len..self.header_len + take]
                    .copy_from_slice(&input[..take]);
                self.header_len += take;
                *input = &input[take..];
                if self.header_len == 1 {
                    let flags = self.header[0];
                    if flags & !(FLAG_MORE | FLAG_LONG | FLAG_COMMAND) != 0 {
                        return Err(ZmtpError::Flags(flags));
                    }
                }
                if self.header_len == self.header_needed() {
                    self.start_body(forward)?;
                    self.finish_if_empty(forward, hello)?;
                }
                Ok(())
            }
            State::Body { remaining, held } => {
                let take = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                if held {
                    self.held.extend_from_slice(&input[..take]);
                } else {
                    forward.extend_from_slice(&input[..take]);
                }
                *input = &input[take..];
                self.state = State::Body {
                    remaining: remaining - take as u64,
                    held,
                };
                self.finish_if_empty(forward, hello)
            }
        }
    }

    /// Header bytes needed: 1 until the flags are known, then 2 (short) or 9 (long).
    fn header_needed(&self) -> usize {
        if self.header_len == 0 {
            1
        } else if self.header[0] & FLAG_LONG != 0 {
            9
        } else {
            2
        }
    }

    /// Checks a complete header against the phase and the limits; enters the body.
    fn start_body(&mut self, forward: &mut Vec<u8>) -> Result<(), ZmtpError> {
        let flags = self.header[0];
        let len = if flags & FLAG_LONG != 0 {
            u64::from_be_bytes(self.header[1..9].try_into().expect("8 bytes"))
        } else {
            u64::from(self.header[1])
        };
        let command = flags & FLAG_COMMAND != 0;
        if flags & FLAG_MORE != 0 {
            return Err(ZmtpError::Unexpected(if command {
                "command with the MORE flag"
            } else {
                "multi-part message (raftkv peers send one part)"
            }));
        }
        let held = match (self.phase, command, self.role) {
            (Phase::Ready, true, _) => {
                check_len("command", len, MAX_COMMAND_BYTES)?;
                true
            }
            (Phase::Ready, false, _) => return Err(ZmtpError::Unexpected("data before READY")),
            (
                Phase::Hello,
                false,
                Role::Dealer {
                    max_hello_bytes, ..
                },
            ) => {
                // Where a hello must come, a longer frame says the peer is no raftkv member
                // (or predates sealed frames): an authentication failure, not a size one.
                if len > max_hello_bytes {
                    return Err(ZmtpError::NotAHello { len });
                }
                true
            }
            (
                Phase::Data,
                false,
                Role::Dealer {
                    max_frame_bytes, ..
                },
            ) => {
                check_len("frame", len, max_frame_bytes)?;
                false
            }
            (Phase::Data, false, Role::Router) => {
                return Err(ZmtpError::Unexpected("data from a ROUTER"))
            }
            (_, true, _) => return Err(ZmtpError::Unexpected("command after READY")),
            (Phase::Greeting | Phase::Hello, false, _) => {
                unreachable!("greeting is handled apart; Hello exists only for DEALERs")
            }
        };
        if held {
            self.held = Vec::with_capacity(len as usize);
        } else {
            forward.extend_from_slice(&self.header[..self.header_len]);
        }
        self.state = State::Body {
            remaining: len,
            held,
        };
        Ok(())
    }

    /// Closes the frame once its body is complete.
    fn finish_if_empty(
        &mut self,
        forward: &mut Vec<u8>,
        hello: &mut Option<Vec<u8>>,
    ) -> Result<(), ZmtpError> {
        if !matches!(self.state, State::Body { remaining: 0, .. }) {
            return Ok(());
        }
        let header_len = self.header_len;
        self.header_len = 0;
        self.state = State::Header;
        match self.phase {
            Phase::Ready => {
                let body = std::mem::take(&mut self.held);
                check_ready(&body)?;
                forward.extend_from_slice(&self.header[..header_len]);
                forward.extend_from_slice(&body);
                self.phase = match self.role {
                    Role::Dealer { .. } => Phase::Hello,
                    Role::Router => Phase::Data,
                };
            }
            Phase::Hello => {
                *hello = Some(std::mem::take(&mut self.held));
                self.phase = Phase::Data;
            }
            Phase::Data | Phase::Greeting => {}
        }
        Ok(())
    }
}

fn check_len(what: &'static str, len: u64, max: u64) -> Result<(), ZmtpError> {
    if len > max {
        return Err(ZmtpError::Oversized { what, len, max });
    }
    Ok(())
}

/// A READY body: name `READY`, then properties (1-byte name length >= 1, name, 4-byte value
/// length, value) filling the body exactly.
fn check_ready(body: &[u8]) -> Result<(), ZmtpError> {
    let rest = body
        .strip_prefix(b"\x05READY")
        .ok_or(ZmtpError::Ready("not a READY command"))?;
    let mut rest = rest;
    while let Some((&name_len, after)) = rest.split_first() {
        let name_len = usize::from(name_len);
        if name_len == 0 || after.len() < name_len + 4 {
            return Err(ZmtpError::Ready(
                "property name or value length out of bounds",
            ));
        }
        let value_len = u32::from_be_bytes(after[name_len..name_len + 4].try_into().expect("4"));
        let after_value = &after[name_len + 4..];
        let value_len = usize::try_from(value_len).unwrap_or(usize::MAX);
        if after_value.len() < value_len {
            return Err(ZmtpError::Ready("property value runs past the command"));
        }
        rest = &after_value[value_len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEALER: Role = Role::Dealer {
        max_frame_bytes: 1000,
        max_hello_bytes: 100,
    };

    pub(crate) fn greeting() -> Vec<u8> {
        let mut g = vec![0u8; 64];
        g[0] = 0xff;
        g[9] = 0x7f;
        g[10] = 3;
        g[12..16].copy_from_slice(b"NULL");
        g
    }

    fn ready() -> Vec<u8> {
        let mut body = b"\x05READY\x0bSocket-Type".to_vec();
        body.extend_from_slice(&6u32.to_be_bytes());
        body.extend_from_slice(b"DEALER");
        let mut frame = vec![FLAG_COMMAND, body.len() as u8];
        frame.extend_from_slice(&body);
        frame
    }

    fn data(len: usize) -> Vec<u8> {
        let mut frame = if len > 255 {
            let mut h = vec![FLAG_LONG];
            h.extend_from_slice(&(len as u64).to_be_bytes());
            h
        } else {
            vec![0, len as u8]
        };
        frame.extend(std::iter::repeat_n(7u8, len));
        frame
    }

    fn stream(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn a_dealer_handshake_forwards_all_but_the_hello() {
        let input = stream(&[greeting(), ready(), data(10), data(300)]);
        // Byte by byte and all at once give the same result.
        for chunk in [1, 7, input.len()] {
            let mut v = ZmtpValidator::new(DEALER);
            let (mut forward, mut hellos) = (Vec::new(), Vec::new());
            for piece in input.chunks(chunk) {
                hellos.extend(v.feed(piece, &mut forward).unwrap());
            }
            assert_eq!(hellos, vec![vec![7u8; 10]]);
            assert_eq!(forward, stream(&[greeting(), ready(), data(300)]));
            assert!(v.handshaken());
        }
    }

    #[test]
    fn a_64_gib_header_is_refused_before_any_allocation() {
        let mut header = vec![FLAG_LONG];
        header.extend_from_slice(&(64u64 << 30).to_be_bytes());
        let input = stream(&[greeting(), ready(), data(1), header]);
        let mut v = ZmtpValidator::new(DEALER);
        let err = v.feed(&input, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, ZmtpError::Oversized { what: "frame", .. }));
        assert!(v.feed(&[0], &mut Vec::new()).is_err(), "stays refused");
    }

    #[test]
    fn frames_at_the_limit_pass_and_one_byte_over_fails() {
        let mut v = ZmtpValidator::new(DEALER);
        let ok = stream(&[greeting(), ready(), data(1), data(1000)]);
        v.feed(&ok, &mut Vec::new()).unwrap();
        assert!(v.feed(&data(1001), &mut Vec::new()).is_err());
        let big_hello = stream(&[greeting(), ready(), data(101)]);
        assert!(ZmtpValidator::new(DEALER)
            .feed(&big_hello, &mut Vec::new())
            .is_err());
    }

    #[test]
    fn strangers_and_protocol_breaks_are_refused() {
        let mut bad_sig = greeting();
        bad_sig[9] = 0;
        let mut curve = greeting();
        curve[12..17].copy_from_slice(b"CURVE");
        let mut multipart = data(3);
        multipart[0] |= FLAG_MORE;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("http", b"GET / HTTP/1.1\r\n".to_vec()),
            ("signature", bad_sig),
            ("mechanism", curve),
            ("data before READY", stream(&[greeting(), data(3)])),
            ("reserved flags", stream(&[greeting(), vec![0x80, 0]])),
            (
                "bad READY",
                stream(&[greeting(), vec![FLAG_COMMAND, 3, 1, b'X', 0]]),
            ),
            (
                "READY property overruns",
                stream(&[
                    greeting(),
                    vec![FLAG_COMMAND, 8, 5, b'R', b'E', b'A', b'D', b'Y', 9, b'a'],
                ]),
            ),
            (
                "multi-part",
                stream(&[greeting(), ready(), data(1), multipart]),
            ),
            (
                "command later",
                stream(&[greeting(), ready(), data(1), ready()]),
            ),
        ];
        for (name, input) in cases {
            let result = ZmtpValidator::new(DEALER).feed(&input, &mut Vec::new());
            assert!(result.is_err(), "{name} was accepted");
        }
        let from_router = stream(&[greeting(), ready(), data(1)]);
        assert_eq!(
            ZmtpValidator::new(Role::Router).feed(&from_router, &mut Vec::new()),
            Err(ZmtpError::Unexpected("data from a ROUTER"))
        );
    }

    #[test]
    fn a_router_handshake_passes_whole() {
        let input = stream(&[greeting(), ready()]);
        let mut v = ZmtpValidator::new(Role::Router);
        let mut forward = Vec::new();
        assert_eq!(v.feed(&input, &mut forward), Ok(None));
        assert_eq!(forward, input);
        assert!(v.handshaken());
    }
}
