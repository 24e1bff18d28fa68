//! The incremental parser of the text protocol: bytes arrive in any pieces; complete commands come
//! out in order, and a malformed one leaves the parser resynchronised on the next command.
//!
//! ```text
//! set <key> <exptime> <numbytes> [noreply]\r\n<value>\r\n
//! cas <key> <exptime> <version> <numbytes> [noreply]\r\n<value>\r\n
//! get <key>\r\n
//! getm <key>\r\n
//! delete <key> [noreply]\r\n
//! ```
//! A command line ends with `\r\n` (a bare `\n` is accepted too, for `nc` users). A value is exactly
//! `<numbytes>` bytes, so it may contain `\r\n`; the `\r\n` after it is required.
//!
//! Resynchronisation after an error: a bad command line is dropped through its newline; a value
//! over the limit is skipped unread (`numbytes` bytes, then through the next newline) so memory
//! stays bounded; a value not followed by its `\r\n` (the byte count lied) is dropped with
//! everything up to the next newline.

use bytes::{Buf, Bytes, BytesMut};

/// The longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 250;

/// The longest command line, in bytes: a key, a verb, three numbers and `noreply` fit easily.
pub const MAX_LINE_BYTES: usize = 512;

/// One complete request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextCommand {
    /// Store `value` under `key`, expiring `exptime` seconds from now (0: never).
    Set {
        key: String,
        exptime: u64,
        value: Bytes,
        noreply: bool,
    },
    /// Like `Set`, only if the key's version is `version`.
    Cas {
        key: String,
        exptime: u64,
        version: u64,
        value: Bytes,
        noreply: bool,
    },
    /// The value of `key`.
    Get { key: String },
    /// The version, remaining seconds and value of `key`.
    Getm { key: String },
    /// Remove `key`.
    Delete { key: String, noreply: bool },
    /// Log this connection in as `user` (needed while auth is on).
    Auth { user: String, password: String },
}

impl TextCommand {
    /// True when the client asked for no answer.
    pub fn noreply(&self) -> bool {
        match self {
            TextCommand::Set { noreply, .. }
            | TextCommand::Cas { noreply, .. }
            | TextCommand::Delete { noreply, .. } => *noreply,
            TextCommand::Get { .. } | TextCommand::Getm { .. } | TextCommand::Auth { .. } => false,
        }
    }
}

/// A malformed command; the client is answered `ERR_CMD_ERR` and the parser has resynchronised.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The line names no known command (or is empty).
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// The right command with the wrong arguments; the text is its usage.
    #[error("usage: {0}")]
    Usage(&'static str),
    /// A number field is not an unsigned integer.
    #[error("{0} must be an unsigned integer")]
    BadNumber(&'static str),
    /// The key is empty, too long, not UTF-8 or holds control characters.
    #[error("bad key: {0}")]
    BadKey(&'static str),
    /// No newline within [`MAX_LINE_BYTES`].
    #[error("command line longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong,
    /// The announced value is larger than the configured limit; it is skipped.
    #[error("value of {numbytes} bytes exceeds the limit of {limit}")]
    ValueTooLarge { numbytes: usize, limit: usize },
    /// The value was not followed by `\r\n`: the byte count does not match what was sent.
    #[error("the value is not followed by \\r\\n: wrong byte count")]
    BadDataChunk,
}

/// A storage command whose line is parsed, waiting for its value.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pending {
    key: String,
    exptime: u64,
    /// `Some` for `cas`.
    version: Option<u64>,
    numbytes: usize,
    noreply: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Expecting a command line.
    Line,
    /// Expecting `numbytes` value bytes and the `\r\n` after them.
    Value(Pending),
    /// Discarding this many bytes of an oversized value, then the rest of its line.
    Skip(usize),
    /// Discarding through the next newline.
    SkipLine,
}

/// Turns a byte stream into [`TextCommand`]s. Holds no input itself: the caller owns the buffer,
/// and every call consumes from its front exactly the bytes it has dealt with.
#[derive(Clone, Debug)]
pub struct Parser {
    max_value_bytes: usize,
    state: State,
}

impl Parser {
    /// A parser refusing values over `max_value_bytes`.
    pub fn new(max_value_bytes: usize) -> Self {
        Parser {
            max_value_bytes,
            state: State::Line,
        }
    }

    /// True while a command has begun but is not complete (bytes buffered or a value awaited):
    /// the connection is then expected to keep sending.
    pub fn in_command(&self, buf: &[u8]) -> bool {
        self.state != State::Line || !buf.is_empty()
    }

    /// The next complete command from the front of `buf`: `Ok(None)` when more bytes are needed,
    /// `Err` for a malformed command (already skipped or being skipped: call again).
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<TextCommand>, ParseError> {
        loop {
            match &self.state {
                State::Line => {
                    let command = self.line(buf)?;
                    // A `set` or `cas` line moves on to its value, which may be buffered already.
                    if command.is_some() || self.state == State::Line {
                        return Ok(command);
                    }
                }
                State::Value(pending) => {
                    let pending = pending.clone();
                    return self.value(buf, pending);
                }
                State::Skip(remaining) => {
                    let n = (*remaining).min(buf.len());
                    buf.advance(n);
                    if n < *remaining {
                        self.state = State::Skip(remaining - n);
                        return Ok(None);
                    }
                    self.state = State::SkipLine;
                }
                State::SkipLine => match memchr_newline(buf) {
                    Some(end) => {
                        buf.advance(end + 1);
                        self.state = State::Line;
                    }
                    None => {
                        buf.clear();
                        return Ok(None);
                    }
                },
            }
        }
    }

    /// Parses a command line if a whole one is buffered.
    fn line(&mut self, buf: &mut BytesMut) -> Result<Option<TextCommand>, ParseError> {
        let Some(end) = memchr_newline(buf) else {
            if buf.len() > MAX_LINE_BYTES {
                buf.clear();
                self.state = State::SkipLine;
                return Err(ParseError::LineTooLong);
            }
            return Ok(None);
        };
        let line = buf.split_to(end + 1);
        if end > MAX_LINE_BYTES {
            return Err(ParseError::LineTooLong);
        }
        let line = line[..end].strip_suffix(b"\r").unwrap_or(&line[..end]);
        let fields: Vec<&[u8]> = line
            .split(|&b| b == b' ')
            .filter(|f| !f.is_empty())
            .collect();
        match fields.first().copied() {
            Some(b"get") => Ok(Some(TextCommand::Get {
                key: lone_key(&fields, "get <key>")?,
            })),
            Some(b"getm") => Ok(Some(TextCommand::Getm {
                key: lone_key(&fields, "getm <key>")?,
            })),
            Some(b"delete") => {
                const USAGE: &str = "delete <key> [noreply]";
                let (args, noreply) = split_noreply(&fields[1..]);
                let [key] = args else {
                    return Err(ParseError::Usage(USAGE));
                };
                Ok(Some(TextCommand::Delete {
                    key: parse_key(key)?,
                    noreply,
                }))
            }
            Some(b"auth") => {
                let [_, user, password] = fields.as_slice() else {
                    return Err(ParseError::Usage("auth <user> <password>"));
                };
                let text = |field: &[u8]| {
                    String::from_utf8(field.to_vec())
                        .map_err(|_| ParseError::Usage("auth <user> <password>, as UTF-8"))
                };
                Ok(Some(TextCommand::Auth {
                    user: text(user)?,
                    password: text(password)?,
                }))
            }
            Some(b"set") => self.storage(&fields[1..], false),
            Some(b"cas") => self.storage(&fields[1..], true),
            Some(other) => Err(ParseError::UnknownCommand(
                String::from_utf8_lossy(other).into_owned(),
            )),
            None => Err(ParseError::UnknownCommand(String::new())),
        }
    }

    /// Parses the arguments of `set` or `cas` and waits for the value (or skips an oversized one).
    fn storage(&mut self, args: &[&[u8]], is_cas: bool) -> Result<Option<TextCommand>, ParseError> {
        let (args, noreply) = split_noreply(args);
        let (usage, expected) = if is_cas {
            ("cas <key> <exptime> <version> <numbytes> [noreply]", 4)
        } else {
            ("set <key> <exptime> <numbytes> [noreply]", 3)
        };
        if args.len() != expected {
            return Err(ParseError::Usage(usage));
        }
        // The byte count first: if it is readable, the value can be skipped even when another
        // field is bad, so its bytes are not taken for commands.
        let numbytes: usize = parse_number(args[expected - 1], "numbytes")?;
        if numbytes > self.max_value_bytes {
            self.state = State::Skip(numbytes);
            return Err(ParseError::ValueTooLarge {
                numbytes,
                limit: self.max_value_bytes,
            });
        }
        let fields = (|| {
            let key = parse_key(args[0])?;
            let exptime = parse_number(args[1], "exptime")?;
            let version = match is_cas {
                true => Some(parse_number(args[2], "version")?),
                false => None,
            };
            Ok((key, exptime, version))
        })();
        let (key, exptime, version) = match fields {
            Ok(fields) => fields,
            Err(e) => {
                self.state = State::Skip(numbytes);
                return Err(e);
            }
        };
        self.state = State::Value(Pending {
            key,
            exptime,
            version,
            numbytes,
            noreply,
        });
        Ok(None)
    }

    /// Completes a storage command once its value and the `\r\n` after it are buffered.
    fn value(
        &mut self,
        buf: &mut BytesMut,
        pending: Pending,
    ) -> Result<Option<TextCommand>, ParseError> {
        let n = pending.numbytes;
        let terminator = match (buf.get(n), buf.get(n + 1)) {
            (None, _) | (Some(b'\r'), None) => return Ok(None),
            (Some(b'\n'), _) => 1,
            (Some(b'\r'), Some(b'\n')) => 2,
            _ => {
                // The count lied: drop what was taken as the value and the rest of that line.
                buf.advance(n);
                self.state = State::SkipLine;
                return Err(ParseError::BadDataChunk);
            }
        };
        let value = buf.split_to(n).freeze();
        buf.advance(terminator);
        self.state = State::Line;
        let Pending {
            key,
            exptime,
            version,
            noreply,
            ..
        } = pending;
        Ok(Some(match version {
            Some(version) => TextCommand::Cas {
                key,
                exptime,
                version,
                value,
                noreply,
            },
            None => TextCommand::Set {
                key,
                exptime,
                value,
                noreply,
            },
        }))
    }
}

/// The position of the first `\n`.
fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

/// Splits a trailing `noreply` off the arguments.
fn split_noreply<'a, 'b>(args: &'a [&'b [u8]]) -> (&'a [&'b [u8]], bool) {
    match args.split_last() {
        Some((last, rest)) if *last == b"noreply" => (rest, true),
        _ => (args, false),
    }
}

/// The key of a command that takes nothing else.
fn lone_key(fields: &[&[u8]], usage: &'static str) -> Result<String, ParseError> {
    match fields {
        [_, key] => parse_key(key),
        _ => Err(ParseError::Usage(usage)),
    }
}

fn parse_key(key: &[u8]) -> Result<String, ParseError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(ParseError::BadKey("longer than 250 bytes"));
    }
    let key = std::str::from_utf8(key).map_err(|_| ParseError::BadKey("not UTF-8"))?;
    if key.chars().any(char::is_control) {
        return Err(ParseError::BadKey("control characters"));
    }
    Ok(key.to_string())
}

fn parse_number<T: std::str::FromStr>(field: &[u8], what: &'static str) -> Result<T, ParseError> {
    // `FromStr` for integers accepts a leading `+`; the protocol does not.
    if !field.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadNumber(what));
    }
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ParseError::BadNumber(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `piece` bytes; returns every outcome in order.
    fn parse_in_pieces(
        input: &[u8],
        piece: usize,
        limit: usize,
    ) -> Vec<Result<TextCommand, ParseError>> {
        let mut parser = Parser::new(limit);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in input.chunks(piece.max(1)) {
            buf.extend_from_slice(chunk);
            loop {
                match parser.next(&mut buf) {
                    Ok(Some(c)) => out.push(Ok(c)),
                    Ok(None) => break,
                    Err(e) => out.push(Err(e)),
                }
            }
        }
        assert!(
            !parser.in_command(&buf),
            "unfinished: {:?} {buf:?} after {out:?}",
            parser.state
        );
        out
    }

    fn set(key: &str, exptime: u64, value: &'static [u8]) -> TextCommand {
        TextCommand::Set {
            key: key.into(),
            exptime,
            value: Bytes::from_static(value),
            noreply: false,
        }
    }

    fn get(key: &str) -> TextCommand {
        TextCommand::Get { key: key.into() }
    }

    #[test]
    fn every_command_parses_whatever_the_read_sizes() {
        let input = b"set k 10 5\r\nab\r\nc\r\nget k\r\ngetm k\r\n\
                      cas k 0 7 1 noreply\r\nx\r\ndelete k\r\ndelete k noreply\n";
        let expected = vec![
            Ok(set("k", 10, b"ab\r\nc")),
            Ok(get("k")),
            Ok(TextCommand::Getm { key: "k".into() }),
            Ok(TextCommand::Cas {
                key: "k".into(),
                exptime: 0,
                version: 7,
                value: Bytes::from_static(b"x"),
                noreply: true,
            }),
            Ok(TextCommand::Delete {
                key: "k".into(),
                noreply: false,
            }),
            Ok(TextCommand::Delete {
                key: "k".into(),
                noreply: true,
            }),
        ];
        for piece in [1, 2, 3, 7, 1000] {
            assert_eq!(
                parse_in_pieces(input, piece, 100),
                expected,
                "piece {piece}"
            );
        }
    }

    #[test]
    fn malformed_lines_are_errors_and_the_next_command_still_parses() {
        let long_key = "k".repeat(251);
        let input = format!(
            "\r\nbogus\r\nget\r\nget a b\r\nset k x 1\r\ny\r\nset {long_key} 0 1\r\nz\r\n\
             cas k 0 1\r\nget +1\r\nget ok\r\n"
        );
        let got = parse_in_pieces(input.as_bytes(), 5, 100);
        assert_eq!(
            got,
            vec![
                Err(ParseError::UnknownCommand(String::new())),
                Err(ParseError::UnknownCommand("bogus".into())),
                Err(ParseError::Usage("get <key>")),
                Err(ParseError::Usage("get <key>")),
                Err(ParseError::BadNumber("exptime")),
                Err(ParseError::BadKey("longer than 250 bytes")),
                Err(ParseError::Usage(
                    "cas <key> <exptime> <version> <numbytes> [noreply]"
                )),
                Ok(get("+1")),
                Ok(get("ok")),
            ]
        );
    }

    #[test]
    fn a_byte_count_that_lies_is_an_error_and_the_stream_resynchronises() {
        // Too short: "hel" then "lo" where "\r\n" should be. Too long: the value swallows the
        // start of the next command, whose line is then dropped.
        let input = b"set k 0 3\r\nhello\r\nset k 0 5\r\nhi\r\nget x\r\nget y\r\n";
        assert_eq!(
            parse_in_pieces(input, 1, 100),
            vec![
                Err(ParseError::BadDataChunk),
                Err(ParseError::BadDataChunk),
                Ok(get("y"))
            ]
        );
    }

    #[test]
    fn an_oversized_value_is_skipped_without_being_buffered() {
        let mut input = b"set big 0 50\r\n".to_vec();
        input.extend_from_slice(&[b'\n'; 50]);
        input.extend_from_slice(b"\r\nget big\r\n");
        assert_eq!(
            parse_in_pieces(&input, 4, 10),
            vec![
                Err(ParseError::ValueTooLarge {
                    numbytes: 50,
                    limit: 10
                }),
                Ok(get("big"))
            ]
        );
        // The buffer never holds the value: the parser drops it as it comes.
        let mut parser = Parser::new(10);
        let mut buf = BytesMut::from(&b"set big 0 50\r\n"[..]);
        assert!(parser.next(&mut buf).is_err());
        buf.extend_from_slice(&[b'x'; 30]);
        assert_eq!(parser.next(&mut buf), Ok(None));
        assert!(buf.is_empty() && parser.in_command(&buf));
    }

    #[test]
    fn a_line_without_a_newline_is_cut_off_at_the_limit() {
        let mut parser = Parser::new(10);
        let mut buf = BytesMut::from(&[b'g'; MAX_LINE_BYTES][..]);
        assert_eq!(parser.next(&mut buf), Ok(None), "still within the limit");
        buf.extend_from_slice(b"gg");
        assert_eq!(parser.next(&mut buf), Err(ParseError::LineTooLong));
        assert!(buf.is_empty());
        buf.extend_from_slice(b"ggg\r\nget a\r\n");
        assert_eq!(parser.next(&mut buf), Ok(Some(get("a"))));
    }

    #[test]
    fn a_bad_field_with_a_readable_count_skips_the_value() {
        let input = b"cas k 0 v 3\r\nget\r\nget z\r\n";
        assert_eq!(
            parse_in_pieces(input, 2, 100),
            vec![Err(ParseError::BadNumber("version")), Ok(get("z"))]
        );
    }
}
