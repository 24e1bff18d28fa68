//! Counters of what a run did, summed over seeds for the report.

use std::fmt;

/// What happened in one run (or many, merged).
#[derive(Clone, Debug)]
pub struct Stats {
    pub runs: u64,
    pub steps: u64,
    pub ticks: u64,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub messages_lost: u64,
    pub messages_duplicated: u64,
    /// Dropped because the link was cut when they arrived.
    pub messages_cut: u64,
    /// Dropped because the receiver was down.
    pub messages_to_down_nodes: u64,
    /// Election messages sent: PreVote, Vote and their responses.
    pub election_messages: u64,
    /// Rejected `Append`s (`AppendResponse { success: false }`) sent.
    pub append_rejections: u64,
    /// Entries carried by the `Append`s sent, every copy to every follower counted.
    pub entries_sent: u64,
    /// Entry copies a lossless, in-order network would need: entries committed times the
    /// followers (pool size − 1). `entries_sent` over this is the resend factor.
    pub entry_copies_needed: u64,
    pub syncs: u64,
    pub crashes: u64,
    pub unsynced_batches_lost: u64,
    pub restarts: u64,
    /// Crashes that tore a batch: a prefix of its records survived.
    pub torn_batches: u64,
    /// Syncs that failed (the node stopped and restarted).
    pub sync_failures: u64,
    /// Stop-the-world pauses of a node's process.
    pub pauses: u64,
    /// Changes of a node's tick rate.
    pub clock_changes: u64,
    pub partitions: u64,
    pub heals: u64,
    pub elections: u64,
    /// Entries committed (the highest commit index reached, summed over runs).
    pub commits: u64,
    pub proposals: u64,
    pub reads_issued: u64,
    pub reads_answered: u64,
    pub transfers: u64,
    /// Membership changes the operator (or a script) got appended.
    pub changes: u64,
    /// Changes the core refused for now (`InProgress`, `NotReady`, not the leader, a transfer
    /// under way), which the operator retries.
    pub changes_refused: u64,
    /// Changes the core refused as invalid (several voters at once).
    pub changes_invalid: u64,
    /// Operations the operator gave up after its attempts.
    pub changes_abandoned: u64,
    /// Snapshots of a node's own state made durable (each followed by a compaction).
    pub snapshots_taken: u64,
    /// Compactions that dropped entries from a core's log.
    pub compactions: u64,
    /// Snapshot writes (taken or received) lost to a crash before they were durable.
    pub snapshot_writes_lost: u64,
    /// `Snapshot` chunks sent by leaders.
    pub snapshot_chunks_sent: u64,
    /// Transfers a follower started receiving (offset 0 of a snapshot it did not hold).
    pub snapshot_transfers: u64,
    /// Transfers abandoned unfinished: the partial file lost to a crash or replaced by another snapshot.
    pub snapshot_transfers_interrupted: u64,
    /// Snapshots received whole.
    pub snapshots_received: u64,
    /// Received snapshots installed by the core.
    pub snapshots_installed: u64,
    /// Received snapshots the core refused (nothing new by the time they were durable).
    pub snapshots_refused: u64,
    /// Liveness phases: the most ticks one took to commit everywhere after the faults stopped.
    pub liveness_ticks_max: u64,
    /// Liveness phases: the smallest margin left under the bound (`u64::MAX` if none ran).
    pub liveness_margin_ticks_min: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            runs: 0,
            steps: 0,
            ticks: 0,
            messages_sent: 0,
            messages_delivered: 0,
            messages_lost: 0,
            messages_duplicated: 0,
            messages_cut: 0,
            messages_to_down_nodes: 0,
            election_messages: 0,
            append_rejections: 0,
            entries_sent: 0,
            entry_copies_needed: 0,
            syncs: 0,
            crashes: 0,
            unsynced_batches_lost: 0,
            restarts: 0,
            torn_batches: 0,
            sync_failures: 0,
            pauses: 0,
            clock_changes: 0,
            partitions: 0,
            heals: 0,
            elections: 0,
            commits: 0,
            proposals: 0,
            reads_issued: 0,
            reads_answered: 0,
            transfers: 0,
            changes: 0,
            changes_refused: 0,
            changes_invalid: 0,
            changes_abandoned: 0,
            snapshots_taken: 0,
            compactions: 0,
            snapshot_writes_lost: 0,
            snapshot_chunks_sent: 0,
            snapshot_transfers: 0,
            snapshot_transfers_interrupted: 0,
            snapshots_received: 0,
            snapshots_installed: 0,
            snapshots_refused: 0,
            liveness_ticks_max: 0,
            liveness_margin_ticks_min: u64::MAX,
        }
    }
}

impl Stats {
    /// Adds another run's counters.
    pub fn merge(&mut self, o: &Stats) {
        self.runs += o.runs;
        self.steps += o.steps;
        self.ticks += o.ticks;
        self.messages_sent += o.messages_sent;
        self.messages_delivered += o.messages_delivered;
        self.messages_lost += o.messages_lost;
        self.messages_duplicated += o.messages_duplicated;
        self.messages_cut += o.messages_cut;
        self.messages_to_down_nodes += o.messages_to_down_nodes;
        self.election_messages += o.election_messages;
        self.append_rejections += o.append_rejections;
        self.entries_sent += o.entries_sent;
        self.entry_copies_needed += o.entry_copies_needed;
        self.syncs += o.syncs;
        self.crashes += o.crashes;
        self.unsynced_batches_lost += o.unsynced_batches_lost;
        self.restarts += o.restarts;
        self.torn_batches += o.torn_batches;
        self.sync_failures += o.sync_failures;
        self.pauses += o.pauses;
        self.clock_changes += o.clock_changes;
        self.partitions += o.partitions;
        self.heals += o.heals;
        self.elections += o.elections;
        self.commits += o.commits;
        self.proposals += o.proposals;
        self.reads_issued += o.reads_issued;
        self.reads_answered += o.reads_answered;
        self.transfers += o.transfers;
        self.changes += o.changes;
        self.changes_refused += o.changes_refused;
        self.changes_invalid += o.changes_invalid;
        self.changes_abandoned += o.changes_abandoned;
        self.snapshots_taken += o.snapshots_taken;
        self.compactions += o.compactions;
        self.snapshot_writes_lost += o.snapshot_writes_lost;
        self.snapshot_chunks_sent += o.snapshot_chunks_sent;
        self.snapshot_transfers += o.snapshot_transfers;
        self.snapshot_transfers_interrupted += o.snapshot_transfers_interrupted;
        self.snapshots_received += o.snapshots_received;
        self.snapshots_installed += o.snapshots_installed;
        self.snapshots_refused += o.snapshots_refused;
        self.liveness_ticks_max = self.liveness_ticks_max.max(o.liveness_ticks_max);
        self.liveness_margin_ticks_min = self
            .liveness_margin_ticks_min
            .min(o.liveness_margin_ticks_min);
    }
}

impl Stats {
    /// Entries sent per entry copy needed: 1.0 is perfect, each resend or wasted copy adds to it.
    pub fn resend_factor(&self) -> f64 {
        self.entries_sent as f64 / self.entry_copies_needed.max(1) as f64
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "runs {} | steps {} | ticks {}",
            self.runs, self.steps, self.ticks
        )?;
        writeln!(
            f,
            "messages: sent {} delivered {} lost {} duplicated {} cut {} to-down-nodes {} \
             election {} append-rejections {}\nentries: sent {} needed {} (committed × followers) \
             resend factor {:.2}",
            self.messages_sent,
            self.messages_delivered,
            self.messages_lost,
            self.messages_duplicated,
            self.messages_cut,
            self.messages_to_down_nodes,
            self.election_messages,
            self.append_rejections,
            self.entries_sent,
            self.entry_copies_needed,
            self.resend_factor()
        )?;
        writeln!(
            f,
            "faults: crashes {} (unsynced batches lost {}, torn {}) restarts {} sync failures {} \
             pauses {} clock changes {} partitions {} heals {} | syncs {}",
            self.crashes,
            self.unsynced_batches_lost,
            self.torn_batches,
            self.restarts,
            self.sync_failures,
            self.pauses,
            self.clock_changes,
            self.partitions,
            self.heals,
            self.syncs
        )?;
        writeln!(
            f,
            "raft: elections {} commits {} proposals {} reads issued {} answered {} transfers {} | \
             liveness worst {} ticks, smallest margin under the bound {} ticks",
            self.elections,
            self.commits,
            self.proposals,
            self.reads_issued,
            self.reads_answered,
            self.transfers,
            self.liveness_ticks_max,
            self.liveness_margin_ticks_min
        )?;
        writeln!(
            f,
            "membership: changes {} refused for now {} invalid {} abandoned {}",
            self.changes, self.changes_refused, self.changes_invalid, self.changes_abandoned
        )?;
        write!(
            f,
            "snapshots: taken {} (compactions {}) writes lost to crashes {} | chunks sent {} \
             transfers started {} interrupted {} received whole {} installed {} refused {}",
            self.snapshots_taken,
            self.compactions,
            self.snapshot_writes_lost,
            self.snapshot_chunks_sent,
            self.snapshot_transfers,
            self.snapshot_transfers_interrupted,
            self.snapshots_received,
            self.snapshots_installed,
            self.snapshots_refused
        )
    }
}
