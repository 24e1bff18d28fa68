//! The bridge thread's side of a peer-set change: it starts and stops the per-peer link tasks
//! ([`PeerLink`]) when the handle asks, and keeps each peer's sealing session across them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::bridge::PeerAuth;
use super::counters::Counters;
use super::limits::Limits;
use super::outbound::PeerLink;
use super::seal::{PeerKeys, Sealer};
use crate::config::Address;
use crate::raft::NodeId;

/// What the handle asks of the bridge thread. Sent in the order the handle changed its queues,
/// so the last command about a peer is the one in effect.
pub(super) enum LinkCommand {
    /// Start a link to `peer` at `addr` draining `queue`, replacing any link it has.
    Start {
        peer: NodeId,
        addr: Address,
        queue: mpsc::Receiver<Bytes>,
    },
    /// Stop the link to `peer`; its queue is already gone from the outbox.
    Stop { peer: NodeId },
}

/// The running links, and what a new one needs.
pub(super) struct Links {
    my_id: NodeId,
    limits: Limits,
    counters: Counters,
    /// The bridge's private directory, where relay sockets live.
    dir: PathBuf,
    keys: PeerKeys,
    /// This bridge's session number and salt: every sealer of this bridge uses them.
    epoch: u64,
    salt: u64,
    /// One session per peer ever linked, kept when its link stops: a peer removed and added
    /// again, or moved to another address, must see our counters keep rising (its replay
    /// marks last as long as its process), and a new session with the same epoch would not.
    /// Grows by one entry per distinct id, which membership changes bound in practice.
    sealers: BTreeMap<NodeId, Arc<Mutex<Sealer>>>,
    /// The task of each current peer's link.
    tasks: BTreeMap<NodeId, JoinHandle<()>>,
    /// Links started so far; numbers the next one.
    started: u64,
}

impl Links {
    /// No links yet; `salt` is the bridge's, random per start.
    pub(super) fn new(
        my_id: NodeId,
        limits: &Limits,
        counters: &Counters,
        dir: &Path,
        auth: &PeerAuth,
        salt: u64,
    ) -> Links {
        Links {
            my_id,
            limits: limits.clone(),
            counters: counters.clone(),
            dir: dir.to_path_buf(),
            keys: auth.keys.clone(),
            epoch: auth.epoch,
            salt,
            sealers: BTreeMap::new(),
            tasks: BTreeMap::new(),
            started: 0,
        }
    }

    /// Follows the handle's commands until it is dropped or the runtime shuts down (which
    /// cancels every link with it).
    pub(super) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<LinkCommand>) {
        while let Some(command) = commands.recv().await {
            match command {
                LinkCommand::Start { peer, addr, queue } => self.start(peer, addr, queue),
                LinkCommand::Stop { peer } => self.stop(peer),
            }
        }
    }

    fn start(&mut self, peer: NodeId, addr: Address, queue: mpsc::Receiver<Bytes>) {
        self.stop(peer);
        let (keys, my_id, epoch, salt) = (&self.keys, self.my_id, self.epoch, self.salt);
        let sealer = self
            .sealers
            .entry(peer)
            .or_insert_with(|| Arc::new(Mutex::new(Sealer::new(keys, my_id, peer, epoch, salt))));
        self.started += 1;
        let link = PeerLink {
            my_id,
            peer,
            addr,
            queue,
            limits: self.limits.clone(),
            counters: self.counters.clone(),
            dir: self.dir.clone(),
            sealer: Arc::clone(sealer),
            generation: self.started,
            attempts: 0,
        };
        self.tasks.insert(peer, tokio::spawn(link.run()));
    }

    fn stop(&mut self, peer: NodeId) {
        // Aborting drops the link's socket and relay, which closes its connection; the queue
        // it drained is already out of the outbox, so what was left in it is lost.
        if let Some(task) = self.tasks.remove(&peer) {
            task.abort();
        }
    }
}
