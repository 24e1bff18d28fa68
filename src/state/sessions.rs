//! The bounded table of exactly-once client sessions (the rule is in the module docs of
//! [`crate::state`]).

use imbl::OrdMap;

use super::result::ApplyResult;
use crate::raft::Index;

/// What the table says about an incoming `(client_id, seq)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum SessionCheck {
    /// Not seen yet: apply it, then [`SessionTable::record`] the result.
    Apply,
    /// A retry of the last applied request: answer with its cached result.
    Replay(ApplyResult),
    /// Older than the last applied request.
    Stale,
}

/// The last applied request of one client.
#[derive(Clone, Debug)]
pub(super) struct ClientSession {
    pub(super) last_seq: u64,
    /// Where that request was applied; the eviction order.
    pub(super) last_index: Index,
    pub(super) result: ApplyResult,
}

/// Sessions keyed by client id, plus the same clients keyed by the index of their last request.
///
/// Invariant: `by_index` holds exactly one `(last_index, client_id)` pair per entry of `by_client`,
/// and `by_client.len() <= max_sessions`. Indexes are unique because one entry carries one request.
/// Persistent maps: a clone is O(1) (see the module docs of [`crate::state`]).
#[derive(Clone, Debug)]
pub(super) struct SessionTable {
    max_sessions: usize,
    by_client: OrdMap<u64, ClientSession>,
    by_index: OrdMap<Index, u64>,
}

impl SessionTable {
    /// An empty table holding at most `max_sessions` clients (at least one).
    pub(super) fn new(max_sessions: usize) -> Self {
        assert!(
            max_sessions > 0,
            "max_sessions is validated to be at least 1"
        );
        SessionTable {
            max_sessions,
            by_client: OrdMap::new(),
            by_index: OrdMap::new(),
        }
    }

    /// Classifies a request of `client_id` numbered `seq`.
    pub(super) fn check(&self, client_id: u64, seq: u64) -> SessionCheck {
        match self.by_client.get(&client_id) {
            None => SessionCheck::Apply,
            Some(s) if seq > s.last_seq => SessionCheck::Apply,
            Some(s) if seq == s.last_seq => SessionCheck::Replay(s.result.clone()),
            Some(_) => SessionCheck::Stale,
        }
    }

    /// Remembers that `client_id`'s request `seq` was applied at `index` with `result`, evicting the
    /// client with the lowest last index if a new client does not fit.
    pub(super) fn record(&mut self, client_id: u64, seq: u64, index: Index, result: ApplyResult) {
        if let Some(old) = self.by_client.get(&client_id) {
            assert!(seq > old.last_seq, "recorded a request that was not new");
            let removed = self.by_index.remove(&old.last_index);
            assert_eq!(removed, Some(client_id), "session index map out of sync");
        } else if self.by_client.len() == self.max_sessions {
            let (oldest, evicted) = *self
                .by_index
                .get_min()
                .expect("a full table has an oldest client");
            self.by_index.remove(&oldest);
            self.by_client.remove(&evicted);
        }
        let previous = self.by_index.insert(index, client_id);
        assert!(previous.is_none(), "two requests recorded at index {index}");
        self.by_client.insert(
            client_id,
            ClientSession {
                last_seq: seq,
                last_index: index,
                result,
            },
        );
        debug_assert_eq!(self.by_client.len(), self.by_index.len());
        debug_assert!(self.by_client.len() <= self.max_sessions);
    }

    /// The number of clients held.
    pub(super) fn len(&self) -> usize {
        self.by_client.len()
    }

    /// Every session by ascending client id.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, &ClientSession)> + '_ {
        self.by_client.iter().map(|(&id, s)| (id, s))
    }

    /// Adds a session read back from a snapshot, which lists them by ascending client id; refuses
    /// one out of order, one past `max_sessions`, or two clients last applied at the same index.
    pub(super) fn restore(&mut self, client_id: u64, session: ClientSession) -> Result<(), String> {
        if self.by_client.len() == self.max_sessions {
            let max = self.max_sessions;
            return Err(format!("more sessions than max_sessions ({max}) allows"));
        }
        if let Some(&(last, _)) = self.by_client.get_max() {
            if client_id <= last {
                return Err(format!("client {client_id} is out of order (after {last})"));
            }
        }
        if let Some(other) = self.by_index.insert(session.last_index, client_id) {
            let index = session.last_index;
            return Err(format!(
                "clients {other} and {client_id} both last applied at index {index}"
            ));
        }
        self.by_client.insert(client_id, session);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seq_replays_lower_is_stale_higher_applies() {
        let mut table = SessionTable::new(4);
        assert_eq!(table.check(1, 5), SessionCheck::Apply);
        table.record(1, 5, 10, ApplyResult::Item(3));
        assert_eq!(
            table.check(1, 5),
            SessionCheck::Replay(ApplyResult::Item(3))
        );
        assert_eq!(table.check(1, 4), SessionCheck::Stale);
        assert_eq!(table.check(1, 7), SessionCheck::Apply);
        assert_eq!(table.check(2, 0), SessionCheck::Apply);
    }

    #[test]
    fn a_full_table_evicts_the_client_applied_at_the_lowest_index() {
        let mut table = SessionTable::new(2);
        table.record(1, 1, 10, ApplyResult::Written);
        table.record(2, 1, 11, ApplyResult::Written);
        // Client 1 applies again later, so client 2 becomes the oldest.
        table.record(1, 2, 12, ApplyResult::Written);
        table.record(3, 1, 13, ApplyResult::Written);
        assert_eq!(table.len(), 2);
        assert_eq!(
            table.check(2, 1),
            SessionCheck::Apply,
            "client 2 was evicted"
        );
        assert_eq!(
            table.check(1, 2),
            SessionCheck::Replay(ApplyResult::Written)
        );
        assert_eq!(
            table.check(3, 1),
            SessionCheck::Replay(ApplyResult::Written)
        );
    }
}
