//! The `http_body` harness: arbitrary bytes as the body, and the path segment or query string,
//! of an HTTP API request, through the parsing and validation its handler runs before anything
//! else (`raftkv::api::requests`, which the handlers call), and for the etcd JSON gateway
//! (`/v3/...`) on through the conversion the gRPC service runs before proposing
//! (`raftkv::grpc::convert`).
//!
//! Whatever the bytes, nothing may panic, and:
//! - the outcome is one of two: a request that passed every check, or a 400 (`BadRequest`; for the
//!   gateway an `InvalidArgument` status) with a message; never both, and the same outcome on a
//!   second run;
//! - a command that passed goes through the log's codec (`state::encode` then `state::decode`)
//!   unchanged: whatever a door accepts can be replicated and applied;
//! - a gateway request that parsed, written back as JSON (the gateway's own proto3 mapping),
//!   parses to the same message;
//! - (checked by the fuzz target, which owns the global allocator) no single allocation made while
//!   parsing exceeds [`MAX_ALLOCATION_BYTES`] plus [`ALLOCATION_BYTES_PER_INPUT_BYTE`] per input
//!   byte: memory grows with what was sent, never with a length or count it announces.
//!
//! This file is shared: the fuzz crate builds it as `raftkv_fuzz::http_body`, and the main crate's
//! `tests/storage/fuzz_regressions.rs` includes it with `#[path]` to replay committed inputs.
//!
//! # Input layout
//!
//! ```text
//! input = route: u8 | split: u8 | text | body
//! route: index into ROUTES (modulo its length)
//! text: the first `split` bytes after the header (fewer if the input ends), as UTF-8 (lossy):
//!       the path segment or query string the route reads; body: the rest
//! ```

use std::fmt::Debug;

use raftkv::api::requests::{self as api, LEGACY_ROUTES};
use raftkv::api::ApiError;
use raftkv::grpc::convert;
use raftkv::grpc::pb::etcdserverpb as pb;
use raftkv::state::mvcc::EtcdCommand;
use raftkv::state::{decode, encode, Command, Request};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Code, Status};

/// The largest allocation any parse may make whatever its input: query maps, error messages.
#[allow(dead_code)]
pub const MAX_ALLOCATION_BYTES: usize = 16 * 1024;

/// What a parse may allocate on top per input byte: a JSON list of empty objects (`{},` three
/// bytes) fills a vector with one request element (at most ~200 bytes: `RequestOp`) per three
/// bytes, and a vector doubles as it grows.
#[allow(dead_code)]
pub const ALLOCATION_BYTES_PER_INPUT_BYTE: usize = 160;

/// The body limit of the routes whose handlers read at most `max_value_bytes` (plus 4 KiB of
/// framing): the harness's value of `max_value_bytes`.
const MAX_VALUE_BYTES: usize = 1 << 20;

/// The legacy stack routes read at most 256 bytes of body.
const LEGACY_BODY_LIMIT_BYTES: usize = 256;

/// The routes whose request parsing the harness runs, by the first input byte.
pub const ROUTES: [&str; 41] = [
    "PUT /v1/kv/{key}?",
    "GET /v1/kv/{key}?",
    "PUT /v1/students/{roll_no}",
    "POST /v1/stacks",
    "GET /v1/stacks?",
    "POST /v1/stacks/{id}/push",
    "POST /sCreate",
    "POST /sId",
    "POST /sPush",
    "POST /sPop",
    "POST /sTop",
    "POST /sSize",
    "POST /v1/members",
    "POST /v1/leader/transfer",
    "POST /v1/ui/control",
    "GET /v1/txlog?",
    "POST /v3/kv/range",
    "POST /v3/kv/put",
    "POST /v3/kv/deleterange",
    "POST /v3/kv/txn",
    "POST /v3/kv/compaction",
    "POST /v3/lease/grant",
    "POST /v3/lease/revoke",
    "POST /v3/lease/timetolive",
    "POST /v3/lease/leases",
    "POST /v3/maintenance/status",
    "POST /v3/cluster/member/list",
    "POST /v3/watch",
    "POST /v3/auth/authenticate",
    "POST /v3/auth/status",
    "POST /v3/auth/enable",
    "POST /v3/auth/disable",
    "POST /v3/auth/user/add",
    "POST /v3/auth/user/delete",
    "POST /v3/auth/user/grant",
    "POST /v3/auth/user/revoke",
    "POST /v3/auth/user/changepw",
    "POST /v3/auth/role/add",
    "POST /v3/auth/role/delete",
    "POST /v3/auth/role/grant",
    "POST /v3/auth/role/revoke",
];

/// What one request came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The handler would not parse it: the body is over the route's limit.
    TooLarge,
    /// It passed every check; what it came to, as `Debug` text.
    Accepted(String),
    /// Refused with this message.
    Refused(String),
}

/// An input for [`run`].
pub fn encode_input(route: &str, text: &str, body: &[u8]) -> Vec<u8> {
    let index = ROUTES
        .iter()
        .position(|r| *r == route)
        .expect("a known route");
    let split = u8::try_from(text.len()).expect("at most 255 bytes of text");
    let mut out = vec![index as u8, split];
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(body);
    out
}

/// Runs one fuzz input: panics on a violated property. Returns the route and its outcome.
pub fn run(data: &[u8]) -> (&'static str, Outcome) {
    let (route, split, rest) = match data {
        [route, split, rest @ ..] => (*route, usize::from(*split), rest),
        [route] => (*route, 0, &[][..]),
        [] => (0, 0, &[][..]),
    };
    let route = ROUTES[usize::from(route) % ROUTES.len()];
    let (text, body) = rest.split_at(split.min(rest.len()));
    let text = String::from_utf8_lossy(text);
    let first = super::measure::during(|| parse(route, &text, body));
    let second = parse(route, &text, body);
    assert_eq!(first, second, "{route}: a second parse differs");
    (route, first)
}

/// The outcome of a handler's parsing of one request.
fn parse(route: &str, text: &str, body: &[u8]) -> Outcome {
    if let Some(i) = LEGACY_ROUTES
        .iter()
        .position(|(path, _)| route.ends_with(path))
    {
        if body.len() > LEGACY_BODY_LIMIT_BYTES {
            return Outcome::TooLarge;
        }
        return command(api::text_command(LEGACY_ROUTES[i].1, body));
    }
    match route {
        "PUT /v1/kv/{key}?" => {
            if body.len() > MAX_VALUE_BYTES {
                return Outcome::TooLarge;
            }
            let parsed = api::put_params(text)
                .map(|params| params.command("k".to_string(), bytes::Bytes::copy_from_slice(body)));
            if let Ok(Command::KvPut { value, .. } | Command::KvSet { value, .. }) = &parsed {
                assert_eq!(value, body, "the value is not the body");
            }
            command(parsed)
        }
        "GET /v1/kv/{key}?" => {
            let parsed = api::get_meta(text).and_then(|meta| {
                api::read_consistency(text).map(|consistency| (meta, consistency))
            });
            other(parsed)
        }
        "PUT /v1/students/{roll_no}" => command(
            api::parse_id::<u64>("roll_no", text)
                .and_then(|roll_no| api::student_command(roll_no, body)),
        ),
        "POST /v1/stacks" => command(api::create_command(body)),
        "GET /v1/stacks?" => {
            let parsed = api::id_command(text).and_then(|command| {
                api::read_consistency(text).map(|consistency| (command, consistency))
            });
            if let Ok((command, _)) = &parsed {
                assert_codec(command);
            }
            other(parsed)
        }
        "POST /v1/stacks/{id}/push" => command(
            api::parse_id::<u64>("stack id", text)
                .and_then(|stack_id| api::push_command(stack_id, body)),
        ),
        "POST /v1/members" | "POST /v1/leader/transfer" => {
            if body.len() > api::MEMBERS_BODY_LIMIT_BYTES {
                return Outcome::TooLarge;
            }
            if route == "POST /v1/members" {
                other(api::add_change(body))
            } else {
                other(api::transfer_target(body))
            }
        }
        "POST /v1/ui/control" => other(api::parse_control(body)),
        "GET /v1/txlog?" => other(api::line_range(text).map(|ask| (ask.from, ask.to))),
        _ => gateway(route, body),
    }
}

/// A parsed command must survive the log's codec.
fn command(parsed: Result<Command, ApiError>) -> Outcome {
    if let Ok(command) = &parsed {
        assert_codec(command);
    }
    other(parsed)
}

/// The command an etcd request is proposed as, checked through the log's codec.
fn logged(command: EtcdCommand) -> Command {
    let command = Command::Etcd(command);
    assert_codec(&command);
    command
}

fn assert_codec(command: &Command) {
    let request = Request::new(command.clone());
    match decode(&encode(&request)) {
        Ok(back) => assert_eq!(back, request, "the log's codec changed the command"),
        Err(e) => panic!("an accepted command does not decode from the log: {e}"),
    }
}

/// Any other parse: an error must be a 400 with a message.
fn other<T: Debug>(parsed: Result<T, ApiError>) -> Outcome {
    match parsed {
        Ok(value) => Outcome::Accepted(format!("{value:?}")),
        Err(ApiError::BadRequest(message)) => {
            assert!(!message.is_empty(), "a 400 without a message");
            Outcome::Refused(message)
        }
        Err(e) => panic!("a parse failed with {e:?}, not a 400"),
    }
}

/// A gateway route: the body parsed as its etcd message, then converted as the service does.
fn gateway(route: &str, body: &[u8]) -> Outcome {
    match route {
        "POST /v3/kv/range" => etcd(body, |r| {
            convert::range_request(r).map(|r| logged(EtcdCommand::Range(r)))
        }),
        "POST /v3/kv/put" => etcd(body, |r| {
            convert::put_request(r).map(|r| logged(EtcdCommand::Put(r)))
        }),
        "POST /v3/kv/deleterange" => etcd(body, |r| {
            convert::delete_request(r).map(|r| logged(EtcdCommand::DeleteRange(r)))
        }),
        "POST /v3/kv/txn" => etcd(body, |t| {
            convert::txn_request(t).map(|t| logged(EtcdCommand::Txn(t)))
        }),
        "POST /v3/kv/compaction" => etcd(body, Ok::<pb::CompactionRequest, Status>),
        "POST /v3/lease/grant" => etcd(body, Ok::<pb::LeaseGrantRequest, Status>),
        "POST /v3/lease/revoke" => etcd(body, Ok::<pb::LeaseRevokeRequest, Status>),
        "POST /v3/lease/timetolive" => etcd(body, Ok::<pb::LeaseTimeToLiveRequest, Status>),
        "POST /v3/lease/leases" => etcd(body, Ok::<pb::LeaseLeasesRequest, Status>),
        "POST /v3/maintenance/status" => etcd(body, Ok::<pb::StatusRequest, Status>),
        "POST /v3/cluster/member/list" => etcd(body, Ok::<pb::MemberListRequest, Status>),
        "POST /v3/watch" => etcd(body, Ok::<pb::WatchRequest, Status>),
        "POST /v3/auth/authenticate" => etcd(body, Ok::<pb::AuthenticateRequest, Status>),
        "POST /v3/auth/status" => etcd(body, Ok::<pb::AuthStatusRequest, Status>),
        "POST /v3/auth/enable" => etcd(body, Ok::<pb::AuthEnableRequest, Status>),
        "POST /v3/auth/disable" => etcd(body, Ok::<pb::AuthDisableRequest, Status>),
        "POST /v3/auth/user/add" => etcd(body, Ok::<pb::AuthUserAddRequest, Status>),
        "POST /v3/auth/user/delete" => etcd(body, Ok::<pb::AuthUserDeleteRequest, Status>),
        "POST /v3/auth/user/grant" => etcd(body, Ok::<pb::AuthUserGrantRoleRequest, Status>),
        "POST /v3/auth/user/revoke" => etcd(body, Ok::<pb::AuthUserRevokeRoleRequest, Status>),
        "POST /v3/auth/user/changepw" => {
            etcd(body, Ok::<pb::AuthUserChangePasswordRequest, Status>)
        }
        "POST /v3/auth/role/add" => etcd(body, Ok::<pb::AuthRoleAddRequest, Status>),
        "POST /v3/auth/role/delete" => etcd(body, Ok::<pb::AuthRoleDeleteRequest, Status>),
        "POST /v3/auth/role/grant" => etcd(body, |r: pb::AuthRoleGrantPermissionRequest| {
            convert::permission(r.perm)
        }),
        "POST /v3/auth/role/revoke" => {
            etcd(body, Ok::<pb::AuthRoleRevokePermissionRequest, Status>)
        }
        other => panic!("no parser for route {other}"),
    }
}

/// The gateway's parse of `body` as `M`, then `check` (the service's conversion). A parsed
/// message written back as JSON parses to itself.
fn etcd<M, T>(body: &[u8], check: impl Fn(M) -> Result<T, Status>) -> Outcome
where
    M: DeserializeOwned + Serialize + Default + PartialEq + Debug + Clone,
    T: Debug,
{
    let message: M = match api::gateway_request(body) {
        Ok(message) => message,
        Err(status) => return refused(status),
    };
    let json = serde_json::to_vec(&message).expect("a parsed request writes back as JSON");
    let again: M = api::gateway_request(&json).unwrap_or_else(|status| {
        panic!(
            "{} does not parse back: {status:?}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(again, message, "JSON written back parses differently");
    match check(message) {
        Ok(converted) => Outcome::Accepted(format!("{converted:?}")),
        Err(status) => refused(status),
    }
}

fn refused(status: Status) -> Outcome {
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "refused with {status:?}"
    );
    assert!(!status.message().is_empty(), "a refusal without a message");
    Outcome::Refused(status.message().to_string())
}
