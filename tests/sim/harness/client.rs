//! Clients: proposals with unique payloads, ReadIndex reads and leadership transfers.

use bytes::Bytes;
use raftkv::raft::{Index, NodeId, Term};

use super::cluster::Sim;
use super::trace::What;
use super::violation::Violation;

impl Sim {
    /// A payload no other proposal of this run carries: the seed and a counter.
    pub fn next_payload(&mut self) -> Bytes {
        self.next_payload += 1;
        Bytes::from(format!("{}:{}", self.cfg.seed, self.next_payload))
    }

    /// Proposes `data` at node `id`. Returns where the core appended it, or `None` if it refused
    /// (not the leader, transferring, busy) or the node is down.
    pub fn propose(&mut self, id: NodeId, data: Bytes) -> Result<Option<(Index, Term)>, Violation> {
        if self.is_paused(id) {
            return Ok(None);
        }
        let Some(raft) = self.nodes[id as usize - 1].raft.as_mut() else {
            return Ok(None);
        };
        let Ok((index, term)) = raft.propose(data) else {
            return Ok(None);
        };
        self.stats.proposals += 1;
        let what = What::Propose {
            node: id,
            index,
            term,
        };
        self.trace.push(self.now_us, what);
        self.drive(id)?;
        Ok(Some((index, term)))
    }

    /// Proposes a fresh payload at `id`, or at the leader `id` names if it is not the leader
    /// (a client following a redirect).
    pub fn propose_via(&mut self, id: NodeId) -> Result<Option<(Index, Term)>, Violation> {
        let target = match self.node(id).status() {
            Some(st) if st.leader.is_some_and(|l| l != id) => st.leader.unwrap_or(id),
            _ => id,
        };
        let data = self.next_payload();
        self.propose(target, data)
    }

    /// Issues a linearizable read at `id`. Returns the read's id if the core took it.
    pub fn read(&mut self, id: NodeId) -> Result<Option<u64>, Violation> {
        self.next_read_id += 1;
        let read_id = self.next_read_id;
        if self.is_paused(id) {
            return Ok(None);
        }
        let Some(raft) = self.nodes[id as usize - 1].raft.as_mut() else {
            return Ok(None);
        };
        if raft.read_index(read_id).is_err() {
            return Ok(None);
        }
        self.checker.on_read_issued(read_id);
        self.stats.reads_issued += 1;
        let what = What::Read {
            node: id,
            id: read_id,
        };
        self.trace.push(self.now_us, what);
        self.drive(id)?;
        Ok(Some(read_id))
    }

    /// Asks leader `from` to hand leadership to `to`. Returns whether the core took the request.
    pub fn transfer(&mut self, from: NodeId, to: NodeId) -> Result<bool, Violation> {
        if self.is_paused(from) {
            return Ok(false);
        }
        let Some(raft) = self.nodes[from as usize - 1].raft.as_mut() else {
            return Ok(false);
        };
        if raft.transfer_leadership(to).is_err() {
            return Ok(false);
        }
        self.stats.transfers += 1;
        self.trace.push(self.now_us, What::Transfer { from, to });
        self.drive(from)?;
        Ok(true)
    }
}
