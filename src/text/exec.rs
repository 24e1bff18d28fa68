//! Carrying out one text command through the replicator, with the same actix messages as the HTTP
//! API: writes are proposed, reads are linearizable (ReadIndex) like the HTTP default.

use std::sync::Arc;

use actix::Addr;

use super::parser::TextCommand;
use super::reply::Reply;
use crate::config::Config;
use crate::replicator::admission::Admission;
use crate::replicator::{Answer, ClientError, Consistency, Propose, Read, Replicator};
use crate::security::Caller;
use crate::state::auth::AuthError;
use crate::state::{ApplyResult, Command, Request};

/// What a connection needs to serve commands.
#[derive(Clone)]
pub struct TextContext {
    /// The local node.
    pub replicator: Addr<Replicator>,
    /// The cluster's addresses (for redirects) and limits.
    pub config: Arc<Config>,
    /// The node's bound on requests in flight, shared with HTTP.
    pub admission: Admission,
    /// The members' addresses (for redirects to a leader that joined after the config file).
    pub directory: crate::replicator::members::Directory,
    /// Credentials and permissions, shared with the other doors.
    pub auth: crate::security::Authenticator,
    /// Open connections allowed at once.
    pub connections: crate::security::ConnectionLimit,
}

impl TextContext {
    /// Serves one command for the connection logged in as `caller` and returns its answer.
    pub async fn execute(&self, caller: &mut Caller, command: TextCommand) -> Reply {
        let command = match command {
            TextCommand::Auth { user, password } => {
                return match self.auth.check_password(&user, &password).await {
                    Ok(()) => {
                        *caller = Caller::User(user);
                        Reply::LoggedIn
                    }
                    Err(_) => Reply::AuthFailed,
                };
            }
            other => other,
        };
        self.execute_as(caller, command).await
    }

    async fn execute_as(&self, caller: &Caller, command: TextCommand) -> Reply {
        let max_key_bytes = self.config.cluster().max_key_bytes;
        let check = |command: Command| {
            // The parser holds keys to memcached's 250 bytes; a smaller `max_key_bytes` is
            // refused the same way, as a malformed command.
            if command.longest_key_bytes() > max_key_bytes {
                log::debug!("text: a key longer than max_key_bytes ({max_key_bytes})");
                return Err(Reply::CmdErr);
            }
            match self.auth.authorize(caller, &command) {
                Ok(()) => Ok(command),
                Err(AuthError::PermissionDenied) => Err(Reply::PermissionDenied),
                Err(_) => Err(Reply::AuthFailed),
            }
        };
        macro_rules! checked {
            ($command:expr) => {
                match check($command) {
                    Ok(command) => command,
                    Err(reply) => return reply,
                }
            };
        }
        match command {
            TextCommand::Auth { .. } => Reply::CmdErr,
            TextCommand::Set {
                key,
                exptime,
                value,
                ..
            } => {
                let command = checked!(Command::KvSet {
                    key,
                    value,
                    ttl_secs: exptime,
                });
                self.write(command).await
            }
            TextCommand::Cas {
                key,
                exptime,
                version,
                value,
                ..
            } => {
                let command = checked!(Command::KvCas {
                    key,
                    value,
                    ttl_secs: exptime,
                    expected_version: version,
                });
                self.write(command).await
            }
            TextCommand::Delete { key, .. } => {
                self.write(checked!(Command::KvDelete { key })).await
            }
            TextCommand::Get { key } => self.read(checked!(Command::KvGet { key })).await,
            TextCommand::Getm { key } => self.read(checked!(Command::KvGetMeta { key })).await,
        }
    }

    async fn write(&self, command: Command) -> Reply {
        let Some(_ticket) = self.admission.try_admit() else {
            return Reply::Overloaded;
        };
        let sent = self.replicator.send(Propose(Request::new(command)));
        self.answer(self.bounded(sent).await)
    }

    async fn read(&self, command: Command) -> Reply {
        let Some(_ticket) = self.admission.try_admit() else {
            return Reply::Overloaded;
        };
        let sent = self.replicator.send(Read {
            command,
            consistency: Consistency::Linearizable,
        });
        self.answer(self.bounded(sent).await)
    }

    /// Waits for the replicator at most the request timeout (it answers by then itself; this
    /// guards against a full mailbox).
    async fn bounded(
        &self,
        sent: impl std::future::Future<
            Output = Result<Result<Answer, ClientError>, actix::MailboxError>,
        >,
    ) -> Result<Answer, ClientError> {
        match tokio::time::timeout(self.config.request_timeout(), sent).await {
            Err(_) => Err(ClientError::Timeout),
            Ok(Err(_)) => Err(ClientError::Stopping),
            Ok(Ok(answer)) => answer,
        }
    }

    /// The text-protocol address of member `id`: the live membership's, else the config file's.
    fn leader_text(&self, id: crate::raft::NodeId) -> Option<(String, u16)> {
        if let Some(text) = self.directory.get(id).and_then(|m| m.text) {
            let (host, port) = text.rsplit_once(':')?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            return Some((host.to_string(), port.parse().ok()?));
        }
        let peer = self.config.node(id).ok()?;
        Some((peer.text.host().to_string(), peer.text.port()))
    }

    fn answer(&self, answer: Result<Answer, ClientError>) -> Reply {
        match answer {
            Ok(answer) => reply_for(answer.result),
            Err(ClientError::NotLeader { leader: Some(id) }) => match self.leader_text(id) {
                Some((host, port)) => Reply::Redirect { host, port },
                None => Reply::Internal,
            },
            Err(ClientError::Busy) => Reply::Overloaded,
            Err(e) => {
                log::debug!("text: command failed: {e}");
                Reply::Internal
            }
        }
    }
}

/// The answer for a replicated result.
fn reply_for(result: ApplyResult) -> Reply {
    match result {
        ApplyResult::Stored { version } => Reply::Stored { version },
        ApplyResult::Deleted(true) => Reply::Deleted,
        ApplyResult::Deleted(false)
        | ApplyResult::NotFound
        | ApplyResult::Value(None)
        | ApplyResult::Record(None) => Reply::NotFound,
        ApplyResult::Value(Some(v)) => Reply::Value(v.value),
        ApplyResult::Record(Some(r)) => Reply::ValueMeta {
            version: r.version,
            exptime: r.expires_in_secs().unwrap_or(0),
            value: r.value,
        },
        ApplyResult::VersionMismatch { .. } => Reply::Version,
        ApplyResult::BadCommand(_) => Reply::CmdErr,
        other => {
            log::error!("text: unexpected result {other:?}");
            Reply::Internal
        }
    }
}
