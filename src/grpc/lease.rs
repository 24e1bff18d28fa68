//! The Lease service. Grants and revokes go through the log; keep-alives and time-to-live are the
//! leader's (it keeps the deadlines, see `crate::replicator::etcd`), so a follower forwards them.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::context::{auth_status, client_status, EtcdAnswer, EtcdContext};
use super::pb::etcdserverpb::lease_client::LeaseClient;
use super::pb::etcdserverpb::lease_server::Lease;
use super::pb::etcdserverpb::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    LeaseLeasesRequest, LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseStatus,
    LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};
use crate::replicator::etcd::{LeaseKeepAlive, LeaseTimeToLive};
use crate::replicator::{ClientError, Consistency};
use crate::state::mvcc::{DeleteRangeRequest, EtcdCommand, EtcdOutcome, KeyRange};
use crate::state::Command;

/// A stream of responses a service hands to tonic.
pub type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Keep-alive responses buffered per stream before the client must read them.
const KEEP_ALIVE_BUFFER: usize = 16;

/// etcd's Lease service on this node.
pub struct LeaseService(pub EtcdContext);

impl LeaseService {
    /// With auth on, a revoke deletes the lease's keys, so, as in etcd, the caller needs write
    /// permission on every one of them. Judged by the leader, against its applied state: a
    /// follower passes the revoke on and the leader judges it when it arrives. A key attached
    /// after the check is deleted with the others, as by a revoke that came a moment later.
    async fn authorize_revoke(
        &self,
        meta: &tonic::metadata::MetadataMap,
        id: i64,
    ) -> Result<(), Status> {
        if !self.0.auth.enabled() {
            return Ok(());
        }
        let caller = self.0.caller(meta)?;
        let held = self.0.replicator.send(LeaseTimeToLive(id)).await;
        let lease = match held.map_err(|_| client_status(ClientError::Stopping))? {
            Ok(Some(lease)) => lease,
            // An unknown lease: the revoke itself answers "lease not found".
            Ok(None) => return Ok(()),
            // Not the leader: the revoke is forwarded, and the leader judges it.
            Err(ClientError::NotLeader { .. }) => return Ok(()),
            Err(e) => return Err(client_status(e)),
        };
        for key in lease.keys {
            let delete = EtcdCommand::DeleteRange(DeleteRangeRequest {
                range: KeyRange {
                    key,
                    range_end: Default::default(),
                },
                prev_kv: false,
            });
            self.0
                .auth
                .authorize(&caller, &Command::Etcd(delete))
                .map_err(auth_status)?;
        }
        Ok(())
    }

    /// The shortest TTL granted: one and a half election timeouts, rounded up to whole seconds,
    /// so that a lease outlives the election that a leader's death causes (etcd's rule).
    fn min_ttl(&self) -> i64 {
        let ms = self.0.config.cluster().election_timeout_max_ms * 3 / 2;
        ms.div_ceil(1000).max(1) as i64
    }

    fn leader_client(
        &self,
        leader: crate::raft::NodeId,
        request: &Request<impl Sized>,
    ) -> Result<LeaseClient<tonic::transport::Channel>, Status> {
        Ok(LeaseClient::new(self.0.leader_channel(leader, request)?))
    }
}

/// Renews lease `id` through this node: asks the local replicator, or the leader it names.
async fn keep_alive_once(
    ctx: &EtcdContext,
    id: i64,
    forwarded: bool,
) -> Result<LeaseKeepAliveResponse, Status> {
    let answer = ctx
        .replicator
        .send(LeaseKeepAlive(id))
        .await
        .map_err(|_| client_status(ClientError::Stopping))?;
    match answer {
        Ok(ttl) => Ok(LeaseKeepAliveResponse {
            header: ctx.current_header(),
            id,
            // A lease that is gone answers TTL 0, as etcd's does.
            ttl: ttl.unwrap_or(0),
        }),
        Err(ClientError::NotLeader {
            leader: Some(leader),
        }) if !forwarded => {
            let mut request = Request::new(futures::stream::iter([LeaseKeepAliveRequest { id }]));
            super::context::mark_forwarded(&mut request);
            let mut client = LeaseClient::new(ctx.channel_to(leader)?);
            let mut responses = client.lease_keep_alive(request).await?.into_inner();
            responses
                .message()
                .await?
                .ok_or_else(|| Status::unavailable("etcdserver: the leader closed the stream"))
        }
        Err(e) => Err(client_status(e)),
    }
}

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(
        &self,
        request: Request<LeaseGrantRequest>,
    ) -> Result<Response<LeaseGrantResponse>, Status> {
        let r = request.get_ref();
        let ttl = r.ttl.max(self.min_ttl());
        let command = EtcdCommand::LeaseGrant { id: r.id, ttl };
        match self.0.etcd(request.metadata(), command, None).await? {
            EtcdAnswer::Done(result) => match EtcdAnswer::outcome(result)? {
                (revision, EtcdOutcome::LeaseGranted { id, ttl }) => {
                    Ok(Response::new(LeaseGrantResponse {
                        header: self.0.header(revision),
                        id,
                        ttl,
                        error: String::new(),
                    }))
                }
                (_, other) => Err(Status::internal(format!("unexpected: {other:?}"))),
            },
            EtcdAnswer::NotLeader(leader) => {
                let mut client = self.leader_client(leader, &request)?;
                client.lease_grant(EtcdContext::forwarded(&request)).await
            }
        }
    }

    async fn lease_revoke(
        &self,
        request: Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        let id = request.get_ref().id;
        self.authorize_revoke(request.metadata(), id).await?;
        let command = EtcdCommand::LeaseRevoke { id };
        match self.0.etcd(request.metadata(), command, None).await? {
            EtcdAnswer::Done(result) => {
                let (revision, _) = EtcdAnswer::outcome(result)?;
                Ok(Response::new(LeaseRevokeResponse {
                    header: self.0.header(revision),
                }))
            }
            EtcdAnswer::NotLeader(leader) => {
                let mut client = self.leader_client(leader, &request)?;
                client.lease_revoke(EtcdContext::forwarded(&request)).await
            }
        }
    }

    type LeaseKeepAliveStream = ResponseStream<LeaseKeepAliveResponse>;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let forwarded = request.metadata().contains_key(super::context::FORWARDED);
        let mut incoming = request.into_inner();
        let ctx = self.0.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel(KEEP_ALIVE_BUFFER);
        tokio::spawn(async move {
            while let Some(next) = incoming.next().await {
                let reply = match next {
                    Ok(r) => keep_alive_once(&ctx, r.id, forwarded).await,
                    // The client went away.
                    Err(_) => break,
                };
                let failed = reply.is_err();
                if tx.send(reply).await.is_err() || failed {
                    break;
                }
            }
        });
        let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        let r = *request.get_ref();
        let answer = self
            .0
            .replicator
            .send(LeaseTimeToLive(r.id))
            .await
            .map_err(|_| client_status(ClientError::Stopping))?;
        match answer {
            Ok(Some(ttl)) => Ok(Response::new(LeaseTimeToLiveResponse {
                header: self.0.current_header(),
                id: r.id,
                ttl: ttl.ttl,
                granted_ttl: ttl.granted_ttl,
                keys: if r.keys {
                    ttl.keys.into_iter().map(String::into_bytes).collect()
                } else {
                    Vec::new()
                },
            })),
            // etcd answers a lease that is gone with TTL -1, not an error.
            Ok(None) => Ok(Response::new(LeaseTimeToLiveResponse {
                header: self.0.current_header(),
                id: r.id,
                ttl: -1,
                granted_ttl: 0,
                keys: Vec::new(),
            })),
            Err(ClientError::NotLeader {
                leader: Some(leader),
            }) => {
                let mut client = self.leader_client(leader, &request)?;
                client
                    .lease_time_to_live(EtcdContext::forwarded(&request))
                    .await
            }
            Err(e) => Err(client_status(e)),
        }
    }

    async fn lease_leases(
        &self,
        request: Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        match self
            .0
            .etcd(
                request.metadata(),
                EtcdCommand::LeaseLeases,
                Some(Consistency::Linearizable),
            )
            .await?
        {
            EtcdAnswer::Done(result) => match EtcdAnswer::outcome(result)? {
                (revision, EtcdOutcome::Leases(ids)) => Ok(Response::new(LeaseLeasesResponse {
                    header: self.0.header(revision),
                    leases: ids.into_iter().map(|id| LeaseStatus { id }).collect(),
                })),
                (_, other) => Err(Status::internal(format!("unexpected: {other:?}"))),
            },
            EtcdAnswer::NotLeader(leader) => {
                let mut client = self.leader_client(leader, &request)?;
                client.lease_leases(EtcdContext::forwarded(&request)).await
            }
        }
    }
}
