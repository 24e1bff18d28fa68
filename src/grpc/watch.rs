//! The Watch service: one bidirectional stream per client carrying any number of watches.
//!
//! Watches pull, the node never pushes: each stream's task wakes when this node's applied revision
//! moves, takes an O(1) frozen view of the state from the replicator, and reads the events it has
//! not sent yet from the kept history. So every watcher sees each revision's events once, in
//! revision order, whoever leads; a watch from an older revision replays from history the same
//! way; and a slow client only ever holds up its own stream: its responses wait in a bounded
//! buffer, then its task waits, and it resumes from history where it stopped. A watcher that fell
//! behind the compaction point is cancelled with etcd's compacted error and the compact revision,
//! from which a client can start again.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::context::{client_status, EtcdContext};
use super::convert;
use super::lease::ResponseStream;
use super::pb::etcdserverpb::watch_create_request::FilterType;
use super::pb::etcdserverpb::watch_request::RequestUnion;
use super::pb::etcdserverpb::watch_server::Watch;
use super::pb::etcdserverpb::{WatchCreateRequest, WatchRequest, WatchResponse};
use crate::replicator::etcd::StateView;
use crate::replicator::ClientError;
use crate::state::mvcc::KeyRange;
use crate::state::{EventKind, StateMachine};

/// Responses buffered per stream before a slow client holds up its stream's task.
const STREAM_BUFFER: usize = 64;

/// Events gathered into one response at most (a revision is never split; it may exceed this).
const EVENTS_PER_RESPONSE: usize = 1000;

/// How often a watch created with `progress_notify` hears the current revision when idle
/// (etcd's default).
const PROGRESS_INTERVAL: Duration = Duration::from_secs(600);

/// etcd's Watch service on this node.
pub struct WatchService(pub EtcdContext);

/// One watch of a stream.
struct Watcher {
    range: KeyRange,
    /// The next revision whose events it has not seen.
    next: u64,
    prev_kv: bool,
    no_put: bool,
    no_delete: bool,
    progress_notify: bool,
}

impl Watcher {
    fn wants(&self, kind: EventKind, key: &str) -> bool {
        let filtered = match kind {
            EventKind::Put => self.no_put,
            EventKind::Delete => self.no_delete,
        };
        !filtered && self.range.contains(key)
    }
}

/// The state of one stream.
struct Stream {
    ctx: EtcdContext,
    /// Who opened the stream: every watch it creates is checked as a read of its range.
    caller: crate::security::Caller,
    watchers: BTreeMap<i64, Watcher>,
    next_id: i64,
    out: tokio::sync::mpsc::Sender<Result<WatchResponse, Status>>,
}

impl Stream {
    /// Sends a response; false once the client is gone.
    async fn send(&self, response: WatchResponse) -> bool {
        self.out.send(Ok(response)).await.is_ok()
    }

    /// A response about watch `id` with the current header.
    fn response(&self, watch_id: i64) -> WatchResponse {
        WatchResponse {
            header: self.ctx.current_header(),
            watch_id,
            ..WatchResponse::default()
        }
    }

    async fn create(&mut self, c: WatchCreateRequest) -> bool {
        let id = if c.watch_id != 0 {
            c.watch_id
        } else {
            self.next_id
        };
        let refused = |reason: String| WatchResponse {
            created: true,
            canceled: true,
            cancel_reason: reason,
            ..self.response(id)
        };
        if self.watchers.contains_key(&id) {
            return self
                .send(refused(
                    "etcdserver: duplicate watch ID provided on the WatchStream".into(),
                ))
                .await;
        }
        let key = match super::context::key_string(c.key, "key") {
            Ok(key) if !key.is_empty() => key,
            Ok(_) => {
                return self
                    .send(refused("etcdserver: key is not provided".into()))
                    .await
            }
            Err(status) => return self.send(refused(status.message().to_string())).await,
        };
        // Watches one stream may hold at once (`max_watches_per_stream`); a create past it is
        // refused the way etcd refuses a create: created and canceled, with the reason.
        let limit = self.ctx.config.cluster().max_watches_per_stream;
        if self.watchers.len() >= limit {
            let reason = format!("etcdserver: too many watches on this stream (at most {limit})");
            return self.send(refused(reason)).await;
        }
        if let Err(status) = super::context::check_key_bytes(&self.ctx, &key, &c.range_end) {
            return self.send(refused(status.message().to_string())).await;
        }
        let read = crate::state::mvcc::RangeRequest {
            range: KeyRange {
                key: key.clone(),
                range_end: c.range_end.clone().into(),
            },
            ..Default::default()
        };
        let command = crate::state::Command::Etcd(crate::state::mvcc::EtcdCommand::Range(read));
        if let Err(e) = self.ctx.auth.authorize(&self.caller, &command) {
            return self.send(refused(e.to_string())).await;
        }
        if c.watch_id == 0 {
            self.next_id += 1;
        }
        let current = *self.ctx.feed.revision.borrow();
        let next = match c.start_revision {
            r if r > 0 => r as u64,
            _ => current + 1,
        };
        let filters: Vec<Option<FilterType>> = c
            .filters
            .iter()
            .map(|f| FilterType::try_from(*f).ok())
            .collect();
        self.watchers.insert(
            id,
            Watcher {
                range: KeyRange {
                    key,
                    range_end: c.range_end.into(),
                },
                next,
                prev_kv: c.prev_kv,
                no_put: filters.contains(&Some(FilterType::Noput)),
                no_delete: filters.contains(&Some(FilterType::Nodelete)),
                progress_notify: c.progress_notify,
            },
        );
        self.send(WatchResponse {
            created: true,
            ..self.response(id)
        })
        .await
    }

    async fn handle(&mut self, request: WatchRequest) -> bool {
        match request.request_union {
            Some(RequestUnion::CreateRequest(c)) => self.create(c).await,
            Some(RequestUnion::CancelRequest(c)) => {
                if self.watchers.remove(&c.watch_id).is_none() {
                    return true;
                }
                self.send(WatchResponse {
                    canceled: true,
                    ..self.response(c.watch_id)
                })
                .await
            }
            Some(RequestUnion::ProgressRequest(_)) => self.send(self.response(-1)).await,
            None => true,
        }
    }

    /// Whether some watcher has revisions to catch up on.
    fn behind(&self) -> bool {
        let current = *self.ctx.feed.revision.borrow();
        self.watchers.values().any(|w| w.next <= current)
    }

    /// Reads from one frozen view what each watcher has not seen (at most about
    /// [`EVENTS_PER_RESPONSE`] events each), then sends it; false once the client is gone.
    async fn catch_up(&mut self) -> bool {
        let view: StateMachine = match self.ctx.replicator.send(StateView).await {
            Ok(view) => view,
            Err(_) => {
                let _ = self
                    .out
                    .send(Err(client_status(ClientError::Stopping)))
                    .await;
                return false;
            }
        };
        let (revision, compacted) = (view.revision(), view.compact_revision());
        let header = self.ctx.header(revision);
        let mut responses = Vec::new();
        let mut cancelled = Vec::new();
        for (&id, w) in self.watchers.iter_mut() {
            if w.next > revision {
                continue;
            }
            if w.next < compacted {
                cancelled.push(id);
                responses.push(WatchResponse {
                    header,
                    watch_id: id,
                    canceled: true,
                    compact_revision: compacted as i64,
                    cancel_reason: crate::state::mvcc::EtcdError::Compacted.to_string(),
                    ..WatchResponse::default()
                });
                continue;
            }
            let mut events = Vec::new();
            let mut seen = w.next - 1;
            view.for_each_event_after(w.next - 1, |rev, list| {
                for e in list.iter().filter(|e| w.wants(e.kind, &e.kv.key)) {
                    events.push(convert::event(e, w.prev_kv));
                }
                seen = rev;
                events.len() < EVENTS_PER_RESPONSE
            });
            // Revisions with nothing for this watcher are seen too.
            if events.len() < EVENTS_PER_RESPONSE {
                seen = revision;
            }
            w.next = seen + 1;
            if !events.is_empty() {
                responses.push(WatchResponse {
                    header,
                    watch_id: id,
                    events,
                    ..WatchResponse::default()
                });
            }
        }
        for id in cancelled {
            self.watchers.remove(&id);
        }
        // The view is dropped before waiting on the client, so a slow one pins no old state.
        drop(view);
        for response in responses {
            if !self.send(response).await {
                return false;
            }
        }
        true
    }

    /// Tells every caught-up watch that asked for progress the current revision.
    async fn progress(&mut self) -> bool {
        let current = *self.ctx.feed.revision.borrow();
        let ids: Vec<i64> = self
            .watchers
            .iter()
            .filter(|(_, w)| w.progress_notify && w.next > current)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if !self.send(self.response(id)).await {
                return false;
            }
        }
        true
    }
}

/// Serves one stream of watch requests until the client or the node goes away. The JSON gateway's
/// `/v3/watch` uses it too, with a stream of one request.
pub(crate) async fn run<S>(
    ctx: EtcdContext,
    caller: crate::security::Caller,
    mut incoming: S,
    out: tokio::sync::mpsc::Sender<Result<WatchResponse, Status>>,
) where
    S: futures::Stream<Item = Result<WatchRequest, Status>> + Unpin + Send,
{
    let mut revisions = ctx.feed.revision.clone();
    let mut stream = Stream {
        ctx,
        caller,
        watchers: BTreeMap::new(),
        next_id: 0,
        out,
    };
    let mut progress = tokio::time::interval(PROGRESS_INTERVAL);
    progress.tick().await;
    loop {
        if stream.behind() {
            if !stream.catch_up().await {
                return;
            }
            // Requests and the client's departure are still heard between catch-ups.
            match futures::FutureExt::now_or_never(incoming.next()) {
                None => continue,
                Some(Some(Ok(request))) => {
                    if !stream.handle(request).await {
                        return;
                    }
                    continue;
                }
                Some(_) => return,
            }
        }
        tokio::select! {
            request = incoming.next() => match request {
                Some(Ok(request)) => {
                    if !stream.handle(request).await {
                        return;
                    }
                }
                _ => return,
            },
            changed = revisions.changed() => {
                if changed.is_err() {
                    // The node stopped.
                    return;
                }
            }
            _ = progress.tick() => {
                if !stream.progress().await {
                    return;
                }
            }
            _ = stream.out.closed() => return,
        }
    }
}

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = ResponseStream<WatchResponse>;

    async fn watch(
        &self,
        request: Request<Streaming<WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let caller = self.0.caller(request.metadata())?;
        let (tx, mut rx) = tokio::sync::mpsc::channel(STREAM_BUFFER);
        tokio::spawn(run(self.0.clone(), caller, request.into_inner(), tx));
        let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        Ok(Response::new(Box::pin(stream)))
    }
}
