//! The whole state as JSON a person can read (for `GET /v1/state`).

use serde_json::{json, Map, Value};

use super::kv::KvStore;
use super::sessions::SessionTable;
use super::stacks::Stacks;
use super::students::Students;
use super::txlog::push_result;
use crate::raft::{Index, Term};

/// Builds the JSON of the state. Every collection is ordered (by key, ascending), so two replicas
/// with the same state print the same bytes.
pub(super) fn state_json(
    applied_index: Index,
    applied_term: Term,
    now_ms: u64,
    students: &Students,
    kv: &KvStore,
    stacks: &Stacks,
    sessions: &SessionTable,
) -> Value {
    let students: Vec<Value> = students.iter().map(|s| json!(s)).collect();
    // Expired keys are gone for every reader, so they are gone here too (until purged they are
    // still stored, identically on every replica).
    let kv: Map<String, Value> = kv
        .iter_live(now_ms)
        .map(|(key, slot)| {
            let v = &slot.value;
            // Values are bytes; show text as text and anything else as hex.
            let mut shown = match std::str::from_utf8(&v.value) {
                Ok(text) => json!({ "value": text, "version": v.version }),
                Err(_) => json!({ "value_hex": hex(&v.value), "version": v.version }),
            };
            if let Some(at) = slot.expires_at_ms {
                shown["expires_at_ms"] = json!(at);
            }
            (key.clone(), shown)
        })
        .collect();
    let stacks: Vec<Value> = stacks
        .iter()
        .map(|(id, s)| {
            let items: Vec<i64> = s.items.iter().copied().collect();
            json!({ "id": id, "label": s.label, "items": items })
        })
        .collect();
    let sessions: Vec<Value> = sessions
        .iter()
        .map(|(client_id, s)| {
            let mut result = String::new();
            push_result(&mut result, &s.result);
            json!({
                "client_id": client_id,
                "last_seq": s.last_seq,
                "last_index": s.last_index,
                "result": result,
            })
        })
        .collect();
    json!({
        "applied_index": applied_index,
        "applied_term": applied_term,
        "now_ms": now_ms,
        "students": students,
        "kv": kv,
        "stacks": stacks,
        "sessions": sessions,
    })
}

/// Lower-case hex digits of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
