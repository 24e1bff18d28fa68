//! The `Replicator`: one node as an actix actor. It moves data between the Raft core, the log
//! writer, the cluster layer and the state machine — and does nothing else.
//!
//! Persistence order (see [`crate::raft::Output`]): messages that promise nothing leave at once;
//! the batch's hard state and entries go to the group-commit writer thread; only when the writer
//! reports the batch durable do its `messages_after_persist` leave and the core hear `persisted`.
//! Committed entries are applied in order and answer the proposer waiting on them.

pub mod admission;
mod drive;
pub mod etcd;
mod expiry;
mod handlers;
mod lane;
pub mod members;
mod membership_flow;
mod messages;
mod recover;
mod snapshot_flow;
mod snapshots;
mod state_file;
mod txlog_catchup;
mod waiters;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use rand::rngs::StdRng;
use thiserror::Error;
use tokio::sync::broadcast;

pub use messages::{
    Answer, ChangeMembership, ClientError, Consistency, GetFaults, GetMembers, GetMetrics,
    GetState, GetStatus, GetView, Member, MemberChange, NodeStatus, NodeView, PeerProgress,
    PeerTraffic, Propose, Read, SnapshotView, Stop, TransferLeadership,
};
pub use recover::restore_snapshot;
pub use state_file::state_file_path;
pub use txlog_catchup::TxlogLines;

use crate::cluster::{Cluster, ClusterError, ClusterHandle, Envelope, Limits, Outbox, PeerAuth};
use crate::config::{Config, ConfigError};
use crate::metrics::NodeMetrics;
use crate::raft::{self, Message, NodeId, Raft, Role, Term};
use crate::state::{StateMachine, TxLog, TxLogError};
use crate::storage::{FileStore, GroupCommit, StorageError};
use waiters::Waiters;

/// Actor mailbox bound: requests queued before senders must wait.
const MAILBOX_CAPACITY: usize = 4096;

/// Exit code of a node stopped by a storage failure (disk full, fsync error, corrupt log).
pub const EXIT_STORAGE_FAILURE: i32 = 3;

/// Why a replicator could not be built.
#[derive(Debug, Error)]
pub enum NodeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("raft: {0}")]
    Raft(#[from] raft::ConfigError),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("transaction log: {0}")]
    TxLog(#[from] TxLogError),
    #[error("cluster: {0}")]
    Cluster(#[from] ClusterError),
    #[error("state machine: {0}")]
    State(String),
}

/// One raftkv node.
pub struct Replicator {
    id: NodeId,
    config: Arc<Config>,
    raft: Raft,
    state: StateMachine,
    txlog: TxLog,
    /// The store until `started` moves it into the writer thread.
    store: Option<FileStore>,
    writer: Option<GroupCommit<FileStore>>,
    cluster: ClusterHandle<Message>,
    outbox: Outbox<Message>,
    /// Peer messages, the writer's reports and the tick clock, handled before client work.
    lane: lane::Lane,
    /// A copy of every inbound envelope for observers (tests); costs nothing without subscribers.
    inbox_tap: broadcast::Sender<Envelope<Message>>,
    /// Numbers the writer's batches and holds the promises that wait on them.
    sequencer: raft::Sequencer,
    /// The cluster secrets, for the member credential this node fetches lines with.
    peer_keys: crate::cluster::seal::PeerKeys,
    next_msg_id: u64,
    next_read_id: u64,
    waiters: Waiters,
    drive_scheduled: bool,
    /// Counted and timed here, in the writer and in the API; see [`crate::metrics`].
    metrics: NodeMetrics,
    last_seen: (Role, Term, Option<NodeId>),
    /// The index of this leader's last purge proposal, until it is applied.
    purge_index: Option<raft::Index>,
    /// Whoever sent [`Stop`], told once `stopped` has released every resource.
    stop_waiters: Vec<tokio::sync::oneshot::Sender<()>>,
    /// The state-machine file's progress.
    state_file: state_file::StateFile,
    /// Committed entries not yet applied, in order: applied a chunk per actor turn.
    to_apply: VecDeque<raft::Entry>,
    /// An [`drive::ApplyMore`] is queued.
    apply_scheduled: bool,
    /// Snapshot files held, being written, received or sent.
    snapshots: snapshots::Snapshots,
    /// The stored log's prefix as last asked of the writer.
    store_prefix: raft::Index,
    /// A received snapshot waiting for its transaction-log lines; nothing is applied meanwhile.
    pending_install: Option<txlog_catchup::PendingInstall>,
    /// What the cluster layer's peers were last derived from: the configuration in effect, the
    /// last committed one and the leader (`membership_flow::peer_socket_addrs`).
    last_membership: raft::MembershipEntry,
    last_committed_membership: raft::MembershipEntry,
    last_peer_leader: Option<NodeId>,
    /// Its members' addresses, for the doors.
    directory: members::Directory,
    /// The applied revision and term, for the gRPC layer.
    etcd: etcd::EtcdPublisher,
    /// The leader's lease deadlines and compaction in flight.
    leases: etcd::LeaseClock,
}

impl Replicator {
    /// Builds node `id` from the TOML config at `config_path`: opens (or creates) its data
    /// directory and transaction log, recovers the Raft log, and binds its raft address.
    pub fn new(id: NodeId, config_path: impl AsRef<Path>) -> Result<Self, NodeError> {
        let config = Config::load(config_path)?;
        Self::with_config(id, Arc::new(config))
    }

    /// Like [`Replicator::new`] with an already loaded config.
    pub fn with_config(id: NodeId, config: Arc<Config>) -> Result<Self, NodeError> {
        Self::build(id, config, false)
    }

    /// Like [`Replicator::with_config`] for a node that was not in the initial cluster
    /// (`raftkv node --join`): with a new data directory it starts in no configuration, never
    /// campaigns, and waits for a leader that added it (`raftkv member add`) to send it the
    /// log. A data directory that already holds a cluster's data starts as usual.
    pub fn join(id: NodeId, config: Arc<Config>) -> Result<Self, NodeError> {
        Self::build(id, config, true)
    }

    fn build(id: NodeId, config: Arc<Config>, join: bool) -> Result<Self, NodeError> {
        config.node(id)?;
        let recover::Recovered {
            store,
            snapshots,
            state,
            restored,
            store_prefix,
        } = recover::recover(&config, id, join)?;
        let sequencer = raft::Sequencer::new(restored.hard_state, 0);
        let applied = restored.applied;
        let mut raft = Raft::new(
            config.raft_core_config(id)?,
            restored,
            Box::new(rand::make_rng::<StdRng>()),
        )?;
        // Only the trailing window behind the snapshot stays in memory.
        let keep_from = applied.saturating_sub(config.cluster().snapshot_trailing_entries);
        if keep_from > raft.log().prev_index() {
            raft.compact(keep_from);
        }
        // Two writers of one transaction log would interleave lines: the file has its own lock,
        // for configs that give node `id` different data dirs but one log dir.
        let mut txlog =
            TxLog::open_with_options(&config.cluster().log_dir, id, config.cluster().txlog)?;
        // A file left from another history (the data directory was emptied, logs/ was not) is
        // moved aside; one that ends before the snapshot gets a marker and goes on after it.
        // The log answers for its prefix too (`RaftLog::term` of `prev_index`).
        let first_known = raft.log().prev_index().max(1);
        txlog.check_consistent(first_known, |i| raft.log().term(i))?;
        if txlog.last_index() < applied {
            let term = raft
                .log()
                .term(applied)
                .expect("the log holds its applied index");
            txlog.mark_snapshot(applied, term);
            txlog.flush()?;
        }
        let auth = PeerAuth {
            keys: config.peer_keys()?,
            epoch: crate::storage::next_peer_epoch(&config.data_dir_for(id)).map_err(
                StorageError::io("record the peer epoch", &config.data_dir_for(id)),
            )?,
        };
        let peer_keys = auth.keys.clone();
        let mut cluster = Cluster::start(
            id,
            &membership_flow::peer_socket_addrs(id, &raft, &config),
            Limits::default(),
            auth,
        )?;
        let metrics = NodeMetrics::new(id, cluster.counters());
        let last_membership = raft.membership_entry().clone();
        let state_file = state_file::StateFile::start(&config.cluster().log_dir, id)
            .map_err(|e| NodeError::State(format!("cannot start the state-file writer: {e}")))?;
        let outbox = cluster.outbox();
        let lane = lane::Lane::new(cluster.take_inbox());
        let (inbox_tap, _) = broadcast::channel(1024);
        let status = raft.status();
        log::info!(
            "node {id}: recovered term {} with log through {} (commit hint {}), transaction log through {}",
            status.term,
            status.last_index,
            status.commit_index,
            txlog.last_index()
        );
        let etcd = etcd::EtcdPublisher::new(&state, status.term);
        Ok(Replicator {
            id,
            last_seen: (status.role, status.term, status.leader),
            config,
            raft,
            state,
            txlog,
            store: Some(store),
            writer: None,
            cluster,
            outbox,
            lane,
            inbox_tap,
            sequencer,
            peer_keys,
            next_msg_id: 0,
            next_read_id: 0,
            waiters: Waiters::default(),
            drive_scheduled: false,
            metrics,
            purge_index: None,
            stop_waiters: Vec::new(),
            state_file,
            to_apply: VecDeque::new(),
            apply_scheduled: false,
            snapshots,
            store_prefix,
            pending_install: None,
            directory: members::Directory::default(),
            last_committed_membership: last_membership.clone(),
            last_membership,
            last_peer_leader: None,
            etcd,
            leases: etcd::LeaseClock::default(),
        })
        .inspect(|r| r.directory.set(r.member_addrs()))
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The outbox: envelopes put here go to the peer named by `pid` (or every peer for the broadcast
    /// id) over ZeroMQ.
    pub fn outbox(&self) -> Outbox<Message> {
        self.outbox.clone()
    }

    /// The members' addresses as this node knows them, kept current while it runs.
    pub fn directory(&self) -> members::Directory {
        self.directory.clone()
    }

    /// The node's metrics, for the HTTP API (`/metrics` and the request middleware).
    pub fn metrics(&self) -> NodeMetrics {
        self.metrics.clone()
    }

    /// A subscription to the inbox: every envelope this node receives from now on, with `pid` set to
    /// the sender.
    pub fn inbox(&self) -> broadcast::Receiver<Envelope<Message>> {
        self.inbox_tap.subscribe()
    }
}

impl Actor for Replicator {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Client requests beyond this wait in their senders (back-pressure on HTTP handlers).
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        let store = self.store.take().expect("a replicator is started once");
        let fsync_duration = self.metrics.wal_fsync_duration.clone();
        let observe_fsync = move |took: std::time::Duration| {
            fsync_duration.observe(took.as_secs_f64());
        };
        let reports = self.lane.report_sender();
        // The actor may be gone while the writer flushes its last batches: nobody waits then.
        let on_report = move |report| {
            let _ = reports.send(report);
        };
        match GroupCommit::spawn_timed(store, Default::default(), observe_fsync, on_report) {
            Ok(writer) => self.writer = Some(writer),
            Err(e) => {
                drive::fatal(ctx, &format!("cannot start the log writer: {e}"));
                return;
            }
        }
        ctx.spawn(lane::Pump::new(self.lane.first_tick(self.config.tick())));
        let sweep = self.config.tick() * 10;
        ctx.run_interval(sweep, |act, _| {
            let expired = act.waiters.expire(Instant::now());
            act.metrics.proposals_failed.inc_by(expired as u64);
        });
        ctx.run_interval(expiry::PURGE_CHECK_INTERVAL, |act, ctx| {
            act.maybe_purge(ctx);
            act.etcd_duties(ctx);
        });
        ctx.run_interval(state_file::STATE_FILE_INTERVAL, |act, _| {
            act.write_state_file()
        });
        log::info!("node {}: started", self.id);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.waiters.fail_all(ClientError::Stopping);
        self.cluster.shutdown();
        // Dropping the writer flushes what it holds and joins its thread.
        self.writer = None;
        self.write_state_file_now();
        log::info!("node {}: stopped", self.id);
        for waiter in self.stop_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }
}
