//! What every etcd service shares: the node's replicator, its identity for response headers, the
//! translation of raftkv's errors into etcd's gRPC statuses, and the channel to the leader that a
//! follower forwards leader-only calls on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Addr;
use tonic::metadata::MetadataMap;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Status};

use super::pb::etcdserverpb::ResponseHeader;
use crate::config::Config;
use crate::raft::NodeId;
use crate::replicator::admission::Admission;
use crate::replicator::etcd::EtcdFeed;
use crate::replicator::members::Directory;
use crate::replicator::{Answer, ClientError, Consistency, Propose, Read, Replicator};
use crate::security::Caller;
use crate::state::auth::AuthError;
use crate::state::mvcc::{EtcdCommand, EtcdError, EtcdOutcome, EtcdResult};
use crate::state::{ApplyResult, Command, Request as StateRequest};

/// The metadata key a follower sets on a call it forwards, so that the leader it reached, if it
/// has lost leadership meanwhile, answers "no leader" instead of forwarding again.
pub(super) const FORWARDED: &str = "raftkv-forwarded";

/// The metadata key etcd clients send their auth token under.
pub const TOKEN: &str = "token";
/// The other key etcd accepts a token under (its gRPC gateway's).
pub const AUTHORIZATION: &str = "authorization";
/// The metadata key marking a call whose client certificate names a user that does not exist
/// (set only by [`EtcdContext::identify_by_certificate`], which drops any a client sent).
const CERT_NAMES_NO_USER: &str = "raftkv-cert-names-no-user";

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
    /// Credentials and permissions, shared with the other doors.
    pub(crate) auth: crate::security::Authenticator,
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
        auth: crate::security::Authenticator,
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
            auth,
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

    /// Who sent a call: the user its token names (which may come from its client certificate,
    /// see [`EtcdContext::identify_by_certificate`]), or anonymous without one.
    pub(crate) fn caller(&self, meta: &MetadataMap) -> Result<Caller, Status> {
        let token = meta.get(TOKEN).or_else(|| meta.get(AUTHORIZATION));
        match token {
            // etcd refuses a certificate naming no user as it refuses that user's requests.
            None if meta.contains_key(CERT_NAMES_NO_USER) => {
                Err(auth_status(AuthError::PermissionDenied))
            }
            None => Ok(Caller::Anonymous),
            Some(value) => {
                let text = value
                    .to_str()
                    .map_err(|_| auth_status(AuthError::InvalidAuthToken))?;
                let text = text.strip_prefix("Bearer ").unwrap_or(text);
                self.auth.verify_token(text).map_err(auth_status)
            }
        }
    }

    /// etcd's `--client-cert-auth`: with `client_cert_auth = true` and auth on, a call carrying
    /// no token is the user its verified client certificate names (`common_name`, the CN). Run
    /// on every call before a service sees it (the gRPC door's interceptor, the gateway).
    ///
    /// The user is carried as a token this node issues for it, so that a call forwarded to the
    /// leader (which copies only the token, [`EtcdContext::forwarded`]) keeps its caller: the
    /// leader checks the token's MAC like any other, and never takes a forwarded call's
    /// certificate, which is the forwarding member's own, as its caller. A client marking its
    /// call forwarded thus only gives up its certificate's name.
    pub(crate) fn identify_by_certificate(
        &self,
        meta: &mut MetadataMap,
        common_name: Option<String>,
    ) {
        meta.remove(CERT_NAMES_NO_USER);
        let Some(name) = common_name else {
            return;
        };
        let cert_auth = self.config.client_cert_auth();
        let has_token = meta.contains_key(TOKEN) || meta.contains_key(AUTHORIZATION);
        if !cert_auth || has_token || meta.contains_key(FORWARDED) || !self.auth.enabled() {
            return;
        }
        let token = self.auth.issue_token(&name).ok();
        match token.and_then(|t| tonic::metadata::MetadataValue::try_from(t).ok()) {
            Some(token) => {
                meta.insert(TOKEN, token);
            }
            None => {
                meta.insert(
                    CERT_NAMES_NO_USER,
                    tonic::metadata::MetadataValue::from_static("1"),
                );
            }
        }
    }

    /// Refuses a call that needs the root role (member changes, snapshots, auth management) from
    /// anyone else, while auth is on.
    pub(super) fn require_root(&self, meta: &MetadataMap) -> Result<(), Status> {
        let caller = self.caller(meta)?;
        self.auth.require_root(&caller).map_err(auth_status)
    }

    /// Runs an etcd command through the log (or, for a read, as `consistency` says), with this
    /// node's admission bound, if the caller `meta` names may.
    pub(super) async fn etcd(
        &self,
        meta: &MetadataMap,
        command: EtcdCommand,
        consistency: Option<Consistency>,
    ) -> Result<EtcdAnswer, Status> {
        check_longest_key(self, command.longest_key_bytes())?;
        let command = Command::Etcd(command);
        let caller = self.caller(meta)?;
        self.auth
            .authorize(&caller, &command)
            .map_err(auth_status)?;
        match self.submit(command, consistency).await? {
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

    /// Sends a command to the replicator through the log (or as `consistency` says), with this
    /// node's admission bound and no auth check: the caller has made it.
    pub(super) async fn submit(
        &self,
        command: Command,
        consistency: Option<Consistency>,
    ) -> Result<Result<Answer, ClientError>, Status> {
        let Some(_ticket) = self.admission.try_admit() else {
            return Err(client_status(ClientError::Busy));
        };
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
        sent.map_err(|_| client_status(ClientError::Stopping))
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
        let scheme = self.config.http_scheme();
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
            .map_err(|e| Status::internal(format!("bad leader address {addr}: {e}")))?;
        if let Some(tls) = self.config.client_tls() {
            endpoint = endpoint
                .tls_config(leader_tls(tls)?)
                .map_err(|e| Status::internal(format!("TLS to the leader: {e}")))?;
        }
        let endpoint = endpoint
            .connect_timeout(Duration::from_millis(
                self.config.cluster().request_timeout_ms,
            ))
            .timeout(Duration::from_millis(self.config.cluster().request_timeout_ms) * 2);
        let channel = endpoint.connect_lazy();
        channels.insert(addr, channel.clone());
        Ok(channel)
    }

    /// `request`'s message in a new request marked as forwarded, to send to the leader, with
    /// the caller's token (the leader checks it again).
    pub(super) fn forwarded<T: Clone>(request: &Request<T>) -> Request<T> {
        let mut forwarded = Request::new(request.get_ref().clone());
        mark_forwarded(&mut forwarded);
        for key in [TOKEN, AUTHORIZATION] {
            if let Some(value) = request.metadata().get(key) {
                forwarded.metadata_mut().insert(key, value.clone());
            }
        }
        forwarded
    }
}

/// The TLS a follower speaks to its leader's gRPC door: the cluster's CA, and its own
/// certificate when clients must present one.
fn leader_tls(tls: &crate::security::ClientTls) -> Result<ClientTlsConfig, Status> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| Status::internal(format!("{}: {e}", path.display())))
    };
    let mut config =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(&tls.trusted_ca_file)?));
    if tls.client_cert_auth {
        config = config.identity(Identity::from_pem(
            read(&tls.cert_file)?,
            read(&tls.key_file)?,
        ));
    }
    Ok(config)
}

/// etcd's status for each auth error: the codes and texts its clients recognise.
pub(crate) fn auth_status(e: AuthError) -> Status {
    let code = match e {
        AuthError::PermissionDenied => Code::PermissionDenied,
        AuthError::InvalidAuthToken => Code::Unauthenticated,
        AuthError::UserEmpty
        | AuthError::RoleEmpty
        | AuthError::AuthFailed
        | AuthError::InvalidAuthMgmt => Code::InvalidArgument,
        AuthError::TooMany => Code::ResourceExhausted,
        AuthError::RootUserNotExist
        | AuthError::RootRoleNotExist
        | AuthError::UserAlreadyExist
        | AuthError::UserNotFound
        | AuthError::RoleAlreadyExist
        | AuthError::RoleNotFound
        | AuthError::RoleNotGranted
        | AuthError::PermissionNotGranted
        | AuthError::AuthNotEnabled => Code::FailedPrecondition,
    };
    Status::new(code, e.to_string())
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
        ClientError::Limit(why) => Status::resource_exhausted(format!("etcdserver: {why}")),
    }
}

/// Refuses a watch's key or range end longer than `max_key_bytes`, as [`EtcdContext::etcd`]
/// refuses a request's.
pub(super) fn check_key_bytes(
    ctx: &EtcdContext,
    key: &str,
    range_end: &[u8],
) -> Result<(), Status> {
    check_longest_key(ctx, key.len().max(range_end.len()))
}

/// etcd answers a request over its size limit with InvalidArgument "etcdserver: request is too
/// large", and so does raftkv for a key over `max_key_bytes`: the request can never succeed as
/// it is (RESOURCE_EXHAUSTED would say that waiting might help), and the text starts with etcd's
/// so that people and tools recognise it; the rest names the limit.
fn check_longest_key(ctx: &EtcdContext, longest: usize) -> Result<(), Status> {
    let limit = ctx.config.cluster().max_key_bytes;
    if longest <= limit {
        return Ok(());
    }
    Err(Status::invalid_argument(format!(
        "etcdserver: request is too large: a key or range end of {longest} bytes exceeds \
         max_key_bytes ({limit})"
    )))
}

/// A key must be UTF-8 here (raftkv's keys are strings, shared with its HTTP and text APIs).
pub(super) fn key_string(key: Vec<u8>, what: &str) -> Result<String, Status> {
    String::from_utf8(key).map_err(|_| {
        Status::invalid_argument(format!(
            "etcdserver: raftkv keys are UTF-8 text; this {what} is not"
        ))
    })
}
