//! A follower that installs a snapshot did not apply the entries it covers, so its transaction
//! log lacks their lines. Lines are identical on every node: before installing, the follower asks
//! the node that sent the snapshot for them (`GET /v1/txlog?from=&to=`, at most
//! [`TxLogOptions::MAX_RECEIVED_BYTES`] per request) and appends them verbatim, so its file stays
//! gap-free. Only what the sender no longer holds (rotated away) becomes a marker line.
//!
//! Meanwhile the install is *pending*: nothing is applied (committed entries wait), chunks of
//! the same snapshot are answered as complete, others are not kept.

use std::time::Duration;

use actix::prelude::*;

use super::drive::fatal;
use super::snapshots::Held;
use super::Replicator;
use crate::raft::{Index, NodeId};
use crate::state::{StateMachine, TxLogOptions};

/// How long one request for lines may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A verified snapshot waiting for its transaction-log lines before it is installed.
pub(super) struct PendingInstall {
    pub from: NodeId,
    pub held: Held,
    pub state: StateMachine,
    /// The configuration the snapshot records.
    pub membership: crate::raft::MembershipEntry,
    /// The snapshot file's length, the answer to any chunk of it meanwhile.
    pub len: u64,
}

/// Lines fetched from the snapshot's sender, the first at `first`.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct TxlogPiece {
    first: Index,
    lines: String,
}

/// The fetch is over (all lines, or as many as the sender held).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct TxlogFetchDone;

/// Asks this node for transaction-log lines `[from, to]` (what `GET /v1/txlog` serves).
pub struct TxlogLines {
    pub from: Index,
    pub to: Index,
}

impl Message for TxlogLines {
    type Result = Result<Option<String>, String>;
}

impl Handler<TxlogLines> for Replicator {
    type Result = MessageResult<TxlogLines>;

    fn handle(&mut self, ask: TxlogLines, _: &mut Context<Self>) -> Self::Result {
        let lines = self
            .txlog
            .lines_between(ask.from, ask.to, TxLogOptions::MAX_RECEIVED_BYTES)
            .map_err(|e| e.to_string());
        MessageResult(lines)
    }
}

impl Replicator {
    /// Starts fetching the lines `(txlog's last, snapshot index]` from the sender; the install
    /// completes in [`Replicator::finish_install`] once they are in (or could not be had).
    pub(super) fn fetch_lines_then_install(
        &mut self,
        pending: PendingInstall,
        ctx: &mut Context<Self>,
    ) {
        let from_index = self.txlog.last_index() + 1;
        let to_index = pending.held.index;
        let http = self
            .config
            .node(pending.from)
            .ok()
            .map(|p| p.http.to_string());
        self.pending_install = Some(pending);
        let (Some(http), true) = (http, from_index <= to_index) else {
            self.finish_install(ctx);
            return;
        };
        let addr = ctx.address();
        let tls = self.config.client_tls().cloned();
        let credential = self.peer_keys.member_credential(crate::api::TXLOG_PURPOSE);
        let spawned = std::thread::Builder::new()
            .name(format!("txlog-fetch-{}", self.id))
            .spawn(move || {
                let from = Source {
                    http: &http,
                    tls: tls.as_ref(),
                    credential: &credential,
                };
                fetch(from, from_index, to_index, |first, lines| {
                    addr.do_send(TxlogPiece { first, lines })
                });
                addr.do_send(TxlogFetchDone);
            });
        if spawned.is_err() {
            self.finish_install(ctx);
        }
    }

    /// Installs the pending snapshot: the core is told, the state machine swapped, and the
    /// transaction log marked if the lines could not all be fetched.
    pub(super) fn finish_install(&mut self, ctx: &mut Context<Self>) {
        let Some(p) = self.pending_install.take() else {
            return;
        };
        let (index, term) = (p.held.index, p.held.term);
        if !self
            .raft
            .install_snapshot(p.from, index, term, p.membership)
        {
            // The log caught up meanwhile: apply as usual (lines already fetched are skipped).
            let _ = std::fs::remove_file(&p.held.path);
            self.resume_applying(ctx);
            return;
        }
        log::info!(
            "node {}: installed a snapshot from node {} at index {index} term {term}",
            self.id,
            p.from
        );
        self.metrics.snapshots_installed.inc();
        self.state = p.state;
        self.publish_revision();
        // Entries committed before and not yet applied are inside the snapshot.
        self.to_apply.clear();
        self.snapshots.add(p.held);
        // Lines the sender no longer held: one marker says so; the file goes on after it.
        self.txlog.mark_snapshot(index, term);
        if let Err(e) = self.txlog.flush() {
            fatal(ctx, &format!("transaction log: {e}"));
            return;
        }
        self.serve_reads_applied();
        self.resume_applying(ctx);
    }

    fn resume_applying(&mut self, ctx: &mut Context<Self>) {
        self.apply_some(ctx);
        self.schedule_drive(ctx);
    }
}

impl Handler<TxlogPiece> for Replicator {
    type Result = ();

    fn handle(&mut self, piece: TxlogPiece, ctx: &mut Context<Self>) {
        if self.pending_install.is_none() {
            return;
        }
        match self.txlog.push_lines(piece.first, &piece.lines) {
            Ok(_) => {
                if let Err(e) = self.txlog.flush() {
                    fatal(ctx, &format!("transaction log: {e}"));
                }
            }
            Err(e) => log::warn!("node {}: lines from the snapshot's sender: {e}", self.id),
        }
    }
}

impl Handler<TxlogFetchDone> for Replicator {
    type Result = ();

    fn handle(&mut self, _: TxlogFetchDone, ctx: &mut Context<Self>) {
        self.finish_install(ctx);
    }
}

/// Where lines are fetched from, and how: the sender's HTTP door, the client TLS settings, and
/// this node's member credential (auth on, only root or a member may read the lines).
struct Source<'a> {
    http: &'a str,
    tls: Option<&'a crate::security::ClientTls>,
    credential: &'a str,
}

/// Fetches lines `[from, to]` from `source` piece by piece, handing each to `deliver`; stops at
/// the first failure or missing line (the rest becomes a marker).
fn fetch(source: Source<'_>, from: Index, to: Index, mut deliver: impl FnMut(Index, String)) {
    let Source {
        http,
        tls,
        credential,
    } = source;
    let mut config = ureq::Agent::config_builder();
    if let Some(tls) = tls {
        // The node's own certificate is its client certificate, as for forwarded requests.
        let cert_key = tls
            .client_cert_auth
            .then_some((tls.cert_file.as_path(), tls.key_file.as_path()));
        match crate::security::tls::ureq_tls(&tls.trusted_ca_file, cert_key) {
            Ok(t) => config = config.tls_config(t),
            Err(e) => {
                log::warn!("transaction-log fetch: {e}");
                return;
            }
        }
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let agent: ureq::Agent = config
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(FETCH_TIMEOUT))
        .build()
        .into();
    let mut next = from;
    while next <= to {
        let url = format!("{scheme}://{http}/v1/txlog?from={next}&to={to}");
        let request = agent
            .get(&url)
            .header(crate::api::MEMBER_CREDENTIAL_HEADER, credential);
        let Ok(mut reply) = request.call() else {
            return;
        };
        if reply.status().as_u16() != 200 {
            return;
        }
        let limit = TxLogOptions::MAX_RECEIVED_BYTES as u64 + 1;
        let Ok(lines) = reply.body_mut().with_config().limit(limit).read_to_string() else {
            return;
        };
        // The last line's index, not a count: a marker in the sender's file may jump.
        let Some(last) = lines
            .lines()
            .last()
            .and_then(|l| l.split(' ').next())
            .and_then(|w| w.parse::<Index>().ok())
        else {
            return;
        };
        if last < next {
            return;
        }
        deliver(next, lines);
        next = last + 1;
    }
}
