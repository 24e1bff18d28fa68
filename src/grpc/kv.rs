//! The KV service: Range, Put, DeleteRange, Txn and Compact. Writes go through the log on the
//! leader; a follower forwards them there itself, so a client never sees a redirect. A range is
//! linearizable (ReadIndex, served by whichever node was asked) unless `serializable`, which reads
//! this node's applied state.

use std::future::Future;

use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use super::context::{EtcdAnswer, EtcdContext};
use super::convert;
use super::pb::etcdserverpb::kv_client::KvClient;
use super::pb::etcdserverpb::kv_server::Kv;
use super::pb::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, TxnRequest, TxnResponse,
};
use crate::raft::NodeId;
use crate::replicator::Consistency;
use crate::state::mvcc::{EtcdCommand, EtcdOutcome};

/// etcd's KV service on this node.
pub struct KvService(pub EtcdContext);

impl KvService {
    /// Forwards a call to the leader.
    async fn to_leader<T, R, F, Fut>(
        &self,
        leader: NodeId,
        request: &Request<T>,
        call: F,
    ) -> Result<Response<R>, Status>
    where
        T: Clone,
        F: FnOnce(KvClient<Channel>, Request<T>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        let channel = self.0.leader_channel(leader, request)?;
        call(KvClient::new(channel), EtcdContext::forwarded(request)).await
    }

    /// Runs `command`; its outcome and revision, or the leader to forward to.
    async fn run<T>(
        &self,
        request: &Request<T>,
        command: EtcdCommand,
        consistency: Option<Consistency>,
    ) -> Result<Result<(u64, EtcdOutcome), NodeId>, Status> {
        match self
            .0
            .etcd(request.metadata(), command, consistency)
            .await?
        {
            EtcdAnswer::Done(result) => EtcdAnswer::outcome(result).map(Ok),
            EtcdAnswer::NotLeader(leader) => Ok(Err(leader)),
        }
    }
}

fn unexpected(outcome: EtcdOutcome) -> Status {
    Status::internal(format!("unexpected outcome: {outcome:?}"))
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(
        &self,
        request: Request<RangeRequest>,
    ) -> Result<Response<RangeResponse>, Status> {
        let consistency = if request.get_ref().serializable {
            Consistency::Local
        } else {
            Consistency::Linearizable
        };
        let command = EtcdCommand::Range(convert::range_request(request.get_ref().clone())?);
        match self.run(&request, command, Some(consistency)).await? {
            Ok((revision, EtcdOutcome::Range(r))) => Ok(Response::new(convert::range_response(
                r,
                self.0.header(revision),
            ))),
            Ok((_, other)) => Err(unexpected(other)),
            Err(leader) => {
                self.to_leader(leader, &request, |mut c, r| async move { c.range(r).await })
                    .await
            }
        }
    }

    async fn put(&self, request: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let command = EtcdCommand::Put(convert::put_request(request.get_ref().clone())?);
        match self.run(&request, command, None).await? {
            Ok((revision, EtcdOutcome::Put(r))) => Ok(Response::new(convert::put_response(
                r,
                self.0.header(revision),
            ))),
            Ok((_, other)) => Err(unexpected(other)),
            Err(leader) => {
                self.to_leader(leader, &request, |mut c, r| async move { c.put(r).await })
                    .await
            }
        }
    }

    async fn delete_range(
        &self,
        request: Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        let command = EtcdCommand::DeleteRange(convert::delete_request(request.get_ref().clone())?);
        match self.run(&request, command, None).await? {
            Ok((revision, EtcdOutcome::DeleteRange(r))) => Ok(Response::new(
                convert::delete_response(r, self.0.header(revision)),
            )),
            Ok((_, other)) => Err(unexpected(other)),
            Err(leader) => {
                self.to_leader(leader, &request, |mut c, r| async move {
                    c.delete_range(r).await
                })
                .await
            }
        }
    }

    async fn txn(&self, request: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        let txn = convert::txn_request(request.get_ref().clone())?;
        let limit = self.0.config.cluster().max_txn_ops;
        if txn.compare.len() > limit || txn.success.len() > limit || txn.failure.len() > limit {
            return Err(Status::invalid_argument(
                "etcdserver: too many operations in txn request",
            ));
        }
        // A transaction that writes nothing is a read: served through ReadIndex, not the log.
        let consistency = txn.is_read_only().then_some(Consistency::Linearizable);
        match self
            .run(&request, EtcdCommand::Txn(txn), consistency)
            .await?
        {
            Ok((revision, EtcdOutcome::Txn(r))) => Ok(Response::new(convert::txn_response(
                r,
                self.0.header(revision),
            ))),
            Ok((_, other)) => Err(unexpected(other)),
            Err(leader) => {
                self.to_leader(leader, &request, |mut c, r| async move { c.txn(r).await })
                    .await
            }
        }
    }

    async fn compact(
        &self,
        request: Request<CompactionRequest>,
    ) -> Result<Response<CompactionResponse>, Status> {
        let command = EtcdCommand::Compact {
            revision: request.get_ref().revision,
        };
        match self.run(&request, command, None).await? {
            Ok((revision, _)) => Ok(Response::new(CompactionResponse {
                header: self.0.header(revision),
            })),
            Err(leader) => {
                self.to_leader(
                    leader,
                    &request,
                    |mut c, r| async move { c.compact(r).await },
                )
                .await
            }
        }
    }
}
