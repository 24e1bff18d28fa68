//! Raft's own lane through the actor: peer messages, the log writer's reports and ticks are
//! handled before client work, never behind it.
//!
//! actix works through an actor's whole mailbox before it polls anything else the actor runs
//! (streams, timers, notifications). Client requests arrive in the mailbox, so under a flood of
//! them the inbox from the peers and the tick timer waited until thousands of proposals had been
//! taken in: a leader sent no heartbeat and counted no acknowledgement meanwhile, and a follower
//! that had fallen behind on its own inbox could time out with the leader's messages unread.
//!
//! Here the peer inbox, the writer's reports and the next tick's time live in the actor itself:
//! - the [`Pump`] future wakes the actor when any of them is ready and handles them in turns of at
//!   most [`INBOX_TURN`] messages;
//! - every client request first calls [`Replicator::raft_first`], which takes whatever Raft
//!   traffic is already waiting and runs a tick that is due, so a client request never overtakes
//!   them;
//! - a tick is judged only after the inbox is drained: an election timer or CheckQuorum expires
//!   only when no message that would have reset it is waiting unread.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use actix::prelude::*;
use tokio::sync::mpsc;

use super::drive::fatal;
use super::Replicator;
use crate::cluster::Envelope;
use crate::raft::Message;
use crate::storage::Report;

/// Peer messages handled in one turn of the pump before it lets the actor's other work run.
const INBOX_TURN: usize = 64;

/// Bound on messages taken from the inbox in one go when draining it (before a tick, before a
/// client request): the inbox is bounded too, so this is only a guard against a peer that keeps
/// it full.
const DRAIN_MAX: usize = 4096;

/// What feeds the lane: the cluster layer's inbox, the writer's reports and the tick clock.
pub(super) struct Lane {
    inbox: Option<mpsc::Receiver<Envelope<Message>>>,
    reports: mpsc::UnboundedReceiver<Report>,
    reports_tx: mpsc::UnboundedSender<Report>,
    /// When the next tick is due: one tick period after the previous one ran.
    next_tick: Instant,
    /// Lateness of past ticks not yet reported to the core as a whole missed period.
    lag: std::time::Duration,
}

impl Lane {
    pub(super) fn new(inbox: Option<mpsc::Receiver<Envelope<Message>>>) -> Lane {
        let (reports_tx, reports) = mpsc::unbounded_channel();
        Lane {
            inbox,
            reports,
            reports_tx,
            next_tick: Instant::now(),
            lag: std::time::Duration::ZERO,
        }
    }

    /// Starts the tick clock: the first tick is due a period from now.
    pub(super) fn first_tick(&mut self, period: std::time::Duration) -> Instant {
        self.next_tick = Instant::now() + period;
        self.next_tick
    }

    /// Where the log writer's thread sends its reports.
    pub(super) fn report_sender(&self) -> mpsc::UnboundedSender<Report> {
        self.reports_tx.clone()
    }
}

/// The actor future that runs the lane; spawned once when the actor starts.
pub(super) struct Pump {
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Pump {
    pub(super) fn new(first_tick: Instant) -> Pump {
        Pump {
            timer: Box::pin(tokio::time::sleep_until(first_tick.into())),
        }
    }
}

impl ActorFuture<Replicator> for Pump {
    type Output = ();

    fn poll(
        mut self: Pin<&mut Self>,
        act: &mut Replicator,
        ctx: &mut Context<Replicator>,
        task: &mut TaskContext<'_>,
    ) -> Poll<()> {
        let mut worked = act.take_reports(ctx, Some(task));
        if ctx.state() != ActorState::Running {
            // A failed writer stopped the node: nothing more is stepped or sent.
            return Poll::Ready(());
        }
        // A due tick first: it reports a stall to the core before anything that waited during
        // the stall is stepped (a read on a lapsed lease), and it drains the inbox itself.
        worked |= act.tick_if_due(ctx);
        for _ in 0..INBOX_TURN {
            match act.lane.inbox.as_mut().map(|rx| rx.poll_recv(task)) {
                Some(Poll::Ready(Some(envelope))) => {
                    act.receive(envelope);
                    worked = true;
                }
                // Closed: the cluster layer is shutting down, i.e. the node is stopping.
                Some(Poll::Ready(None)) => act.lane.inbox = None,
                None | Some(Poll::Pending) => break,
            }
        }
        if act.lane.inbox.as_ref().is_some_and(|rx| !rx.is_empty()) {
            // More waits: let the actor's other work have a turn, then come back.
            task.waker().wake_by_ref();
        }
        if worked {
            act.drive(ctx);
        }
        let due = tokio::time::Instant::from_std(act.lane.next_tick);
        if self.timer.deadline() != due {
            self.timer.as_mut().reset(due);
        }
        if self.timer.as_mut().poll(task).is_ready() {
            // Due already (the work above took a while): run it on the next turn.
            task.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

impl Replicator {
    /// Called first by every client request: handles the Raft traffic already waiting and a
    /// tick that is due, so that the request does not overtake them.
    ///
    /// What they produce waits for the drive at the end of the mailbox turn, as the request's own
    /// proposal does, so a busy turn still writes one batch; only a tick drives at once, since
    /// its heartbeats (or its campaign) must not wait for the rest of the mailbox.
    pub(super) fn raft_first(&mut self, ctx: &mut Context<Self>) {
        let mut worked = self.take_reports(ctx, None);
        if ctx.state() != ActorState::Running {
            return;
        }
        let ticked = self.tick_if_due(ctx);
        worked |= self.drain_inbox() > 0;
        if ticked {
            self.drive(ctx);
        } else if worked {
            self.schedule_drive(ctx);
        }
    }

    /// Takes every writer report waiting; registers for a wake-up when given a task context.
    fn take_reports(
        &mut self,
        ctx: &mut Context<Self>,
        mut task: Option<&mut TaskContext<'_>>,
    ) -> bool {
        let mut taken = false;
        loop {
            let report = match &mut task {
                Some(task) => match self.lane.reports.poll_recv(task) {
                    Poll::Ready(report) => report,
                    Poll::Pending => None,
                },
                None => self.lane.reports.try_recv().ok(),
            };
            let Some(report) = report else { break };
            taken = true;
            match report {
                Ok(durable) => self.on_durable(durable.batch_id, ctx),
                Err(e) => {
                    fatal(ctx, &format!("log writer failed: {e}"));
                    break;
                }
            }
        }
        taken
    }

    /// Handles the peer messages already in the inbox; returns how many.
    fn drain_inbox(&mut self) -> usize {
        let mut n = 0;
        while n < DRAIN_MAX {
            let Some(Ok(envelope)) = self.lane.inbox.as_mut().map(|rx| rx.try_recv()) else {
                break;
            };
            self.receive(envelope);
            n += 1;
        }
        n
    }

    /// Ticks the core if a tick is due, after draining the inbox: a timeout is judged only with
    /// no message waiting that would have reset it. A stall is reported to the core before the
    /// inbox is drained, so no read that waited in it is answered from a lease the stall ended. The next tick is due a period after this one
    /// ran, never at a fixed rate: after a stall (a long apply, a paused process, a starved CPU)
    /// a fixed rate fires every missed tick back to back. Here a stall costs one tick.
    fn tick_if_due(&mut self, ctx: &mut Context<Self>) -> bool {
        let now = Instant::now();
        if now < self.lane.next_tick {
            return false;
        }
        let late = now - self.lane.next_tick;
        // A late tick means the actor (or the whole process) was busy: worth a line, since it is
        // what would have cost a leader its followers.
        if late > self.config.tick() * 5 {
            log::warn!(
                "node {}: tick {} ms late: the node was busy",
                self.id,
                late.as_millis()
            );
        }
        // Whole periods of lateness, carried over between ticks, reach the core's lease clock:
        // it must never count less time than has passed.
        self.lane.lag += late;
        let period = self.config.tick();
        let missed = (self.lane.lag.as_nanos() / period.as_nanos().max(1)) as u32;
        self.lane.lag -= period * missed;
        self.raft.note_stall(missed);
        self.drain_inbox();
        self.raft.tick();
        self.maybe_promote_learners(ctx);
        // Counted from when this tick was due to run, so that time spent in it is lateness of the
        // next one, never time the lease clock misses.
        self.lane.next_tick = now + period;
        true
    }

    /// One message from a peer, into the core.
    fn receive(&mut self, envelope: Envelope<Message>) {
        if self.inbox_tap.receiver_count() > 0 {
            let _ = self.inbox_tap.send(envelope.clone());
        }
        self.raft.step(envelope.pid, envelope.msg);
    }
}
