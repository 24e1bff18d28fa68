//! The leader's part in key expiry: it stamps each proposal with its wall clock and, once that
//! clock passes the earliest expiry, proposes a purge. The core stays clock-free and the state
//! machine judges expiry by the stamps alone (see the module docs of [`crate::state`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;

use super::Replicator;
use crate::raft::Role;
use crate::state::{self, Command, Request};

/// How often a leader checks for expired keys: with one commit, the bound on how long an expired
/// key may linger in the state machine's clock on a healthy, otherwise idle cluster.
pub(super) const PURGE_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// This node's wall clock in ms since the Unix epoch (0 if the clock is set before 1970).
pub(super) fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Replicator {
    /// Proposes [`Command::KvPurge`] if this node leads, a key's expiry has passed on its clock
    /// (or on the state machine's, which a previous leader may have set ahead), and its previous
    /// purge has been applied.
    pub(super) fn maybe_purge(&mut self, ctx: &mut Context<Self>) {
        if self.raft.status().role != Role::Leader {
            self.purge_index = None;
            return;
        }
        let Some(next_expiry_ms) = self.state.next_expiry_ms() else {
            return;
        };
        let now_ms = wall_clock_ms();
        if now_ms.max(self.state.now_ms()) < next_expiry_ms {
            return;
        }
        // One purge in flight at a time: a slow commit must not pile purges into the log. Once
        // the index is applied (whichever entry ended up there) another may go.
        if self
            .purge_index
            .is_some_and(|index| self.state.applied_index() < index)
        {
            return;
        }
        let request = Request::new(Command::KvPurge).stamped(now_ms);
        match self.raft.propose(state::encode(&request)) {
            Ok((index, _)) => {
                self.purge_index = Some(index);
                self.schedule_drive(ctx);
            }
            Err(e) => log::debug!("node {}: no purge proposed: {e:?}", self.id),
        }
    }
}
