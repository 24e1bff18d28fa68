//! What every etcd service shares: the node's replicator, its identity for response headers, the
//! translation of raftkv's errors into etcd's gRPC statuses, and the channel to the leader that a
//! follower forwards leader-only calls on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Addr;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use super::pb::etcdserverpb::ResponseHeader;
use crate::config::Config;
use crate::raft::NodeId;
use crate::replicator::admission::Admission;
use crate::replicator::etcd::EtcdFeed;
use crate::replicator::members::Directory;
use crate::replicator::{Answer, ClientError, Consistency, Propose, Read, Replicator};
use crate::state::mvcc::{EtcdCommand, EtcdError, EtcdOutcome, EtcdResult};
use crate::state::{ApplyResult, Command, Request as StateRequest};

/// The metadata key a follower sets on a call it forwards, so that the leader it reached, if it
/// has lost leadership meanwhile, answers "no leader" instead of forwarding again.
pub(super) const FORWARDED: &str = "raftkv-forwarded";

/// The node's side of every etcd call.
#[derive(Clone)]
pub struct EtcdContext {
    pub(super) replicator: Addr<Replicator>,
    pub(super) config: Arc<Config>,
    pub(super) id: NodeId,
    pub(super) cluster_id: u64,
    pub(super) feed: EtcdFeed,
    pub(super) directory: Directory,
    pub(super) admission: Admission,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

impl EtcdContext {
    /// The context of node `id`.
    pub fn new(
        replicator: Addr<Replicator>,
        config: Arc<Config>,
        id: NodeId,
        feed: EtcdFeed,
        directory: Directory,
        admission: Admission,
    ) -> Self {
        let cluster_id = u64::from_be_bytes(crate::cluster::seal::cluster_id(
            &config.cluster().cluster_token,
        ));
        EtcdContext {
            replicator,
            config,
            id,
            cluster_id,
            feed,
            directory,
            admission,
            channels: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A response header at `revision`.
    pub(super) fn header(&self, revision: u64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            cluster_id: self.cluster_id,
            member_id: self.id,
            revision: revision as i64,
            raft_term: self.feed.term(),
        })
    }

    /// A response header at the revision this node has applied.
    pub(super) fn current_header(&self) -> Option<ResponseHeader> {
        self.header(*self.feed.revision.borrow())
    }

    /// Runs an etcd command through the log (or, for a read, as `consistency` says), with this
    /// node's admission bound.
    pub(super) async fn etcd(
        &self,
        command: EtcdCommand,
        consistency: Option<Consistency>,
    ) -> Result<EtcdAnswer, Status> {
        let Some(_ticket) = self.admission.try_admit() else {
            return Err(client_status(ClientError::Busy));
        };
        let command = Command::Etcd(command);
        let sent = match consistency {
            Some(consistency) => {
                self.replicator
                    .send(Read {
                        command,
                        consistency,
                    })
                    .await
            }
            None => {
                self.replicator
                    .send(Propose(StateRequest::new(command)))
                    .await
            }
        };
        let answer = sent.map_err(|_| client_status(ClientError::Stopping))?;
        match answer {
            Ok(Answer {
                result: ApplyResult::Etcd(result),
                ..
            }) => Ok(EtcdAnswer::Done(result)),
            Ok(Answer { result, .. }) => Err(Status::internal(format!(
                "unexpected result of an etcd command: {result:?}"
            ))),
            Err(ClientError::NotLeader {
                leader: Some(leader),
            }) => Ok(EtcdAnswer::NotLeader(leader)),
            Err(e) => Err(client_status(e)),
        }
    }

    /// A channel to member `leader`'s gRPC address, for `request` this follower forwards; refused
    /// if the call was already forwarded once.
    pub(super) fn leader_channel<T>(
        &self,
        leader: NodeId,
        request: &Request<T>,
    ) -> Result<Channel, Status> {
        if request.metadata().contains_key(FORWARDED) {
            return Err(client_status(ClientError::NoLeader));
        }
        self.channel_to(leader)
    }

    /// A channel to member `leader`'s gRPC address (one per address, kept).
    pub(super) fn channel_to(&self, leader: NodeId) -> Result<Channel, Status> {
        let Some(addr) = self.directory.get(leader).and_then(|m| m.grpc) else {
            return Err(Status::unavailable(format!(
                "etcdserver: the leader (node {leader}) serves no gRPC address"
            )));
        };
        let mut channels = self
            .channels
            .lock()
            .expect("the channel cache is never poisoned");
        if let Some(channel) = channels.get(&addr) {
            return Ok(channel.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| Status::internal(format!("bad leader address {addr}: {e}")))?
            .connect_timeout(Duration::from_millis(
                self.config.cluster().request_timeout_ms,
            ))
            .timeout(Duration::from_millis(self.config.cluster().request_timeout_ms) * 2);
        let channel = endpoint.connect_lazy();
        channels.insert(addr, channel.clone());
        Ok(channel)
    }

    /// `request`'s message in a new request marked as forwarded, to send to the leader.
    pub(super) fn forwarded<T: Clone>(request: &Request<T>) -> Request<T> {
        let mut forwarded = Request::new(request.get_ref().clone());
        mark_forwarded(&mut forwarded);
        forwarded
    }
}

/// Marks a request this follower sends to the leader, so that it takes one hop at most.
pub(super) fn mark_forwarded<T>(request: &mut Request<T>) {
    request
        .metadata_mut()
        .insert(FORWARDED, tonic::metadata::MetadataValue::from_static("1"));
}

/// An etcd command's fate on this node.
pub(super) enum EtcdAnswer {
    /// Applied (or read) here.
    Done(EtcdResult),
    /// Only the leader, this one, can do it.
    NotLeader(NodeId),
}

impl EtcdAnswer {
    /// The outcome, or the status a failed one answers with.
    pub(super) fn outcome(result: EtcdResult) -> Result<(u64, EtcdOutcome), Status> {
        let revision = result.revision;
        result.outcome.map(|o| (revision, o)).map_err(etcd_status)
    }
}

/// etcd's status for each of its errors: the codes and texts its clients recognise.
pub(super) fn etcd_status(e: EtcdError) -> Status {
    let code = match e {
        EtcdError::Compacted | EtcdError::FutureRevision | EtcdError::LeaseTtlTooLarge => {
            Code::OutOfRange
        }
        EtcdError::LeaseNotFound => Code::NotFound,
        EtcdError::LeaseExists => Code::FailedPrecondition,
        EtcdError::LeaseProvided
        | EtcdError::KeyNotFound
        | EtcdError::EmptyKey
        | EtcdError::DuplicateKey => Code::InvalidArgument,
    };
    Status::new(code, e.to_string())
}

/// The status etcd answers in the same situation as each of raftkv's client errors.
pub(super) fn client_status(e: ClientError) -> Status {
    match e {
        ClientError::NotLeader { .. } | ClientError::NoLeader => {
            Status::unavailable("etcdserver: no leader")
        }
        ClientError::Timeout => Status::unavailable("etcdserver: request timed out"),
        ClientError::Dropped => Status::unavailable("etcdserver: leader changed"),
        ClientError::Busy => Status::resource_exhausted("etcdserver: too many requests"),
        ClientError::Stopping => Status::unavailable("etcdserver: server stopped"),
        ClientError::Retry(why) => Status::unavailable(format!("etcdserver: {why}; retry")),
        ClientError::Invalid(why) => Status::failed_precondition(format!("etcdserver: {why}")),
    }
}

/// A key must be UTF-8 here (raftkv's keys are strings, shared with its HTTP and text APIs).
pub(super) fn key_string(key: Vec<u8>, what: &str) -> Result<String, Status> {
    String::from_utf8(key).map_err(|_| {
        Status::invalid_argument(format!(
            "etcdserver: raftkv keys are UTF-8 text; this {what} is not"
        ))
    })
}
