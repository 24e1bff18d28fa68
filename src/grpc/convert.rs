//! etcd's protobuf messages to the state machine's etcd types and back. Keys must be UTF-8 (see
//! [`super::context::key_string`]); range ends and values are any bytes.

use bytes::Bytes;
use tonic::Status;

use super::context::key_string;
use super::pb::etcdserverpb as pb;
use super::pb::{authpb, mvccpb};
use crate::state::auth::{Access, Permission};
use crate::state::mvcc::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, DeleteRangeResponse, KeyRange,
    PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp, ResponseOp, SortOrder,
    SortTarget, TxnRequest, TxnResponse,
};
use crate::state::{Event, EventKind, KeyValue};

/// The most operations one transaction may hold (etcd's default `--max-txn-ops`).
pub const MAX_TXN_OPS: usize = 128;

fn range(key: Vec<u8>, range_end: Vec<u8>) -> Result<KeyRange, Status> {
    if key.is_empty() {
        return Err(Status::invalid_argument("etcdserver: key is not provided"));
    }
    Ok(KeyRange {
        key: key_string(key, "key")?,
        range_end: Bytes::from(range_end),
    })
}

/// A range request; `serializable` is the caller's to read.
pub fn range_request(r: pb::RangeRequest) -> Result<RangeRequest, Status> {
    let sort_order = match pb::range_request::SortOrder::try_from(r.sort_order) {
        Ok(pb::range_request::SortOrder::None) => SortOrder::None,
        Ok(pb::range_request::SortOrder::Ascend) => SortOrder::Ascend,
        Ok(pb::range_request::SortOrder::Descend) => SortOrder::Descend,
        Err(_) => return Err(Status::invalid_argument("etcdserver: invalid sort option")),
    };
    let sort_target = match pb::range_request::SortTarget::try_from(r.sort_target) {
        Ok(pb::range_request::SortTarget::Key) => SortTarget::Key,
        Ok(pb::range_request::SortTarget::Version) => SortTarget::Version,
        Ok(pb::range_request::SortTarget::Create) => SortTarget::Create,
        Ok(pb::range_request::SortTarget::Mod) => SortTarget::Mod,
        Ok(pb::range_request::SortTarget::Value) => SortTarget::Value,
        Err(_) => return Err(Status::invalid_argument("etcdserver: invalid sort option")),
    };
    Ok(RangeRequest {
        range: range(r.key, r.range_end)?,
        limit: r.limit,
        revision: r.revision,
        sort_order,
        sort_target,
        keys_only: r.keys_only,
        count_only: r.count_only,
        min_mod_revision: r.min_mod_revision,
        max_mod_revision: r.max_mod_revision,
        min_create_revision: r.min_create_revision,
        max_create_revision: r.max_create_revision,
    })
}

/// A put request.
pub fn put_request(r: pb::PutRequest) -> Result<PutRequest, Status> {
    if r.key.is_empty() {
        return Err(Status::invalid_argument("etcdserver: key is not provided"));
    }
    Ok(PutRequest {
        key: key_string(r.key, "key")?,
        value: Bytes::from(r.value),
        lease: r.lease,
        prev_kv: r.prev_kv,
        ignore_value: r.ignore_value,
        ignore_lease: r.ignore_lease,
    })
}

/// A delete request.
pub fn delete_request(r: pb::DeleteRangeRequest) -> Result<DeleteRangeRequest, Status> {
    Ok(DeleteRangeRequest {
        range: range(r.key, r.range_end)?,
        prev_kv: r.prev_kv,
    })
}

/// A transaction, checked against etcd's limit on operations.
pub fn txn_request(t: pb::TxnRequest) -> Result<TxnRequest, Status> {
    if t.compare.len() > MAX_TXN_OPS
        || t.success.len() > MAX_TXN_OPS
        || t.failure.len() > MAX_TXN_OPS
    {
        return Err(Status::invalid_argument(
            "etcdserver: too many operations in txn request",
        ));
    }
    let ops = |ops: Vec<pb::RequestOp>| -> Result<Vec<RequestOp>, Status> {
        ops.into_iter().map(request_op).collect()
    };
    Ok(TxnRequest {
        compare: t
            .compare
            .into_iter()
            .map(compare)
            .collect::<Result<_, _>>()?,
        success: ops(t.success)?,
        failure: ops(t.failure)?,
    })
}

fn request_op(op: pb::RequestOp) -> Result<RequestOp, Status> {
    use pb::request_op::Request;
    match op.request {
        Some(Request::RequestRange(r)) => Ok(RequestOp::Range(range_request(r)?)),
        Some(Request::RequestPut(r)) => Ok(RequestOp::Put(put_request(r)?)),
        Some(Request::RequestDeleteRange(r)) => Ok(RequestOp::DeleteRange(delete_request(r)?)),
        Some(Request::RequestTxn(t)) => Ok(RequestOp::Txn(txn_request(t)?)),
        None => Err(Status::invalid_argument(
            "etcdserver: a txn operation names no request",
        )),
    }
}

fn compare(c: pb::Compare) -> Result<Compare, Status> {
    use pb::compare::{CompareResult as R, CompareTarget as T, TargetUnion as U};
    let result = match R::try_from(c.result) {
        Ok(R::Equal) => CompareResult::Equal,
        Ok(R::Greater) => CompareResult::Greater,
        Ok(R::Less) => CompareResult::Less,
        Ok(R::NotEqual) => CompareResult::NotEqual,
        Err(_) => {
            return Err(Status::invalid_argument(
                "etcdserver: invalid compare result",
            ))
        }
    };
    // The target names which member of the union counts; an unset one compares with zero.
    let target = match (T::try_from(c.target), c.target_union) {
        (Ok(T::Version), Some(U::Version(v))) => CompareTarget::Version(v),
        (Ok(T::Version), _) => CompareTarget::Version(0),
        (Ok(T::Create), Some(U::CreateRevision(v))) => CompareTarget::Create(v),
        (Ok(T::Create), _) => CompareTarget::Create(0),
        (Ok(T::Mod), Some(U::ModRevision(v))) => CompareTarget::Mod(v),
        (Ok(T::Mod), _) => CompareTarget::Mod(0),
        (Ok(T::Value), Some(U::Value(v))) => CompareTarget::Value(Bytes::from(v)),
        (Ok(T::Value), _) => CompareTarget::Value(Bytes::new()),
        (Ok(T::Lease), Some(U::Lease(v))) => CompareTarget::Lease(v),
        (Ok(T::Lease), _) => CompareTarget::Lease(0),
        (Err(_), _) => {
            return Err(Status::invalid_argument(
                "etcdserver: invalid compare target",
            ))
        }
    };
    Ok(Compare {
        result,
        target,
        range: range(c.key, c.range_end)?,
    })
}

/// The permission of a `RoleGrantPermission`: present, and of a known type.
pub fn permission(perm: Option<authpb::Permission>) -> Result<Permission, Status> {
    use authpb::permission::Type;
    let perm = perm.ok_or_else(|| Status::invalid_argument("etcdserver: no permission given"))?;
    let access = match Type::try_from(perm.perm_type) {
        Ok(Type::Read) => Access::Read,
        Ok(Type::Write) => Access::Write,
        Ok(Type::Readwrite) => Access::ReadWrite,
        Err(_) => {
            return Err(Status::invalid_argument(format!(
                "etcdserver: unknown permission type {}",
                perm.perm_type
            )))
        }
    };
    Ok(Permission {
        access,
        key: perm.key,
        range_end: perm.range_end,
    })
}

/// A key-value as etcd sends it.
pub fn key_value(kv: KeyValue) -> mvccpb::KeyValue {
    mvccpb::KeyValue {
        key: kv.key.into_bytes(),
        create_revision: kv.create_revision as i64,
        mod_revision: kv.mod_revision as i64,
        version: kv.version as i64,
        value: kv.value.to_vec(),
        lease: kv.lease,
    }
}

/// An event as a watch sends it.
pub fn event(e: &Event, prev_kv: bool) -> mvccpb::Event {
    let kind = match e.kind {
        EventKind::Put => mvccpb::event::EventType::Put,
        EventKind::Delete => mvccpb::event::EventType::Delete,
    };
    mvccpb::Event {
        r#type: kind as i32,
        kv: Some(key_value(e.kv.clone())),
        prev_kv: e.prev.clone().filter(|_| prev_kv).map(key_value),
    }
}

/// A range's answer.
pub fn range_response(r: RangeResponse, header: Option<pb::ResponseHeader>) -> pb::RangeResponse {
    pb::RangeResponse {
        header,
        kvs: r.kvs.into_iter().map(key_value).collect(),
        more: r.more,
        count: r.count,
    }
}

/// A put's answer.
pub fn put_response(r: PutResponse, header: Option<pb::ResponseHeader>) -> pb::PutResponse {
    pb::PutResponse {
        header,
        prev_kv: r.prev_kv.map(key_value),
    }
}

/// A delete's answer.
pub fn delete_response(
    r: DeleteRangeResponse,
    header: Option<pb::ResponseHeader>,
) -> pb::DeleteRangeResponse {
    pb::DeleteRangeResponse {
        header,
        deleted: r.deleted,
        prev_kvs: r.prev_kvs.into_iter().map(key_value).collect(),
    }
}

/// A transaction's answer; every nested answer carries the same header, as etcd's do.
pub fn txn_response(r: TxnResponse, header: Option<pb::ResponseHeader>) -> pb::TxnResponse {
    use pb::response_op::Response;
    let responses = r
        .responses
        .into_iter()
        .map(|op| pb::ResponseOp {
            response: Some(match op {
                ResponseOp::Range(r) => Response::ResponseRange(range_response(r, header)),
                ResponseOp::Put(r) => Response::ResponsePut(put_response(r, header)),
                ResponseOp::DeleteRange(r) => {
                    Response::ResponseDeleteRange(delete_response(r, header))
                }
                ResponseOp::Txn(r) => Response::ResponseTxn(txn_response(r, header)),
            }),
        })
        .collect();
    pb::TxnResponse {
        header,
        succeeded: r.succeeded,
        responses,
    }
}
