//! Client requests as they travel inside `Payload::Command`: the envelope, the commands and their
//! MessagePack encoding.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::raft::{Index, Payload};

/// An exactly-once session: the client's id and the sequence number of this request. See the
/// module docs of [`crate::state`] for the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Chosen by the client; unique among live clients.
    pub client_id: u64,
    /// Grows by one (or more) with every new request of this client; a retry reuses it.
    pub seq: u64,
}

/// What a proposer puts in the log: an optional session, one command and the leader's clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// `None` for requests that need no deduplication (reads, or clients without sessions).
    pub session: Option<Session>,
    /// The operation to apply.
    pub command: Command,
    /// The proposing leader's wall clock, in milliseconds since the Unix epoch, taken when it
    /// proposed the entry. The state machine's only notion of time (see the module docs of
    /// [`crate::state`]); `None` leaves its clock where it is.
    #[serde(default)]
    pub stamp_ms: Option<u64>,
}

impl Request {
    /// A request without a session.
    pub fn new(command: Command) -> Self {
        Request {
            session: None,
            command,
            stamp_ms: None,
        }
    }

    /// A request deduplicated under `(client_id, seq)`.
    pub fn with_session(client_id: u64, seq: u64, command: Command) -> Self {
        Request {
            session: Some(Session { client_id, seq }),
            command,
            stamp_ms: None,
        }
    }

    /// The same request stamped with the proposer's clock.
    pub fn stamped(self, stamp_ms: u64) -> Self {
        Request {
            stamp_ms: Some(stamp_ms),
            ..self
        }
    }
}

/// Every operation the state machine knows. Reads are commands too, so that a read sent through the
/// log is recorded in every node's transaction log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Insert or replace the student with this roll number.
    StudentPut {
        /// The student's key.
        roll_no: u64,
        /// Full name.
        name: String,
        /// Postal address.
        address: String,
        /// Phone number, as typed.
        phone: String,
    },
    /// Remove a student; the result says whether it existed.
    StudentDelete {
        /// The student's key.
        roll_no: u64,
    },
    /// Read every student, by ascending roll number.
    StudentList,
    /// Read a student.
    StudentGet {
        /// The student's key.
        roll_no: u64,
    },
    /// Set a key; its version becomes the revision of this write.
    KvPut {
        /// Must not be empty.
        key: String,
        /// Any bytes.
        value: Bytes,
    },
    /// Remove a key; the result says whether it existed.
    KvDelete {
        /// The key.
        key: String,
    },
    /// Read a key with its version.
    KvGet {
        /// The key.
        key: String,
    },
    /// Set a key that expires `ttl_secs` after this entry's stamp (0: never); its version
    /// becomes the revision of this write.
    KvSet {
        /// Must not be empty.
        key: String,
        /// Any bytes.
        value: Bytes,
        /// Seconds to live, judged by the state machine's clock; 0 means the key never expires.
        ttl_secs: u64,
    },
    /// Compare-and-swap: like [`Command::KvSet`], but only if the key exists and its version is
    /// `expected_version`, or, for `expected_version` 0 ([`crate::state::ABSENT_VERSION`]), only if
    /// the key does not exist (a create).
    KvCas {
        /// Must not be empty.
        key: String,
        /// Any bytes.
        value: Bytes,
        /// Seconds to live of the new value; 0 means never.
        ttl_secs: u64,
        /// The version the client last saw; 0: the client expects no such key.
        expected_version: Index,
    },
    /// Remove every key whose expiry has passed; proposed by the leader now and then.
    KvPurge,
    /// Read a key with its version and expiry.
    KvGetMeta {
        /// The key.
        key: String,
    },
    /// Create a stack under `label`, or return the id of the one that already has it.
    StackCreate {
        /// The client's name for the stack.
        label: i64,
    },
    /// The id of the stack with this label.
    StackId {
        /// The client's name for the stack.
        label: i64,
    },
    /// Push an item.
    StackPush {
        /// From `StackCreate` or `StackId`.
        stack_id: u64,
        /// The value pushed.
        item: i64,
    },
    /// Pop and return the top item.
    StackPop {
        /// From `StackCreate` or `StackId`.
        stack_id: u64,
    },
    /// The top item, left in place.
    StackTop {
        /// From `StackCreate` or `StackId`.
        stack_id: u64,
    },
    /// The number of items.
    StackSize {
        /// From `StackCreate` or `StackId`.
        stack_id: u64,
    },
    /// An etcd v3 operation on the key-value store (the gRPC API's).
    Etcd(crate::state::mvcc::EtcdCommand),
    /// A change to users, roles or permissions.
    Auth(crate::state::auth::AuthCommand),
}

impl Command {
    /// True for commands that change nothing, which can also be answered without the log.
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            Command::StudentGet { .. }
                | Command::StudentList
                | Command::KvGet { .. }
                | Command::KvGetMeta { .. }
                | Command::StackId { .. }
                | Command::StackTop { .. }
                | Command::StackSize { .. }
        ) || matches!(self, Command::Etcd(c) if c.is_read())
    }

    /// The longest key (or etcd range end) the command writes or names, in bytes: what every
    /// door checks against `max_key_bytes`. Students and stacks are keyed by numbers, and auth
    /// names are bounded by the auth store itself, so they count 0.
    pub fn longest_key_bytes(&self) -> usize {
        match self {
            Command::KvPut { key, .. }
            | Command::KvDelete { key }
            | Command::KvGet { key }
            | Command::KvSet { key, .. }
            | Command::KvCas { key, .. }
            | Command::KvGetMeta { key } => key.len(),
            Command::Etcd(c) => c.longest_key_bytes(),
            Command::StudentPut { .. }
            | Command::StudentDelete { .. }
            | Command::StudentList
            | Command::StudentGet { .. }
            | Command::KvPurge
            | Command::StackCreate { .. }
            | Command::StackId { .. }
            | Command::StackPush { .. }
            | Command::StackPop { .. }
            | Command::StackTop { .. }
            | Command::StackSize { .. }
            | Command::Auth(_) => 0,
        }
    }
}

/// A payload that is not a valid encoded [`Request`]. It applies as
/// [`crate::state::ApplyResult::BadCommand`]; it never panics.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("undecodable command: {0}")]
pub struct DecodeError(pub String);

/// Encodes a request for `Payload::Command`.
pub fn encode(request: &Request) -> Bytes {
    // Only strings, integers, bytes and enums: MessagePack can encode every value of these types,
    // so a failure here is a bug.
    let data = rmp_serde::to_vec(request).expect("a Request always encodes to MessagePack");
    Bytes::from(data)
}

/// Decodes a payload produced by [`encode`]. Trailing bytes are an error: a payload is one request.
pub fn decode(data: &[u8]) -> Result<Request, DecodeError> {
    let mut rest = data;
    let request = {
        let mut de = rmp_serde::Deserializer::new(&mut rest);
        Request::deserialize(&mut de).map_err(|e| DecodeError(e.to_string()))?
    };
    if !rest.is_empty() {
        return Err(DecodeError(format!(
            "{} trailing bytes after the request",
            rest.len()
        )));
    }
    Ok(request)
}

/// A committed entry's payload, decoded once and shared by the state machine and the transaction log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A leader's no-op.
    Noop,
    /// A decoded client request.
    Request(Request),
    /// A command payload that does not decode.
    Undecodable(DecodeError),
    /// A new cluster configuration: no state changes, but the transaction log records it.
    Membership(crate::raft::Membership),
}

impl Operation {
    /// Decodes an entry's payload; never fails, an invalid payload becomes [`Operation::Undecodable`].
    pub fn from_payload(payload: &Payload) -> Self {
        match payload {
            Payload::Noop => Operation::Noop,
            Payload::Membership(m) => Operation::Membership(m.membership.clone()),
            Payload::Command(data) => match decode(data) {
                Ok(request) => Operation::Request(request),
                Err(e) => Operation::Undecodable(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_gives_the_same_request() {
        let request = Request::with_session(
            7,
            3,
            Command::KvPut {
                key: "k".into(),
                value: Bytes::from_static(b"\x00\xffv"),
            },
        );
        assert_eq!(decode(&encode(&request)), Ok(request));
    }

    #[test]
    fn a_stamp_survives_encoding() {
        let request = Request::new(Command::KvPurge).stamped(1_700_000_000_123);
        assert_eq!(decode(&encode(&request)), Ok(request));
    }

    #[test]
    fn garbage_and_truncated_and_trailing_payloads_are_decode_errors() {
        let good = encode(&Request::new(Command::StackPop { stack_id: 1 }));
        assert!(decode(b"").is_err());
        assert!(decode(b"\xc1\xc1\xc1").is_err());
        assert!(decode(&good[..good.len() - 1]).is_err());
        let mut trailing = good.to_vec();
        trailing.push(0);
        let err = decode(&trailing).unwrap_err();
        assert!(err.0.contains("trailing"), "{err}");
    }

    #[test]
    fn the_longest_key_counts_range_ends_and_nested_transactions() {
        use crate::state::mvcc::{
            Compare, CompareResult, CompareTarget, EtcdCommand, KeyRange, RequestOp, TxnRequest,
        };
        assert_eq!(Command::KvGet { key: "abc".into() }.longest_key_bytes(), 3);
        assert_eq!(Command::StackPop { stack_id: 1 }.longest_key_bytes(), 0);
        let range = |key: &str, end: &[u8]| KeyRange {
            key: key.into(),
            range_end: Bytes::copy_from_slice(end),
        };
        let inner = TxnRequest {
            compare: vec![Compare {
                result: CompareResult::Equal,
                target: CompareTarget::Version(0),
                range: range("c", &[b'z'; 9]),
            }],
            ..TxnRequest::default()
        };
        let outer = TxnRequest {
            compare: vec![],
            success: vec![RequestOp::Put(crate::state::mvcc::PutRequest {
                key: "kk".into(),
                ..Default::default()
            })],
            failure: vec![RequestOp::Txn(inner)],
        };
        assert_eq!(
            Command::Etcd(EtcdCommand::Txn(outer)).longest_key_bytes(),
            9
        );
        let delete = crate::state::mvcc::DeleteRangeRequest {
            range: range("a", b"abcd"),
            prev_kv: false,
        };
        assert_eq!(
            Command::Etcd(EtcdCommand::DeleteRange(delete)).longest_key_bytes(),
            4
        );
    }

    #[test]
    fn only_reads_are_reads() {
        assert!(Command::KvGet { key: "a".into() }.is_read());
        assert!(Command::KvGetMeta { key: "a".into() }.is_read());
        assert!(!Command::KvPurge.is_read());
        assert!(Command::StackSize { stack_id: 1 }.is_read());
        assert!(!Command::StackPop { stack_id: 1 }.is_read());
        assert!(!Command::StackCreate { label: 1 }.is_read());
    }
}
