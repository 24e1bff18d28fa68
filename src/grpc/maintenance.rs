//! The Maintenance service: Status, Snapshot (raftkv's own snapshot format, which `raftkv snapshot
//! restore` reads), Alarm (there are none), Defragment (nothing to do: a no-op success) and
//! MoveLeader (a leadership transfer). The rest answer `Unimplemented`, naming the method.

use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use tonic::{Request, Response, Status};

use super::context::{client_status, EtcdContext};
use super::lease::ResponseStream;
use super::pb::etcdserverpb::maintenance_client::MaintenanceClient;
use super::pb::etcdserverpb::maintenance_server::Maintenance;
use super::pb::etcdserverpb::{
    AlarmRequest, AlarmResponse, DefragmentRequest, DefragmentResponse, DowngradeRequest,
    DowngradeResponse, HashKvRequest, HashKvResponse, HashRequest, HashResponse, MoveLeaderRequest,
    MoveLeaderResponse, SnapshotRequest, SnapshotResponse, StatusRequest, StatusResponse,
};
use crate::raft::Role;
use crate::replicator::{ClientError, GetMembers, GetStatus, SnapshotView, TransferLeadership};
use crate::state::{write_snapshot, ETCD_HASH_BYTES, ETCD_PAGE_BYTES};
use sha2::{Digest, Sha256};

/// Bytes per snapshot chunk streamed.
const CHUNK_BYTES: usize = 1 << 20;

/// etcd's Maintenance service on this node.
pub struct MaintenanceService(pub EtcdContext);

/// The bytes of the files under `dir` (the node's data directory: its log, snapshots and state).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, _: Request<AlarmRequest>) -> Result<Response<AlarmResponse>, Status> {
        Ok(Response::new(AlarmResponse {
            header: self.0.current_header(),
            alarms: Vec::new(),
        }))
    }

    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        let stopping = |_| client_status(ClientError::Stopping);
        let status = self.0.replicator.send(GetStatus).await.map_err(stopping)?;
        let members = self.0.replicator.send(GetMembers).await.map_err(stopping)?;
        let is_learner = members.iter().any(|m| m.id == self.0.id && m.is_learner);
        let dir = self.0.config.data_dir_for(self.0.id);
        let db_size = tokio::task::spawn_blocking(move || dir_bytes(&dir))
            .await
            .unwrap_or(0) as i64;
        Ok(Response::new(StatusResponse {
            header: self.0.current_header(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            db_size,
            leader: status.leader.unwrap_or(0),
            raft_index: status.commit_index,
            raft_term: status.term,
            raft_applied_index: status.applied_index,
            errors: Vec::new(),
            db_size_in_use: db_size,
            is_learner,
            ..StatusResponse::default()
        }))
    }

    async fn defragment(
        &self,
        _: Request<DefragmentRequest>,
    ) -> Result<Response<DefragmentResponse>, Status> {
        // The log compacts itself behind snapshots: there is nothing to defragment.
        Ok(Response::new(DefragmentResponse {
            header: self.0.current_header(),
        }))
    }

    async fn downgrade(
        &self,
        _: Request<DowngradeRequest>,
    ) -> Result<Response<DowngradeResponse>, Status> {
        Err(Status::unimplemented(
            "Maintenance.Downgrade is not served by raftkv",
        ))
    }

    async fn hash(&self, _: Request<HashRequest>) -> Result<Response<HashResponse>, Status> {
        Err(Status::unimplemented(
            "Maintenance.Hash is not served by raftkv",
        ))
    }

    async fn hash_kv(&self, _: Request<HashKvRequest>) -> Result<Response<HashKvResponse>, Status> {
        Err(Status::unimplemented(
            "Maintenance.HashKV is not served by raftkv",
        ))
    }

    type SnapshotStream = ResponseStream<SnapshotResponse>;

    async fn snapshot(
        &self,
        request: Request<SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        self.0.require_root(request.metadata())?;
        let view = self
            .0
            .replicator
            .send(SnapshotView)
            .await
            .map_err(|_| client_status(ClientError::Stopping))?;
        let (state, membership) = match view {
            Ok(view) => view,
            Err(ClientError::NotLeader {
                leader: Some(leader),
            }) => {
                let channel = self.0.leader_channel(leader, &request)?;
                let response = MaintenanceClient::new(channel)
                    .snapshot(EtcdContext::forwarded(&request))
                    .await?;
                let stream: Self::SnapshotStream = Box::pin(response.into_inner());
                return Ok(Response::new(stream));
            }
            Err(e) => return Err(client_status(e)),
        };
        let header = self.0.header(state.revision());
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        // A blocking thread writes the frozen view to an unnamed file, then streams it in chunks.
        tokio::task::spawn_blocking(move || {
            let written = (|| -> std::io::Result<(std::fs::File, u64)> {
                let mut file = crate::api::unnamed_temp_file()?;
                let mut out = BufWriter::new(&mut file);
                let summary = write_snapshot(&state, &membership, &mut out)?;
                out.flush()?;
                drop(out);
                file.seek(SeekFrom::Start(0))?;
                Ok((file, summary.bytes))
            })();
            let (mut file, total) = match written {
                Ok(done) => done,
                Err(e) => {
                    let _ = tx.blocking_send(Err(Status::internal(format!(
                        "cannot write the snapshot: {e}"
                    ))));
                    return;
                }
            };
            // etcd's envelope: zeros to a whole number of 512-byte pages, then the SHA-256 of
            // all before it, which `etcdctl snapshot save` looks for. raftkv's reader accepts it.
            let padding = (ETCD_PAGE_BYTES - total % ETCD_PAGE_BYTES) % ETCD_PAGE_BYTES;
            let total = total + padding + ETCD_HASH_BYTES as u64;
            let mut hash = Sha256::new();
            let mut padded = false;
            let mut sent = 0;
            loop {
                let mut blob = vec![0; CHUNK_BYTES];
                let read = match file.read(&mut blob) {
                    Ok(0) if !padded => {
                        padded = true;
                        blob.truncate(padding as usize);
                        Ok(blob.len())
                    }
                    Ok(0) => {
                        let digest = hash.clone().finalize();
                        let chunk = SnapshotResponse {
                            header,
                            remaining_bytes: 0,
                            blob: digest.to_vec(),
                            ..SnapshotResponse::default()
                        };
                        let _ = tx.blocking_send(Ok(chunk));
                        return;
                    }
                    other => other,
                };
                match read {
                    Ok(n) => {
                        blob.truncate(n);
                        hash.update(&blob);
                        sent += n as u64;
                        let chunk = SnapshotResponse {
                            header,
                            remaining_bytes: total.saturating_sub(sent),
                            blob,
                            ..SnapshotResponse::default()
                        };
                        if tx.blocking_send(Ok(chunk)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(Status::internal(format!(
                            "cannot read the snapshot back: {e}"
                        ))));
                        return;
                    }
                }
            }
        });
        let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn move_leader(
        &self,
        request: Request<MoveLeaderRequest>,
    ) -> Result<Response<MoveLeaderResponse>, Status> {
        self.0.require_root(request.metadata())?;
        let target = request.get_ref().target_id;
        let status = self
            .0
            .replicator
            .send(GetStatus)
            .await
            .map_err(|_| client_status(ClientError::Stopping))?;
        if status.role != Role::Leader {
            // etcd sends MoveLeader to the leader; so does etcdctl.
            return Err(Status::failed_precondition("etcdserver: not leader"));
        }
        self.0
            .replicator
            .send(TransferLeadership(Some(target)))
            .await
            .map_err(|_| client_status(ClientError::Stopping))?
            .map_err(client_status)?;
        Ok(Response::new(MoveLeaderResponse {
            header: self.0.current_header(),
        }))
    }
}
