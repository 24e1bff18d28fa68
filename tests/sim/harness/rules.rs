//! Checks of Figure 2's rules that are not safety properties by themselves but whose breach
//! makes a cluster fragile: how terms change, the election timer after a vote, and CheckQuorum.
//! Each compares what a node does with what the rule allows, counted in the node's own ticks.

use raftkv::raft::{Body, Message, NodeId, Role, Status, Term};

use super::cluster::Sim;
use super::violation::Violation;

/// What the rule checks remember of one node (of its current incarnation, where it matters).
#[derive(Clone, Debug, Default)]
pub struct NodeRules {
    /// Ticks this node's cores have taken.
    pub ticks: u64,
    /// `ticks` when the node last granted a vote.
    pub granted_at: Option<u64>,
    /// `ticks` when the node last became leader.
    pub leader_since: u64,
    /// `heard[v]`: `ticks` when this node, as leader, last got a message of its term from `v`.
    pub heard: Vec<u64>,
}

/// The message being delivered while a node steps.
#[derive(Clone, Copy, Debug)]
pub struct Delivering {
    pub term: Term,
}

/// True for the messages whose higher term every server must adopt (§5.1). Vote requests may
/// be ignored under a leader lease, and pre-votes concern a future term.
fn must_adopt(body: &Body) -> bool {
    matches!(
        body,
        Body::Append { .. }
            | Body::Heartbeat { .. }
            | Body::Snapshot { .. }
            | Body::AppendResponse { .. }
            | Body::HeartbeatResponse { .. }
            | Body::SnapshotAck { .. }
            | Body::VoteResponse { .. }
    )
}

impl Sim {
    /// Node `to` stepped `msg` from `from` in term `before`: it must have adopted a higher term,
    /// and a leader remembers hearing from `from`.
    pub(super) fn check_delivered(
        &mut self,
        (from, to): (NodeId, NodeId),
        msg: &Message,
        before: Term,
    ) -> Result<(), Violation> {
        let node = &mut self.nodes[to as usize - 1];
        let Some(st) = node.status() else {
            return Ok(());
        };
        if msg.term > before && must_adopt(&msg.body) && st.term < msg.term {
            let why = format!(
                "stayed in term {} after a {:?} of term {} from {from}",
                st.term,
                super::trace::Brief::of(msg),
                msg.term
            );
            return Err(Violation::TermRule { node: to, why });
        }
        if st.role == Role::Leader && msg.term == st.term {
            let rules = &mut node.rules;
            rules.heard.resize(self.cfg.nodes + 1, 0);
            rules.heard[from as usize] = rules.ticks;
        }
        Ok(())
    }

    /// Node `id` changed from `before` to `st`: its term may rise only with a message carrying
    /// the new term or by its own candidacy, and it may campaign on its timer only an election
    /// timeout after granting a vote.
    pub(super) fn check_role_change(
        &mut self,
        before: Option<(Role, Term)>,
        st: &Status,
    ) -> Result<(), Violation> {
        let node = &mut self.nodes[st.id as usize - 1];
        if st.role == Role::Leader {
            node.rules.leader_since = node.rules.ticks;
            node.rules.heard.clear();
        }
        let Some((_, term_before)) = before else {
            return Ok(());
        };
        let delivering = self.delivering;
        if st.term > term_before {
            let carried = delivering.is_some_and(|d| d.term == st.term);
            // A single voter wins its own election in the same step.
            let candidacy = matches!(st.role, Role::Candidate | Role::Leader)
                && st.vote == Some(st.id)
                && st.term == term_before + 1;
            if !carried && !candidacy {
                let why = format!(
                    "went from term {term_before} to {} as {:?} (vote {:?}) with no message of \
                     that term",
                    st.term, st.role, st.vote
                );
                return Err(Violation::TermRule { node: st.id, why });
            }
        }
        let campaigning = matches!(st.role, Role::PreCandidate | Role::Candidate);
        // Campaigns a message starts (a transfer, a pre-vote won) are not the timer's.
        let on_timer = delivering.is_none();
        let min = u64::from(self.cfg.core.election_timeout_ticks_min);
        if let (true, true, Some(granted)) = (campaigning, on_timer, node.rules.granted_at) {
            let since = node.rules.ticks - granted;
            if since < min {
                let why = format!(
                    "campaigned {since} ticks after granting a vote (election timeout at least \
                     {min})"
                );
                return Err(Violation::ElectionTimer { node: st.id, why });
            }
        }
        Ok(())
    }

    /// After node `id` ticked: with CheckQuorum on, a leader that has not heard from a majority
    /// for over two minimum election timeouts should have stepped down (it checks once per
    /// timeout, on what it heard since the previous check).
    pub(super) fn check_quorum_rule(&mut self, id: NodeId) -> Result<(), Violation> {
        if !self.cfg.core.check_quorum || self.cfg.changes_membership() {
            return Ok(());
        }
        let node = &self.nodes[id as usize - 1];
        let Some(st) = node.status().filter(|s| s.role == Role::Leader) else {
            return Ok(());
        };
        let rules = &node.rules;
        let mut heard: Vec<u64> = self
            .cfg
            .ids()
            .into_iter()
            .map(|v| match v {
                v if v == id => rules.ticks,
                v => rules.heard.get(v as usize).copied().unwrap_or(0),
            })
            .map(|t| t.max(rules.leader_since))
            .collect();
        heard.sort_unstable_by(|a, b| b.cmp(a));
        let quorum_heard = heard[self.cfg.nodes / 2];
        let bound = 2 * u64::from(self.cfg.core.election_timeout_ticks_min);
        let silent = rules.ticks - quorum_heard;
        if silent > bound {
            let why = format!("heard from no majority for {silent} ticks (bound {bound})");
            return Err(Violation::CheckQuorum {
                leader: id,
                term: st.term,
                why,
            });
        }
        Ok(())
    }
}
