//! The generated types keep etcd's field numbers and JSON names: checked on hand-encoded bytes.

use super::pb::etcdserverpb::{compare, Compare, PutRequest, RangeRequest, RangeResponse};
use super::pb::mvccpb::KeyValue;
use prost::Message;

#[test]
fn put_request_round_trips_with_etcds_field_numbers() {
    let put = PutRequest {
        key: b"k".to_vec(),
        value: b"v".to_vec(),
        lease: 7,
        prev_kv: true,
        ..Default::default()
    };
    let bytes = put.encode_to_vec();
    // key=1 and value=2 are length-delimited, lease=3 and prev_kv=4 are varints.
    assert_eq!(bytes, [0x0a, 1, b'k', 0x12, 1, b'v', 0x18, 7, 0x20, 1]);
    assert_eq!(PutRequest::decode(bytes.as_slice()).unwrap(), put);
}

#[test]
fn range_request_decodes_the_last_field_etcd_defines() {
    // Field 13 (max_create_revision), varint: tag = 13 << 3 = 0x68.
    let request = RangeRequest::decode([0x68, 42].as_slice()).unwrap();
    assert_eq!(request.max_create_revision, 42);
}

#[test]
fn range_response_round_trips() {
    let response = RangeResponse {
        kvs: vec![key_value()],
        count: 1,
        ..Default::default()
    };
    let decoded = RangeResponse::decode(response.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded, response);
}

#[test]
fn compare_target_union_uses_field_six_for_mod_revision() {
    let compare = Compare {
        target_union: Some(compare::TargetUnion::ModRevision(5)),
        ..Default::default()
    };
    assert_eq!(compare.encode_to_vec(), [0x30, 5]);
}

#[test]
fn range_response_json_matches_etcds_gateway() {
    let response = RangeResponse {
        kvs: vec![key_value()],
        count: 1,
        ..Default::default()
    };
    let json = serde_json::to_string(&response).unwrap();
    // snake_case names, int64 as strings, bytes as base64, zero values omitted.
    assert_eq!(
        json,
        r#"{"kvs":[{"key":"Zm9v","mod_revision":"5","value":"YmFy"}],"count":"1"}"#
    );
    assert_eq!(
        serde_json::from_str::<RangeResponse>(&json).unwrap(),
        response
    );
}

fn key_value() -> KeyValue {
    KeyValue {
        key: b"foo".to_vec(),
        value: b"bar".to_vec(),
        mod_revision: 5,
        ..Default::default()
    }
}
