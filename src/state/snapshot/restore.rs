//! Rebuilding a state machine from verified records, checking that they describe a state the
//! machine could have reached: a checksum proves the bytes are the ones written, not that the
//! writer was sound, and a restored machine that breaks an invariant would panic or diverge later.

use imbl::Vector;

use super::format::Kind;
use super::frame_read::Record;
use super::records::{
    HeaderRecord, HistoryRecord, KeyRecord, LeaseRecord, SessionRecord, StackRecord,
};
use super::{SnapshotCounts, SnapshotError, SnapshotMeta};
use crate::state::kv::{Event, KvStore, KvValue, Slot, FIRST_REVISION};
use crate::state::machine::Parts;
use crate::state::sessions::{ClientSession, SessionTable};
use crate::state::stacks::Stacks;
use crate::state::students::{Student, Students};
use crate::state::{StateConfig, StateMachine};

/// A stack whose items records are still arriving.
struct OpenStack {
    id: u64,
    label: i64,
    items: Vector<i64>,
    /// Items still to come. Invariant: at least 1 (a stack with none left is closed).
    remaining: u64,
}

/// The state being rebuilt, record by record.
pub(super) struct Restore {
    header: HeaderRecord<'static>,
    /// Records of each kind so far. Invariant: each at most the header's count.
    seen: SnapshotCounts,
    /// The section of the last record: records come in the order of [`Kind::position`].
    section: Kind,
    students: Students,
    kv: KvStore,
    stacks: Stacks,
    open_stack: Option<OpenStack>,
    sessions: SessionTable,
    /// A history revision whose events are still arriving (a revision may span records).
    open_revision: Option<(u64, Vec<Event>)>,
}

impl Restore {
    /// An empty state with the header's clock and stack counter.
    pub(super) fn new(header: HeaderRecord<'static>, config: StateConfig) -> Self {
        let mut kv = KvStore::default();
        // A file before format 3 has no revision: its keys' versions are log indexes, so the
        // applied index is above all of them, and writes after the restore stay above them too.
        let revision = match header.revision {
            0 => header.index.max(FIRST_REVISION),
            revision => revision,
        };
        kv.restore_revisions(revision, header.compact_revision);
        Restore {
            open_revision: None,
            stacks: Stacks::restored(header.next_stack_id),
            header,
            seen: SnapshotCounts::default(),
            section: Kind::Header,
            students: Students::default(),
            kv,
            open_stack: None,
            sessions: SessionTable::new(config.max_sessions),
        }
    }

    /// Adds one record to the state.
    pub(super) fn record(&mut self, record: &Record<'_>) -> Result<(), SnapshotError> {
        self.enter(record)?;
        let outcome = match record.kind {
            Kind::Header => Err("a second header".to_string()),
            Kind::Student => self.student(record.decode()?),
            Kind::Key => self.key(record.decode()?),
            Kind::Stack => self.stack(record.decode()?),
            Kind::StackItems => self.stack_items(record.decode()?),
            Kind::Session => self.session(record.decode()?),
            Kind::Lease => self.lease(record.decode()?),
            Kind::History => self.history(record.decode()?),
        };
        outcome.map_err(|reason| record.malformed(reason))
    }

    /// The restored machine, once the trailer (at `offset`) has been verified.
    pub(super) fn finish(
        self,
        file: &str,
        offset: u64,
    ) -> Result<(StateMachine, SnapshotMeta), SnapshotError> {
        let malformed = |reason: String| SnapshotError::Malformed {
            file: file.to_string(),
            offset,
            reason,
        };
        if let Some(open) = &self.open_stack {
            let reason = format!("stack {} lacks its last {} items", open.id, open.remaining);
            return Err(malformed(reason));
        }
        self.stacks.check_restored().map_err(malformed)?;
        let mut kv = self.kv;
        if let Some((revision, events)) = self.open_revision {
            kv.restore_events(revision, events).map_err(malformed)?;
        }
        if self.seen != self.header.counts {
            let (seen, counted) = (self.seen, self.header.counts);
            return Err(malformed(format!(
                "found {seen}, the header counts {counted}"
            )));
        }
        let mut h = self.header;
        let auth = std::mem::take(&mut h.auth).into_owned();
        let machine = StateMachine::from_parts(Parts {
            applied_index: h.index,
            applied_term: h.term,
            now_ms: h.now_ms,
            students: self.students,
            kv,
            stacks: self.stacks,
            sessions: self.sessions,
            auth,
        });
        let meta = SnapshotMeta {
            index: h.index,
            term: h.term,
            membership: h.membership(),
        };
        Ok((machine, meta))
    }

    /// Checks that a record of this kind may come now, and counts it.
    fn enter(&mut self, record: &Record<'_>) -> Result<(), SnapshotError> {
        let section = match record.kind {
            Kind::StackItems => Kind::Stack,
            kind => kind,
        };
        let after = self.section;
        if section.position() < after.position() {
            let reason = format!("a {} record after {} records", section.name(), after.name());
            return Err(record.malformed(reason));
        }
        self.section = section;
        let (seen, counted) = match record.kind {
            Kind::Student => (&mut self.seen.students, self.header.counts.students),
            Kind::Key => (&mut self.seen.keys, self.header.counts.keys),
            Kind::Stack => (&mut self.seen.stacks, self.header.counts.stacks),
            Kind::Session => (&mut self.seen.sessions, self.header.counts.sessions),
            Kind::Lease => (&mut self.seen.leases, self.header.counts.leases),
            Kind::History => (
                &mut self.seen.history_records,
                self.header.counts.history_records,
            ),
            Kind::Header | Kind::StackItems => return Ok(()),
        };
        *seen += 1;
        if *seen > counted {
            let reason = format!(
                "more {} records than the {counted} counted",
                record.kind.name()
            );
            return Err(record.malformed(reason));
        }
        Ok(())
    }

    fn student(&mut self, student: Student) -> Result<(), String> {
        self.students.restore(student)
    }

    fn key(&mut self, record: KeyRecord<'static>) -> Result<(), String> {
        // Before format 3 a key's version was the index that wrote it; its creation and write
        // count are unknown, so it reads as created by that write.
        let legacy = record.create_revision == 0;
        if legacy {
            self.check_index("key version", record.version)?;
        }
        let slot = Slot {
            value: KvValue {
                value: record.value,
                version: record.version,
            },
            create_revision: if legacy {
                record.version
            } else {
                record.create_revision
            },
            writes: if legacy { 1 } else { record.writes.max(1) },
            lease: record.lease,
            expires_at_ms: record.expires_at_ms,
        };
        self.kv.restore(record.key.into_owned(), slot)
    }

    fn lease(&mut self, record: LeaseRecord) -> Result<(), String> {
        self.kv.restore_lease(record.id, record.ttl)
    }

    /// Gathers a revision's events; a record of a later revision closes the one before.
    fn history(&mut self, record: HistoryRecord<'static>) -> Result<(), String> {
        let events = record.events.into_owned();
        match &mut self.open_revision {
            Some((revision, open)) if *revision == record.revision => open.extend(events),
            _ => {
                if let Some((revision, events)) = self.open_revision.take() {
                    self.kv.restore_events(revision, events)?;
                }
                self.open_revision = Some((record.revision, events));
            }
        }
        Ok(())
    }

    fn stack(&mut self, record: StackRecord) -> Result<(), String> {
        if let Some(open) = &self.open_stack {
            return Err(format!(
                "stack {} lacks its last {} items",
                open.id, open.remaining
            ));
        }
        let open = OpenStack {
            id: record.id,
            label: record.label,
            items: Vector::new(),
            remaining: record.items,
        };
        self.close_or_keep(open)
    }

    fn stack_items(&mut self, items: Vec<i64>) -> Result<(), String> {
        let Some(mut open) = self.open_stack.take() else {
            return Err("stack items with no stack expecting them".to_string());
        };
        let count = items.len() as u64;
        if count == 0 || count > open.remaining {
            let remaining = open.remaining;
            return Err(format!(
                "{count} items for stack {}, which expects {remaining} more",
                open.id
            ));
        }
        open.items.extend(items);
        open.remaining -= count;
        self.close_or_keep(open)
    }

    /// Adds a stack once all its items have arrived; keeps it open until then.
    fn close_or_keep(&mut self, open: OpenStack) -> Result<(), String> {
        if open.remaining > 0 {
            self.open_stack = Some(open);
            return Ok(());
        }
        self.stacks.restore(open.id, open.label, open.items)
    }

    fn session(&mut self, record: SessionRecord<'static>) -> Result<(), String> {
        self.check_index("session's last index", record.last_index)?;
        let session = ClientSession {
            last_seq: record.last_seq,
            last_index: record.last_index,
            result: record.result.into_owned(),
        };
        self.sessions.restore(record.client_id, session)
    }

    /// An index recorded in the state names an applied entry: `1..=applied_index`.
    fn check_index(&self, what: &str, index: u64) -> Result<(), String> {
        if index == 0 || index > self.header.index {
            let applied = self.header.index;
            return Err(format!(
                "{what} {index} is not an applied index (1..={applied})"
            ));
        }
        Ok(())
    }
}
