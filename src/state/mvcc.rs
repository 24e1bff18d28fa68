//! etcd's v3 key-value operations on the store: ranges (at any kept revision), puts, deletes,
//! transactions, compaction and leases. The gRPC layer (`crate::grpc`) translates etcd's protobuf
//! messages to and from these types; everything here is deterministic, so every replica answers
//! the same.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::kv::{KeyValue, KvStore, LeaseChoice};

/// The largest time to live a lease may be granted, in seconds (etcd's limit).
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// Which keys an operation covers: etcd's `key` and `range_end`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRange {
    /// The first key (the only one when `range_end` is empty).
    pub key: String,
    /// Empty: only `key`. `[0]`: every key from `key` on. Else: keys below it, as bytes.
    pub range_end: Bytes,
}

impl KeyRange {
    /// One key.
    pub fn single(key: impl Into<String>) -> Self {
        KeyRange {
            key: key.into(),
            range_end: Bytes::new(),
        }
    }

    /// Whether `key` is in the range.
    pub fn contains(&self, key: &str) -> bool {
        if self.range_end.is_empty() {
            return key == self.key;
        }
        key >= self.key.as_str()
            && (self.range_end.as_ref() == [0] || key.as_bytes() < self.range_end.as_ref())
    }

    /// The longer of the key and the range end, in bytes: what a door's key limit judges.
    pub fn longest_bytes(&self) -> usize {
        self.key.len().max(self.range_end.len())
    }

    /// Whether the range is past `key` (no key at or after `key` is in it).
    fn ends_before(&self, key: &str) -> bool {
        if self.range_end.is_empty() {
            return key > self.key.as_str();
        }
        self.range_end.as_ref() != [0] && key.as_bytes() >= self.range_end.as_ref()
    }
}

/// The order of a range's results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortOrder {
    /// By key, ascending (unless a target other than the key is named: then ascending by it).
    #[default]
    None,
    /// Ascending.
    Ascend,
    /// Descending.
    Descend,
}

/// What a range's results are sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortTarget {
    /// The key.
    #[default]
    Key,
    /// The per-key version.
    Version,
    /// The create revision.
    Create,
    /// The mod revision.
    Mod,
    /// The value's bytes.
    Value,
}

/// etcd's `RangeRequest`, less `serializable`, which is the server's business.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeRequest {
    /// The keys.
    pub range: KeyRange,
    /// At most this many keys (0: no limit).
    pub limit: i64,
    /// Read at this revision (0 or less: the current one).
    pub revision: i64,
    /// The order of the results.
    pub sort_order: SortOrder,
    /// What they are sorted by.
    pub sort_target: SortTarget,
    /// Leave the values out.
    pub keys_only: bool,
    /// Only count.
    pub count_only: bool,
    /// Filters on each key's revisions (0: none).
    pub min_mod_revision: i64,
    /// See `min_mod_revision`.
    pub max_mod_revision: i64,
    /// See `min_mod_revision`.
    pub min_create_revision: i64,
    /// See `min_mod_revision`.
    pub max_create_revision: i64,
}

/// etcd's `RangeResponse`, less the header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeResponse {
    /// The keys found, after filters, sort and limit.
    pub kvs: Vec<KeyValue>,
    /// More keys matched than `limit` let through.
    pub more: bool,
    /// How many keys the range holds at the revision read, before filters and limit.
    pub count: i64,
}

/// etcd's `PutRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutRequest {
    /// The key; must not be empty.
    pub key: String,
    /// The new value.
    pub value: Bytes,
    /// Attach to this lease (0: none).
    pub lease: i64,
    /// Answer with the key as it was.
    pub prev_kv: bool,
    /// Keep the current value (the key must exist).
    pub ignore_value: bool,
    /// Keep the current lease (the key must exist).
    pub ignore_lease: bool,
}

/// etcd's `PutResponse`, less the header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutResponse {
    /// The key before the put, when asked for and it existed.
    pub prev_kv: Option<KeyValue>,
}

/// etcd's `DeleteRangeRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRangeRequest {
    /// The keys.
    pub range: KeyRange,
    /// Answer with the deleted keys.
    pub prev_kv: bool,
}

/// etcd's `DeleteRangeResponse`, less the header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRangeResponse {
    /// How many keys were deleted.
    pub deleted: i64,
    /// The deleted keys, when asked for.
    pub prev_kvs: Vec<KeyValue>,
}

/// One operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestOp {
    /// A read.
    Range(RangeRequest),
    /// A write.
    Put(PutRequest),
    /// A delete.
    DeleteRange(DeleteRangeRequest),
    /// A nested transaction.
    Txn(TxnRequest),
}

/// One operation's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseOp {
    /// A read's.
    Range(RangeResponse),
    /// A write's.
    Put(PutResponse),
    /// A delete's.
    DeleteRange(DeleteRangeResponse),
    /// A nested transaction's.
    Txn(TxnResponse),
}

/// How a compare relates the key's field to the given value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareResult {
    /// Equal.
    Equal,
    /// The key's is greater.
    Greater,
    /// The key's is less.
    Less,
    /// Not equal.
    NotEqual,
}

/// The field a compare looks at, with the value to compare it with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareTarget {
    /// The per-key version (0: absent).
    Version(i64),
    /// The create revision (0: absent).
    Create(i64),
    /// The mod revision (0: absent).
    Mod(i64),
    /// The value (an absent key fails every value compare).
    Value(Bytes),
    /// The lease (0: none or absent).
    Lease(i64),
}

/// etcd's `Compare`: holds when every key in the range (or the absent key) satisfies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    /// The relation.
    pub result: CompareResult,
    /// The field and the value.
    pub target: CompareTarget,
    /// The keys.
    pub range: KeyRange,
}

/// etcd's `TxnRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRequest {
    /// All must hold for `success` to run; else `failure` runs.
    pub compare: Vec<Compare>,
    /// The operations if every compare holds.
    pub success: Vec<RequestOp>,
    /// The operations otherwise.
    pub failure: Vec<RequestOp>,
}

impl TxnRequest {
    /// True if no branch, nested ones included, writes.
    pub fn is_read_only(&self) -> bool {
        fn read_only(ops: &[RequestOp]) -> bool {
            ops.iter().all(|op| match op {
                RequestOp::Range(_) => true,
                RequestOp::Txn(t) => t.is_read_only(),
                RequestOp::Put(_) | RequestOp::DeleteRange(_) => false,
            })
        }
        read_only(&self.success) && read_only(&self.failure)
    }

    /// The longest key or range end of any compare or operation, nested ones included, in bytes.
    pub fn longest_key_bytes(&self) -> usize {
        let compares = self.compare.iter().map(|c| c.range.longest_bytes());
        let ops = self.success.iter().chain(&self.failure).map(|op| match op {
            RequestOp::Range(r) => r.range.longest_bytes(),
            RequestOp::Put(p) => p.key.len(),
            RequestOp::DeleteRange(d) => d.range.longest_bytes(),
            RequestOp::Txn(t) => t.longest_key_bytes(),
        });
        compares.chain(ops).max().unwrap_or(0)
    }
}

/// etcd's `TxnResponse`, less the header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnResponse {
    /// Whether every compare held.
    pub succeeded: bool,
    /// One answer per operation of the branch that ran.
    pub responses: Vec<ResponseOp>,
}

/// The etcd operations the state machine applies, each a [`super::Command::Etcd`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EtcdCommand {
    /// A read (served without the log unless asked).
    Range(RangeRequest),
    /// A write.
    Put(PutRequest),
    /// A delete.
    DeleteRange(DeleteRangeRequest),
    /// A transaction (a read when no branch writes).
    Txn(TxnRequest),
    /// Drops the history below `revision`.
    Compact {
        /// The new compaction point.
        revision: i64,
    },
    /// Grants a lease; `id` 0 lets the state machine choose one.
    LeaseGrant {
        /// The lease id asked for, or 0.
        id: i64,
        /// Seconds to live.
        ttl: i64,
    },
    /// Revokes a lease (asked by a client, or by the leader when it expired) and deletes its keys.
    LeaseRevoke {
        /// The lease.
        id: i64,
    },
    /// A read: the ids of every lease.
    LeaseLeases,
    /// A read: a lease's granted time to live and, if asked, its keys.
    LeaseInfo {
        /// The lease.
        id: i64,
    },
}

impl EtcdCommand {
    /// True for the commands that change nothing.
    pub fn is_read(&self) -> bool {
        match self {
            EtcdCommand::Range(_) | EtcdCommand::LeaseLeases | EtcdCommand::LeaseInfo { .. } => {
                true
            }
            EtcdCommand::Txn(t) => t.is_read_only(),
            _ => false,
        }
    }

    /// The longest key or range end the command names, in bytes (0 for lease and compaction
    /// commands, which name none).
    pub fn longest_key_bytes(&self) -> usize {
        match self {
            EtcdCommand::Range(r) => r.range.longest_bytes(),
            EtcdCommand::Put(p) => p.key.len(),
            EtcdCommand::DeleteRange(d) => d.range.longest_bytes(),
            EtcdCommand::Txn(t) => t.longest_key_bytes(),
            EtcdCommand::Compact { .. }
            | EtcdCommand::LeaseGrant { .. }
            | EtcdCommand::LeaseRevoke { .. }
            | EtcdCommand::LeaseLeases
            | EtcdCommand::LeaseInfo { .. } => 0,
        }
    }
}

/// Why an etcd operation failed: the variants carry etcd's own error texts, which clients match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum EtcdError {
    /// The revision asked for was compacted away.
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    /// The revision asked for is in the future.
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    /// No such lease.
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    /// A lease with this id exists.
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    /// The lease's time to live is too large.
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    /// A put with `ignore_lease` also named a lease.
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    /// A put with `ignore_value` or `ignore_lease` on a missing key.
    #[error("etcdserver: key not found")]
    KeyNotFound,
    /// No key given.
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    /// A transaction branch writes a key twice.
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
}

/// A lease as [`EtcdCommand::LeaseInfo`] finds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    /// The lease.
    pub id: i64,
    /// Seconds to live granted.
    pub granted_ttl: i64,
    /// Its keys, in order.
    pub keys: Vec<String>,
}

/// What an etcd operation produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EtcdOutcome {
    /// A range's keys.
    Range(RangeResponse),
    /// A put's.
    Put(PutResponse),
    /// A delete's.
    DeleteRange(DeleteRangeResponse),
    /// A transaction's.
    Txn(TxnResponse),
    /// The history was compacted.
    Compacted,
    /// A lease was granted.
    LeaseGranted {
        /// Its id.
        id: i64,
        /// Its time to live.
        ttl: i64,
    },
    /// A lease was revoked.
    LeaseRevoked,
    /// Every lease's id.
    Leases(Vec<i64>),
    /// A lease (`None`: no such lease).
    Lease(Option<LeaseInfo>),
}

/// An etcd operation's answer: the store's revision after it (the response header's), and what
/// it produced or why it failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdResult {
    /// The store's revision once the operation was applied (or read).
    pub revision: u64,
    /// Its outcome.
    pub outcome: Result<EtcdOutcome, EtcdError>,
}

/// A deterministic lease id for the entry at `index`: splitmix64 of it, as a positive i64.
fn lease_id_for(index: u64, attempt: u64) -> i64 {
    let mut z = index
        .wrapping_add(attempt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z & (i64::MAX as u64)) as i64
}

impl KvStore {
    /// Applies an etcd command as the entry at `index`, with the state machine's clock at
    /// `now_ms` (keys expired by raftkv's own TTLs read as absent).
    pub(super) fn etcd(&mut self, index: u64, now_ms: u64, command: &EtcdCommand) -> EtcdResult {
        let outcome = match command {
            EtcdCommand::Range(r) => self.range(r, now_ms).map(EtcdOutcome::Range),
            EtcdCommand::Put(p) => self
                .check_put(p, now_ms)
                .map(|()| EtcdOutcome::Put(self.do_put(p, now_ms))),
            EtcdCommand::DeleteRange(d) => Ok(EtcdOutcome::DeleteRange(self.do_delete(d, now_ms))),
            EtcdCommand::Txn(t) => self.atomic_txn(t, now_ms).map(EtcdOutcome::Txn),
            EtcdCommand::Compact { revision } => self.compact_to(*revision),
            EtcdCommand::LeaseGrant { id, ttl } => self.lease_grant(index, *id, *ttl),
            EtcdCommand::LeaseRevoke { id } => {
                if self.revoke_lease(*id, now_ms) {
                    Ok(EtcdOutcome::LeaseRevoked)
                } else {
                    Err(EtcdError::LeaseNotFound)
                }
            }
            EtcdCommand::LeaseLeases => {
                Ok(EtcdOutcome::Leases(self.leases().keys().copied().collect()))
            }
            EtcdCommand::LeaseInfo { id } => {
                Ok(EtcdOutcome::Lease(self.leases().get(id).map(|l| {
                    LeaseInfo {
                        id: *id,
                        granted_ttl: l.ttl,
                        keys: l.keys.iter().cloned().collect(),
                    }
                })))
            }
        };
        // Every write path ends its transaction here, failed ones included (which wrote nothing).
        let revision = self.commit();
        EtcdResult { revision, outcome }
    }

    fn compact_to(&mut self, revision: i64) -> Result<EtcdOutcome, EtcdError> {
        let revision = u64::try_from(revision).unwrap_or(0);
        if revision <= self.compact_revision() {
            return Err(EtcdError::Compacted);
        }
        if revision > self.revision() {
            return Err(EtcdError::FutureRevision);
        }
        self.compact(revision);
        Ok(EtcdOutcome::Compacted)
    }

    fn lease_grant(&mut self, index: u64, id: i64, ttl: i64) -> Result<EtcdOutcome, EtcdError> {
        if ttl > MAX_LEASE_TTL {
            return Err(EtcdError::LeaseTtlTooLarge);
        }
        let id = if id != 0 {
            if self.leases().contains_key(&id) {
                return Err(EtcdError::LeaseExists);
            }
            id
        } else {
            (0..)
                .map(|attempt| lease_id_for(index, attempt))
                .find(|id| *id != 0 && !self.leases().contains_key(id))
                .expect("a free lease id exists")
        };
        self.grant_lease(id, ttl);
        Ok(EtcdOutcome::LeaseGranted { id, ttl })
    }

    /// The keys in `range` as of revision `rev` (which must be kept), in key order. Keys expired
    /// at `now_ms` are left out.
    fn keys_at(&self, range: &KeyRange, rev: u64, now_ms: u64) -> Vec<KeyValue> {
        let current = self
            .iter_from(&range.key)
            .take_while(|(k, _)| !range.ends_before(k))
            .filter(|(k, s)| range.contains(k) && !s.expired(now_ms));
        if rev >= self.revision() {
            return current.map(|(k, s)| s.key_value(k)).collect();
        }
        // Undo, newest first, every change after `rev` to a key in the range: what is left for
        // each key is the state before the oldest such change.
        let mut undone: BTreeMap<&str, Option<&KeyValue>> = BTreeMap::new();
        for (_, events) in self.events_after(rev).rev() {
            for event in events.iter().rev() {
                if range.contains(&event.kv.key) {
                    undone.insert(&event.kv.key, event.prev.as_ref());
                }
            }
        }
        let mut at: BTreeMap<&str, KeyValue> = current
            .filter(|(k, _)| !undone.contains_key(k.as_str()))
            .map(|(k, s)| (k.as_str(), s.key_value(k)))
            .collect();
        for (key, kv) in undone {
            if let Some(kv) = kv {
                at.insert(key, kv.clone());
            }
        }
        at.into_values().collect()
    }

    /// The revision a read asking for `revision` reads at, if it is kept.
    fn read_revision(&self, revision: i64) -> Result<u64, EtcdError> {
        if revision <= 0 {
            return Ok(self.revision());
        }
        let rev = revision as u64;
        if rev > self.revision() {
            return Err(EtcdError::FutureRevision);
        }
        if rev < self.compact_revision() {
            return Err(EtcdError::Compacted);
        }
        Ok(rev)
    }

    /// etcd's Range.
    pub(super) fn range(&self, r: &RangeRequest, now_ms: u64) -> Result<RangeResponse, EtcdError> {
        let rev = self.read_revision(r.revision)?;
        let mut kvs = self.keys_at(&r.range, rev, now_ms);
        let count = kvs.len() as i64;
        let keep = |value: u64, min: i64, max: i64| {
            (min <= 0 || value as i64 >= min) && (max <= 0 || value as i64 <= max)
        };
        kvs.retain(|kv| {
            keep(kv.mod_revision, r.min_mod_revision, r.max_mod_revision)
                && keep(
                    kv.create_revision,
                    r.min_create_revision,
                    r.max_create_revision,
                )
        });
        let order = match (r.sort_order, r.sort_target) {
            (SortOrder::None, SortTarget::Key) => SortOrder::None,
            (SortOrder::None, _) => SortOrder::Ascend,
            (order, _) => order,
        };
        if order != SortOrder::None {
            match r.sort_target {
                SortTarget::Key => {}
                SortTarget::Version => kvs.sort_by_key(|kv| kv.version),
                SortTarget::Create => kvs.sort_by_key(|kv| kv.create_revision),
                SortTarget::Mod => kvs.sort_by_key(|kv| kv.mod_revision),
                SortTarget::Value => kvs.sort_by(|a, b| a.value.cmp(&b.value)),
            }
            if order == SortOrder::Descend {
                kvs.reverse();
            }
        }
        let mut more = false;
        if r.limit > 0 && kvs.len() > r.limit as usize {
            kvs.truncate(r.limit as usize);
            more = true;
        }
        if r.count_only {
            kvs.clear();
        } else if r.keys_only {
            for kv in &mut kvs {
                kv.value = Bytes::new();
            }
        }
        Ok(RangeResponse { kvs, more, count })
    }

    /// The checks etcd makes before a put changes anything.
    fn check_put(&self, p: &PutRequest, now_ms: u64) -> Result<(), EtcdError> {
        if p.key.is_empty() {
            return Err(EtcdError::EmptyKey);
        }
        if p.ignore_lease && p.lease != 0 {
            return Err(EtcdError::LeaseProvided);
        }
        if (p.ignore_value || p.ignore_lease) && self.get(&p.key, now_ms).is_none() {
            return Err(EtcdError::KeyNotFound);
        }
        if p.lease != 0 && !self.leases().contains_key(&p.lease) {
            return Err(EtcdError::LeaseNotFound);
        }
        Ok(())
    }

    /// A checked put, in the write transaction under way.
    fn do_put(&mut self, p: &PutRequest, now_ms: u64) -> PutResponse {
        let old = self
            .get(&p.key, now_ms)
            .map(|s| (s.key_value(&p.key), s.value.value.clone()));
        let value = match (&old, p.ignore_value) {
            (Some((_, value)), true) => value.clone(),
            _ => p.value.clone(),
        };
        let lease = if p.ignore_lease {
            LeaseChoice::Keep
        } else {
            LeaseChoice::Set(p.lease)
        };
        self.put(p.key.clone(), value, lease, None);
        PutResponse {
            prev_kv: old.filter(|_| p.prev_kv).map(|(kv, _)| kv),
        }
    }

    /// A delete, in the write transaction under way.
    fn do_delete(&mut self, d: &DeleteRangeRequest, now_ms: u64) -> DeleteRangeResponse {
        let keys: Vec<String> = self
            .iter_from(&d.range.key)
            .take_while(|(k, _)| !d.range.ends_before(k))
            .filter(|(k, _)| d.range.contains(k))
            .map(|(k, _)| k.clone())
            .collect();
        let mut response = DeleteRangeResponse::default();
        for key in keys {
            let live = self.get(&key, now_ms).map(|s| s.key_value(&key));
            self.delete(&key, now_ms);
            if let Some(kv) = live {
                response.deleted += 1;
                if d.prev_kv {
                    response.prev_kvs.push(kv);
                }
            }
        }
        response
    }

    /// Whether a compare holds now.
    fn compare(&self, c: &Compare, now_ms: u64) -> bool {
        let kvs = self.keys_at(&c.range, self.revision(), now_ms);
        if kvs.is_empty() {
            return match c.target {
                CompareTarget::Value(_) => false,
                _ => compare_one(c, &KeyValue::default()),
            };
        }
        kvs.iter().all(|kv| compare_one(c, kv))
    }

    /// A transaction that writes all of its branch or nothing: it runs on an O(1) clone, which
    /// replaces the store only if every operation succeeded. A nested transaction is checked only
    /// when it runs, after the operations before it have written, so failing it must undo them.
    fn atomic_txn(&mut self, t: &TxnRequest, now_ms: u64) -> Result<TxnResponse, EtcdError> {
        let mut scratch = self.clone();
        let response = scratch.txn(t, now_ms)?;
        *self = scratch;
        Ok(response)
    }

    /// etcd's transaction: checks, compares, then the branch's operations in order, all in one
    /// write transaction (one revision if anything changed).
    fn txn(&mut self, t: &TxnRequest, now_ms: u64) -> Result<TxnResponse, EtcdError> {
        check_branches(t)?;
        let succeeded = t.compare.iter().all(|c| self.compare(c, now_ms));
        let ops = if succeeded { &t.success } else { &t.failure };
        self.check_ops(ops, now_ms)?;
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            responses.push(match op {
                // The current state already holds this transaction's earlier writes.
                RequestOp::Range(r) => ResponseOp::Range(self.range(r, now_ms)?),
                RequestOp::Put(p) => ResponseOp::Put(self.do_put(p, now_ms)),
                RequestOp::DeleteRange(d) => ResponseOp::DeleteRange(self.do_delete(d, now_ms)),
                RequestOp::Txn(t) => ResponseOp::Txn(self.txn(t, now_ms)?),
            });
        }
        Ok(TxnResponse {
            succeeded,
            responses,
        })
    }

    /// Checks every put of `ops` (nested transactions are checked when they run).
    fn check_ops(&self, ops: &[RequestOp], now_ms: u64) -> Result<(), EtcdError> {
        for op in ops {
            match op {
                RequestOp::Put(p) => self.check_put(p, now_ms)?,
                RequestOp::Range(r) => {
                    self.read_revision(r.revision)?;
                }
                RequestOp::DeleteRange(_) | RequestOp::Txn(_) => {}
            }
        }
        Ok(())
    }
}

/// etcd's rule that a branch writes each key at most once: no key put twice, none put inside a
/// range the branch deletes.
fn check_branches(t: &TxnRequest) -> Result<(), EtcdError> {
    for ops in [&t.success, &t.failure] {
        let mut puts: Vec<&str> = Vec::new();
        let mut deletes: Vec<&KeyRange> = Vec::new();
        for op in ops.iter() {
            match op {
                RequestOp::Put(p) => {
                    if puts.contains(&p.key.as_str()) {
                        return Err(EtcdError::DuplicateKey);
                    }
                    puts.push(&p.key);
                }
                RequestOp::DeleteRange(d) => deletes.push(&d.range),
                RequestOp::Range(_) | RequestOp::Txn(_) => {}
            }
        }
        if puts.iter().any(|k| deletes.iter().any(|d| d.contains(k))) {
            return Err(EtcdError::DuplicateKey);
        }
    }
    Ok(())
}

/// One key against one compare.
fn compare_one(c: &Compare, kv: &KeyValue) -> bool {
    use std::cmp::Ordering;
    let ordering = match &c.target {
        CompareTarget::Version(v) => (kv.version as i64).cmp(v),
        CompareTarget::Create(v) => (kv.create_revision as i64).cmp(v),
        CompareTarget::Mod(v) => (kv.mod_revision as i64).cmp(v),
        CompareTarget::Lease(v) => kv.lease.cmp(v),
        CompareTarget::Value(v) => kv.value.as_ref().cmp(v.as_ref()),
    };
    match c.result {
        CompareResult::Equal => ordering == Ordering::Equal,
        CompareResult::Greater => ordering == Ordering::Greater,
        CompareResult::Less => ordering == Ordering::Less,
        CompareResult::NotEqual => ordering != Ordering::Equal,
    }
}
