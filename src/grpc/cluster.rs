//! The Cluster service: the member list, and removing or promoting a member. Adding one is left to
//! `raftkv member add` (a raftkv member has raft, HTTP, text and gRPC addresses; etcd's MemberAdd
//! carries peer URLs only).

use tonic::{Request, Response, Status};

use super::context::{client_status, EtcdContext};
use super::pb::etcdserverpb::cluster_client::ClusterClient;
use super::pb::etcdserverpb::cluster_server::Cluster;
use super::pb::etcdserverpb::{
    Member, MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse,
    MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse,
    MemberUpdateRequest, MemberUpdateResponse,
};
use crate::raft::NodeId;
use crate::replicator::{ChangeMembership, ClientError, GetMembers, MemberChange};

/// etcd's Cluster service on this node.
pub struct ClusterService(pub EtcdContext);

/// A member's name: raftkv members have ids only.
pub fn member_name(id: NodeId) -> String {
    format!("node-{id}")
}

impl ClusterService {
    /// The configuration in effect on this node, as etcd's members.
    async fn members(&self) -> Result<Vec<Member>, Status> {
        let members = self
            .0
            .replicator
            .send(GetMembers)
            .await
            .map_err(|_| client_status(ClientError::Stopping))?;
        Ok(members
            .into_iter()
            .map(|m| Member {
                id: m.id,
                name: member_name(m.id),
                peer_ur_ls: vec![format!("tcp://{}", m.raft)],
                // host:port, not etcd's http://host:port: etcdctl 3.4 dials a member's client URL
                // for Maintenance calls (`endpoint status --cluster`) with the scheme left in
                // HTTP/2's :authority, which the h2 server behind tonic refuses as malformed.
                client_ur_ls: m.grpc.iter().cloned().collect(),
                is_learner: m.is_learner,
            })
            .collect())
    }

    /// Proposes a change; `Err(Some(leader))` if this node must forward it.
    async fn change(&self, change: MemberChange) -> Result<Result<(), NodeId>, Status> {
        let answer = self
            .0
            .replicator
            .send(ChangeMembership(change))
            .await
            .map_err(|_| client_status(ClientError::Stopping))?;
        match answer {
            Ok(_) => Ok(Ok(())),
            Err(ClientError::NotLeader {
                leader: Some(leader),
            }) => Ok(Err(leader)),
            Err(ClientError::Invalid(why)) if why.contains("not a member") => {
                Err(Status::not_found("etcdserver: member not found"))
            }
            Err(e) => Err(client_status(e)),
        }
    }

    fn leader_client<T>(
        &self,
        leader: NodeId,
        request: &Request<T>,
    ) -> Result<ClusterClient<tonic::transport::Channel>, Status> {
        Ok(ClusterClient::new(self.0.leader_channel(leader, request)?))
    }
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        _: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        Err(Status::unimplemented(
            "Cluster.MemberAdd is not served by raftkv: a member needs raft, http, text and grpc \
             addresses; add it with `raftkv member add ID --raft H:P --http H:P --text H:P --grpc H:P`",
        ))
    }

    async fn member_remove(
        &self,
        request: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        self.0.require_root(request.metadata())?;
        match self
            .change(MemberChange::Remove(request.get_ref().id))
            .await?
        {
            Ok(()) => Ok(Response::new(MemberRemoveResponse {
                header: self.0.current_header(),
                members: self.members().await?,
            })),
            Err(leader) => {
                let mut client = self.leader_client(leader, &request)?;
                client.member_remove(EtcdContext::forwarded(&request)).await
            }
        }
    }

    async fn member_update(
        &self,
        _: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        Err(Status::unimplemented(
            "Cluster.MemberUpdate is not served by raftkv: remove the member and add it again at \
             its new addresses",
        ))
    }

    async fn member_list(
        &self,
        _: Request<MemberListRequest>,
    ) -> Result<Response<MemberListResponse>, Status> {
        Ok(Response::new(MemberListResponse {
            header: self.0.current_header(),
            members: self.members().await?,
        }))
    }

    async fn member_promote(
        &self,
        request: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        self.0.require_root(request.metadata())?;
        match self
            .change(MemberChange::Promote(request.get_ref().id))
            .await?
        {
            Ok(()) => Ok(Response::new(MemberPromoteResponse {
                header: self.0.current_header(),
                members: self.members().await?,
            })),
            Err(leader) => {
                let mut client = self.leader_client(leader, &request)?;
                client
                    .member_promote(EtcdContext::forwarded(&request))
                    .await
            }
        }
    }
}
