//! The deterministic state machine: applies committed entries in log order.

use std::io::Write;

use super::auth::AuthStore;
use super::command::{Command, Operation, Request};
use super::config::{StateConfig, StateConfigError};
use super::kv::{Event, KvRecord, KvStore, KvValue, LeaseChoice};
use super::mvcc::EtcdCommand;
use super::result::ApplyResult;
use super::sessions::{SessionCheck, SessionTable};
use super::stacks::{StackError, Stacks};
use super::students::{Student, Students};
use super::txlog::{TxLog, TxLogError};
use super::view;
use crate::raft::{Entry, Index, Payload, Term};

/// What applying one entry produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The answer for the proposer.
    pub result: ApplyResult,
    /// True when the entry repeated a client's last request and `result` is the cached answer:
    /// nothing was applied again.
    pub replayed: bool,
}

impl Applied {
    fn fresh(result: ApplyResult) -> Self {
        Applied {
            result,
            replayed: false,
        }
    }
}

/// Students, keys and stacks, plus the client sessions, as of `applied_index`.
///
/// `clone()` is O(1): every collection is a persistent map sharing its nodes with the clone, and
/// whichever side writes next copies only the nodes on its path. A clone is a frozen, consistent
/// view that can cross threads (it is `Send + Sync`), e.g. to write a snapshot while the
/// original goes on applying.
#[derive(Clone, Debug)]
pub struct StateMachine {
    /// Invariant: the entries `1..=applied_index` were applied in order, each exactly once.
    applied_index: Index,
    /// The term of the entry at `applied_index` (0 before any). Terms never decrease along the log.
    applied_term: Term,
    /// The state machine's clock: the largest stamp of any applied request (ms since the Unix
    /// epoch; 0 before any). Invariant: it never decreases, so a key once expired stays expired.
    now_ms: u64,
    students: Students,
    kv: KvStore,
    stacks: Stacks,
    sessions: SessionTable,
    /// Users, roles and permissions (etcd's auth model).
    auth: AuthStore,
}

// A clone must be able to cross to a snapshot writer's thread.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<StateMachine>();
};

/// A state machine taken apart: what a snapshot is read back into. Only the snapshot reader builds
/// one, after checking every collection's invariants and every index against `applied_index`.
pub(super) struct Parts {
    pub(super) applied_index: Index,
    pub(super) applied_term: Term,
    pub(super) now_ms: u64,
    pub(super) students: Students,
    pub(super) kv: KvStore,
    pub(super) stacks: Stacks,
    pub(super) sessions: SessionTable,
    pub(super) auth: AuthStore,
}

impl From<StackError> for ApplyResult {
    fn from(e: StackError) -> Self {
        match e {
            StackError::NotFound => ApplyResult::NotFound,
            StackError::Empty => ApplyResult::StackEmpty,
        }
    }
}

/// Folds a stack operation's outcome into a result.
fn stack_result<T>(
    outcome: Result<T, StackError>,
    ok: impl FnOnce(T) -> ApplyResult,
) -> ApplyResult {
    outcome.map_or_else(ApplyResult::from, ok)
}

impl StateMachine {
    /// An empty state machine that has applied nothing.
    pub fn new(config: StateConfig) -> Result<Self, StateConfigError> {
        config.validate()?;
        Ok(StateMachine {
            applied_index: 0,
            applied_term: 0,
            now_ms: 0,
            students: Students::default(),
            kv: KvStore::default(),
            stacks: Stacks::default(),
            sessions: SessionTable::new(config.max_sessions),
            auth: AuthStore::default(),
        })
    }

    /// A state machine restored from a snapshot's checked parts.
    pub(super) fn from_parts(parts: Parts) -> Self {
        StateMachine {
            applied_index: parts.applied_index,
            applied_term: parts.applied_term,
            now_ms: parts.now_ms,
            students: parts.students,
            kv: parts.kv,
            stacks: parts.stacks,
            sessions: parts.sessions,
            auth: parts.auth,
        }
    }

    /// The collections, for the snapshot writer.
    pub(super) fn collections(&self) -> (&Students, &KvStore, &Stacks, &SessionTable) {
        (&self.students, &self.kv, &self.stacks, &self.sessions)
    }

    /// Users, roles and permissions, as applied.
    pub fn auth(&self) -> &AuthStore {
        &self.auth
    }

    /// The index of the last applied entry (0 before any).
    pub fn applied_index(&self) -> Index {
        self.applied_index
    }

    /// The term of the last applied entry (0 before any).
    pub fn applied_term(&self) -> Term {
        self.applied_term
    }

    /// The state machine's clock (ms since the Unix epoch): the largest stamp applied so far.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The earliest expiry of any stored key, expired or not: a leader whose clock has passed it
    /// should propose [`Command::KvPurge`].
    pub fn next_expiry_ms(&self) -> Option<u64> {
        self.kv.next_expiry_ms()
    }

    /// Applies the committed entry at `index`. Panics unless `index == applied_index() + 1`: the core
    /// delivers committed entries in order, so a gap or a repeat is a bug that would corrupt state.
    pub fn apply(&mut self, index: Index, term: Term, payload: &Payload) -> ApplyResult {
        self.apply_operation(index, term, &Operation::from_payload(payload))
            .result
    }

    /// Like [`StateMachine::apply`], for a payload already decoded (so the transaction log can
    /// render the same [`Operation`] without decoding it again).
    pub fn apply_operation(&mut self, index: Index, term: Term, op: &Operation) -> Applied {
        assert_eq!(
            index,
            self.applied_index + 1,
            "entries must be applied in order without gaps"
        );
        assert!(
            term >= self.applied_term,
            "term {term} of entry {index} is below the previous entry's {}",
            self.applied_term
        );
        self.applied_index = index;
        self.applied_term = term;
        match op {
            Operation::Noop | Operation::Membership(_) => Applied::fresh(ApplyResult::Noop),
            Operation::Undecodable(e) => Applied::fresh(ApplyResult::BadCommand(e.to_string())),
            Operation::Request(request) => {
                // The stamp moves the clock even when the session turns the request away: it is
                // a fact of the entry, not of the command.
                if let Some(stamp) = request.stamp_ms {
                    self.now_ms = self.now_ms.max(stamp);
                }
                self.apply_request(index, request)
            }
        }
    }

    /// Applies a batch of committed entries, records each in `txlog`, and writes the batch's lines
    /// with one write. On `Err` the entries *were* applied; only the file write failed, which is an
    /// environmental failure: the caller should stop the node.
    pub fn apply_batch<W: Write>(
        &mut self,
        entries: &[Entry],
        txlog: &mut TxLog<W>,
    ) -> Result<Vec<ApplyResult>, TxLogError> {
        let mut results = Vec::with_capacity(entries.len());
        for entry in entries {
            let op = Operation::from_payload(&entry.payload);
            let applied = self.apply_operation(entry.index, entry.term, &op);
            txlog.push(entry.index, entry.term, &op, &applied);
            results.push(applied.result);
        }
        txlog.flush()?;
        Ok(results)
    }

    /// Runs a request through its session, if it has one.
    fn apply_request(&mut self, index: Index, request: &Request) -> Applied {
        let Some(session) = request.session else {
            return Applied::fresh(self.execute(index, &request.command));
        };
        match self.sessions.check(session.client_id, session.seq) {
            SessionCheck::Apply => {
                let result = self.execute(index, &request.command);
                self.sessions
                    .record(session.client_id, session.seq, index, result.clone());
                Applied::fresh(result)
            }
            SessionCheck::Replay(result) => Applied {
                result,
                replayed: true,
            },
            SessionCheck::Stale => Applied::fresh(ApplyResult::StaleSession),
        }
    }

    /// Carries out one command as the entry at `index`.
    fn execute(&mut self, index: Index, command: &Command) -> ApplyResult {
        match command {
            Command::StudentPut {
                roll_no,
                name,
                address,
                phone,
            } => {
                self.students.put(Student {
                    roll_no: *roll_no,
                    name: name.clone(),
                    address: address.clone(),
                    phone: phone.clone(),
                });
                ApplyResult::Written
            }
            Command::StudentDelete { roll_no } => {
                ApplyResult::Deleted(self.students.delete(*roll_no))
            }
            Command::KvPut { key, .. }
            | Command::KvSet { key, .. }
            | Command::KvCas { key, .. }
                if key.is_empty() =>
            {
                ApplyResult::BadCommand("the key must not be empty".to_string())
            }
            Command::KvPut { key, value } => {
                // Bytes clones share the buffer: no copy of the value. A put of raftkv's own
                // API detaches the key from any etcd lease, as an etcd put without one does.
                let version = self
                    .kv
                    .put(key.clone(), value.clone(), LeaseChoice::Set(0), None);
                self.kv.commit();
                ApplyResult::Stored { version }
            }
            Command::KvSet {
                key,
                value,
                ttl_secs,
            } => {
                let expires_at_ms = self.expiry(*ttl_secs);
                let version = self.kv.put(
                    key.clone(),
                    value.clone(),
                    LeaseChoice::Set(0),
                    expires_at_ms,
                );
                self.kv.commit();
                ApplyResult::Stored { version }
            }
            Command::KvCas {
                key,
                value,
                ttl_secs,
                expected_version,
            } => {
                let expires_at_ms = self.expiry(*ttl_secs);
                let (value, now_ms) = (value.clone(), self.now_ms);
                self.kv
                    .cas(key.clone(), value, expires_at_ms, *expected_version, now_ms)
            }
            Command::KvDelete { key } => {
                let deleted = self.kv.delete(key, self.now_ms);
                self.kv.commit();
                ApplyResult::Deleted(deleted)
            }
            Command::KvPurge => ApplyResult::Purged(self.kv.purge(self.now_ms)),
            Command::Etcd(command) if !command.is_read() => {
                ApplyResult::Etcd(self.kv.etcd(index, self.now_ms, command))
            }
            Command::Auth(change) => match self.auth.apply(change) {
                Ok(()) => ApplyResult::AuthChanged,
                Err(e) => ApplyResult::AuthFailed(e),
            },
            Command::StackCreate { label } => ApplyResult::StackId(self.stacks.create(*label)),
            Command::StackPush { stack_id, item } => {
                stack_result(self.stacks.push(*stack_id, *item), ApplyResult::Size)
            }
            Command::StackPop { stack_id } => {
                stack_result(self.stacks.pop(*stack_id), ApplyResult::Item)
            }
            read => self
                .read(read)
                .expect("every command not matched above is a read"),
        }
    }

    /// Answers a read command from the current state without the log (for local and
    /// linearizable reads); `None` if `command` is a write.
    pub fn read(&self, command: &Command) -> Option<ApplyResult> {
        let result = match command {
            Command::StudentList => ApplyResult::Students(self.students.iter().cloned().collect()),
            Command::StudentGet { roll_no } => {
                ApplyResult::Student(self.students.get(*roll_no).cloned())
            }
            Command::KvGet { key } => {
                ApplyResult::Value(self.kv.get(key, self.now_ms).map(|s| s.value.clone()))
            }
            Command::KvGetMeta { key } => ApplyResult::Record(self.kv_record(key)),
            Command::StackId { label } => {
                stack_result(self.stacks.id(*label), ApplyResult::StackId)
            }
            Command::StackTop { stack_id } => {
                stack_result(self.stacks.top(*stack_id), ApplyResult::Item)
            }
            Command::StackSize { stack_id } => {
                stack_result(self.stacks.size(*stack_id), ApplyResult::Size)
            }
            Command::Etcd(command) => ApplyResult::Etcd(self.etcd_read(command)?),
            _ => return None,
        };
        Some(result)
    }

    /// The key-value store's revision: that of its last write (1 before any).
    pub fn revision(&self) -> u64 {
        self.kv.revision()
    }

    /// The revision below which the store's history was compacted (0: none).
    pub fn compact_revision(&self) -> u64 {
        self.kv.compact_revision()
    }

    /// Calls `f` with every kept revision after `after` and its events, oldest first, until it
    /// returns false. Watches read the history this way.
    pub fn for_each_event_after(&self, after: u64, mut f: impl FnMut(u64, &[Event]) -> bool) {
        for (rev, events) in self.kv.events_after(after) {
            if !f(rev, events) {
                break;
            }
        }
    }

    /// How many revisions of history are kept.
    pub fn history_len(&self) -> usize {
        self.kv.history_len()
    }

    /// How many etcd leases exist.
    pub fn lease_count(&self) -> usize {
        self.kv.leases().len()
    }

    /// Every etcd lease's id and granted time to live, by id.
    pub fn leases(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.kv.leases().iter().map(|(id, l)| (*id, l.ttl))
    }

    /// Answers an etcd read command (`None` for a write). A read changes nothing: an O(1) clone
    /// takes the write path's `&mut` and is dropped.
    pub fn etcd_read(&self, command: &EtcdCommand) -> Option<crate::state::mvcc::EtcdResult> {
        command.is_read().then(|| {
            self.kv
                .clone()
                .etcd(self.applied_index, self.now_ms, command)
        })
    }

    /// The student with this roll number.
    pub fn get_student(&self, roll_no: u64) -> Option<&Student> {
        self.students.get(roll_no)
    }

    /// Every student, by ascending roll number.
    pub fn list_students(&self) -> impl Iterator<Item = &Student> + '_ {
        self.students.iter()
    }

    /// A live key's value and version.
    pub fn kv_get(&self, key: &str) -> Option<&KvValue> {
        self.kv.get(key, self.now_ms).map(|s| &s.value)
    }

    /// A live key's value, version and expiry, as of the state machine's clock.
    pub fn kv_record(&self, key: &str) -> Option<KvRecord> {
        self.kv.get(key, self.now_ms).map(|s| s.record(self.now_ms))
    }

    /// When a key written now with `ttl_secs` expires (`None`: never). Saturates rather than wrap:
    /// an absurd ttl means "practically never", on every replica alike.
    fn expiry(&self, ttl_secs: u64) -> Option<u64> {
        (ttl_secs > 0).then(|| self.now_ms.saturating_add(ttl_secs.saturating_mul(1000)))
    }

    /// The id of the stack labelled `label`.
    pub fn stack_id(&self, label: i64) -> Result<u64, StackError> {
        self.stacks.id(label)
    }

    /// The top item of a stack.
    pub fn stack_top(&self, stack_id: u64) -> Result<i64, StackError> {
        self.stacks.top(stack_id)
    }

    /// The number of items on a stack.
    pub fn stack_size(&self, stack_id: u64) -> Result<u64, StackError> {
        self.stacks.size(stack_id)
    }

    /// The number of exactly-once sessions held (at most `max_sessions`).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The whole state with its applied index, as JSON a person can read (for `GET /v1/state`).
    /// Identical on every replica that applied the same entries: every collection is ordered.
    pub fn to_json(&self) -> serde_json::Value {
        view::state_json(
            self.applied_index,
            self.applied_term,
            self.now_ms,
            &self.students,
            &self.kv,
            &self.stacks,
            &self.sessions,
        )
    }
}
