//! The `grpc_message` harness: arbitrary bytes decoded with prost as one of the etcd request
//! messages the gRPC server accepts (tonic's codec decodes them so), then through the conversion
//! the service runs before proposing (`raftkv::grpc::convert`).
//!
//! Whatever the bytes, nothing may panic, and:
//! - a message that decodes encodes to `encoded_len` bytes, which decode to the same message;
//! - a transaction nests at most [`MAX_TXN_DEPTH`] deep (prost refuses deeper messages), and one
//!   that converts holds at most `MAX_TXN_OPS` operations of each kind at every level;
//! - the conversion gives a request or an `InvalidArgument` status with etcd's message prefix,
//!   the same on a second run;
//! - a converted request, proposed as the service proposes it, goes through the log's codec
//!   (`state::encode` then `state::decode`) unchanged: whatever the door accepts can be applied;
//! - (checked by the fuzz target, which owns the global allocator) no single allocation made while
//!   decoding and converting exceeds [`MAX_ALLOCATION_BYTES`] plus
//!   [`ALLOCATION_BYTES_PER_INPUT_BYTE`] per input byte: a declared length costs nothing.
//!
//! This file is shared: the fuzz crate builds it as `raftkv_fuzz::grpc_message`, and the main
//! crate's `tests/storage/fuzz_regressions.rs` includes it with `#[path]` to replay committed inputs.
//!
//! # Input layout
//!
//! ```text
//! input = kind: u8 | the message's bytes
//! kind: index into KINDS (modulo its length)
//! ```

use std::fmt::Debug;

use prost::Message;
use raftkv::grpc::convert::{self, MAX_TXN_OPS};
use raftkv::grpc::pb::etcdserverpb as pb;
use raftkv::state::mvcc::{self, EtcdCommand};
use raftkv::state::{decode, encode, Command, Request};
use tonic::{Code, Status};

/// How deep transactions may nest: prost's recursion limit counts every nested message, and a
/// nested transaction is two (`RequestOp`, then `TxnRequest`).
pub const MAX_TXN_DEPTH: usize = 50;

/// The largest allocation decoding or converting may make whatever the input.
#[allow(dead_code)]
pub const MAX_ALLOCATION_BYTES: usize = 16 * 1024;

/// What decoding may allocate on top per input byte: a repeated message field fills a vector with
/// one element (at most ~200 bytes: `RequestOp`) per two bytes (a tag and a zero length), and a
/// vector doubles as it grows.
#[allow(dead_code)]
pub const ALLOCATION_BYTES_PER_INPUT_BYTE: usize = 256;

/// The request messages of the etcd services, by the first input byte.
pub const KINDS: [&str; 41] = [
    "RangeRequest",
    "PutRequest",
    "DeleteRangeRequest",
    "TxnRequest",
    "CompactionRequest",
    "WatchRequest",
    "LeaseGrantRequest",
    "LeaseRevokeRequest",
    "LeaseKeepAliveRequest",
    "LeaseTimeToLiveRequest",
    "LeaseLeasesRequest",
    "MemberAddRequest",
    "MemberRemoveRequest",
    "MemberUpdateRequest",
    "MemberListRequest",
    "MemberPromoteRequest",
    "AlarmRequest",
    "StatusRequest",
    "DefragmentRequest",
    "HashRequest",
    "HashKvRequest",
    "SnapshotRequest",
    "MoveLeaderRequest",
    "DowngradeRequest",
    "AuthEnableRequest",
    "AuthDisableRequest",
    "AuthStatusRequest",
    "AuthenticateRequest",
    "AuthUserAddRequest",
    "AuthUserGetRequest",
    "AuthUserListRequest",
    "AuthUserDeleteRequest",
    "AuthUserChangePasswordRequest",
    "AuthUserGrantRoleRequest",
    "AuthUserRevokeRoleRequest",
    "AuthRoleAddRequest",
    "AuthRoleGetRequest",
    "AuthRoleListRequest",
    "AuthRoleDeleteRequest",
    "AuthRoleGrantPermissionRequest",
    "AuthRoleRevokePermissionRequest",
];

/// What one message came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// prost refused the bytes.
    Undecodable,
    /// Decoded and passed the service's checks; what it came to, as `Debug` text.
    Accepted(String),
    /// Decoded, then refused by the service's checks with this message.
    Refused(String),
}

/// An input for [`run`]: `message` encoded as `kind`.
pub fn encode_input(kind: &str, message: &impl Message) -> Vec<u8> {
    let index = KINDS.iter().position(|k| *k == kind).expect("a known kind");
    let mut out = vec![index as u8];
    out.extend_from_slice(&message.encode_to_vec());
    out
}

/// Runs one fuzz input: panics on a violated property. Returns the kind and its outcome.
pub fn run(data: &[u8]) -> (&'static str, Outcome) {
    let Some((&kind, bytes)) = data.split_first() else {
        return (KINDS[0], Outcome::Undecodable);
    };
    let kind = KINDS[usize::from(kind) % KINDS.len()];
    let first = super::measure::during(|| check(kind, bytes));
    let second = check(kind, bytes);
    assert_eq!(first, second, "{kind}: a second decoding differs");
    (kind, first)
}

fn check(kind: &str, bytes: &[u8]) -> Outcome {
    match kind {
        "RangeRequest" => etcd(bytes, |r| {
            convert::range_request(r).map(|r| logged(EtcdCommand::Range(r)))
        }),
        "PutRequest" => etcd(bytes, |r| {
            convert::put_request(r).map(|r| logged(EtcdCommand::Put(r)))
        }),
        "DeleteRangeRequest" => etcd(bytes, |r| {
            convert::delete_request(r).map(|r| logged(EtcdCommand::DeleteRange(r)))
        }),
        "TxnRequest" => etcd(bytes, |t: pb::TxnRequest| {
            assert!(depth(&t) <= MAX_TXN_DEPTH, "a txn {} deep", depth(&t));
            let converted = convert::txn_request(t)?;
            assert_ops_bounded(&converted);
            Ok(logged(EtcdCommand::Txn(converted)))
        }),
        "CompactionRequest" => etcd(bytes, |r: pb::CompactionRequest| {
            Ok(logged(EtcdCommand::Compact {
                revision: r.revision,
            }))
        }),
        "WatchRequest" => etcd(bytes, Ok::<pb::WatchRequest, Status>),
        // The service first raises the TTL to its minimum, a number from the config.
        "LeaseGrantRequest" => etcd(bytes, |r: pb::LeaseGrantRequest| {
            Ok(logged(EtcdCommand::LeaseGrant {
                id: r.id,
                ttl: r.ttl,
            }))
        }),
        "LeaseRevokeRequest" => etcd(bytes, |r: pb::LeaseRevokeRequest| {
            Ok(logged(EtcdCommand::LeaseRevoke { id: r.id }))
        }),
        "LeaseKeepAliveRequest" => etcd(bytes, Ok::<pb::LeaseKeepAliveRequest, Status>),
        "LeaseTimeToLiveRequest" => etcd(bytes, Ok::<pb::LeaseTimeToLiveRequest, Status>),
        "LeaseLeasesRequest" => etcd(bytes, Ok::<pb::LeaseLeasesRequest, Status>),
        "MemberAddRequest" => etcd(bytes, Ok::<pb::MemberAddRequest, Status>),
        "MemberRemoveRequest" => etcd(bytes, Ok::<pb::MemberRemoveRequest, Status>),
        "MemberUpdateRequest" => etcd(bytes, Ok::<pb::MemberUpdateRequest, Status>),
        "MemberListRequest" => etcd(bytes, Ok::<pb::MemberListRequest, Status>),
        "MemberPromoteRequest" => etcd(bytes, Ok::<pb::MemberPromoteRequest, Status>),
        "AlarmRequest" => etcd(bytes, Ok::<pb::AlarmRequest, Status>),
        "StatusRequest" => etcd(bytes, Ok::<pb::StatusRequest, Status>),
        "DefragmentRequest" => etcd(bytes, Ok::<pb::DefragmentRequest, Status>),
        "HashRequest" => etcd(bytes, Ok::<pb::HashRequest, Status>),
        "HashKvRequest" => etcd(bytes, Ok::<pb::HashKvRequest, Status>),
        "SnapshotRequest" => etcd(bytes, Ok::<pb::SnapshotRequest, Status>),
        "MoveLeaderRequest" => etcd(bytes, Ok::<pb::MoveLeaderRequest, Status>),
        "DowngradeRequest" => etcd(bytes, Ok::<pb::DowngradeRequest, Status>),
        "AuthEnableRequest" => etcd(bytes, Ok::<pb::AuthEnableRequest, Status>),
        "AuthDisableRequest" => etcd(bytes, Ok::<pb::AuthDisableRequest, Status>),
        "AuthStatusRequest" => etcd(bytes, Ok::<pb::AuthStatusRequest, Status>),
        "AuthenticateRequest" => etcd(bytes, Ok::<pb::AuthenticateRequest, Status>),
        "AuthUserAddRequest" => etcd(bytes, Ok::<pb::AuthUserAddRequest, Status>),
        "AuthUserGetRequest" => etcd(bytes, Ok::<pb::AuthUserGetRequest, Status>),
        "AuthUserListRequest" => etcd(bytes, Ok::<pb::AuthUserListRequest, Status>),
        "AuthUserDeleteRequest" => etcd(bytes, Ok::<pb::AuthUserDeleteRequest, Status>),
        "AuthUserChangePasswordRequest" => {
            etcd(bytes, Ok::<pb::AuthUserChangePasswordRequest, Status>)
        }
        "AuthUserGrantRoleRequest" => etcd(bytes, Ok::<pb::AuthUserGrantRoleRequest, Status>),
        "AuthUserRevokeRoleRequest" => etcd(bytes, Ok::<pb::AuthUserRevokeRoleRequest, Status>),
        "AuthRoleAddRequest" => etcd(bytes, Ok::<pb::AuthRoleAddRequest, Status>),
        "AuthRoleGetRequest" => etcd(bytes, Ok::<pb::AuthRoleGetRequest, Status>),
        "AuthRoleListRequest" => etcd(bytes, Ok::<pb::AuthRoleListRequest, Status>),
        "AuthRoleDeleteRequest" => etcd(bytes, Ok::<pb::AuthRoleDeleteRequest, Status>),
        "AuthRoleGrantPermissionRequest" => etcd(bytes, |r: pb::AuthRoleGrantPermissionRequest| {
            convert::permission(r.perm)
        }),
        "AuthRoleRevokePermissionRequest" => {
            etcd(bytes, Ok::<pb::AuthRoleRevokePermissionRequest, Status>)
        }
        other => panic!("no decoder for {other}"),
    }
}

/// Decodes `bytes` as `M` (as tonic's prost codec does), re-encodes it, then runs `convert`.
fn etcd<M, T>(bytes: &[u8], convert: impl Fn(M) -> Result<T, Status>) -> Outcome
where
    M: Message + Default + PartialEq + Debug,
    T: Debug,
{
    let Ok(message) = M::decode(bytes) else {
        return Outcome::Undecodable;
    };
    let encoded = message.encode_to_vec();
    assert_eq!(encoded.len(), message.encoded_len(), "encoded_len is wrong");
    match M::decode(&encoded[..]) {
        Ok(again) => assert_eq!(again, message, "re-encoded, it decodes differently"),
        Err(e) => panic!("a decoded message, re-encoded, does not decode: {e}"),
    }
    match convert(message) {
        Ok(converted) => Outcome::Accepted(format!("{converted:?}")),
        Err(status) => {
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "refused with {status:?}"
            );
            assert!(
                status.message().starts_with("etcdserver: "),
                "not etcd's message: {status:?}"
            );
            Outcome::Refused(status.message().to_string())
        }
    }
}

/// The command as the service proposes it, checked through the log's codec.
fn logged(command: EtcdCommand) -> Command {
    let command = Command::Etcd(command);
    let request = Request::new(command.clone());
    match decode(&encode(&request)) {
        Ok(back) => assert_eq!(back, request, "the log's codec changed the command"),
        Err(e) => panic!("an accepted command does not decode from the log: {e}"),
    }
    command
}

/// How deep transactions nest in `t` (1: no nested transaction).
fn depth(t: &pb::TxnRequest) -> usize {
    use pb::request_op::Request as Op;
    let nested = t
        .success
        .iter()
        .chain(&t.failure)
        .filter_map(|op| match &op.request {
            Some(Op::RequestTxn(inner)) => Some(depth(inner)),
            _ => None,
        });
    1 + nested.max().unwrap_or(0)
}

fn assert_ops_bounded(t: &mvcc::TxnRequest) {
    assert!(
        t.compare.len() <= MAX_TXN_OPS
            && t.success.len() <= MAX_TXN_OPS
            && t.failure.len() <= MAX_TXN_OPS,
        "a txn over MAX_TXN_OPS converted"
    );
    for op in t.success.iter().chain(&t.failure) {
        if let mvcc::RequestOp::Txn(inner) = op {
            assert_ops_bounded(inner);
        }
    }
}
