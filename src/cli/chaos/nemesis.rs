//! The nemesis: one fault at a time, chosen by the run's seed. Each lasts a second or three and is
//! then undone; a pause of one to two seconds separates them. The faults are a crash of the
//! leader (SIGKILL, then a restart), a graceful stop (SIGTERM: leadership is handed over) and
//! restart, a pause (SIGSTOP for longer than an election timeout, then SIGCONT), and a partition
//! of one node from all the others (the nodes' fault switch).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::cluster::ChaosCluster;
use super::history::Recorder;
use crate::cli::supervisor::Request;

#[derive(Clone, Copy, Debug)]
enum Fault {
    Kill,
    Stop,
    Pause,
    Partition,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::Stop => "stop",
            Fault::Pause => "pause",
            Fault::Partition => "partition",
        }
    }
}

/// Sleeps `d`, waking early when `stop` is set; false if it was.
fn nap(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
    }
    !stop.load(Ordering::Relaxed)
}

/// Starts the nemesis thread; it undoes its last fault before it returns.
pub fn spawn(
    cluster: ChaosCluster,
    seed: u64,
    recorder: Recorder,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x006e_656d_6573_6973);
        let mut faults = vec![Fault::Kill, Fault::Stop, Fault::Pause];
        if cluster.can_partition() {
            faults.push(Fault::Partition);
        }
        let ids = cluster.ids();
        loop {
            if !nap(Duration::from_millis(rng.random_range(1000..2000)), &stop) {
                return;
            }
            let fault = faults[rng.random_range(0..faults.len())];
            // A crash hits the leader (the interesting case); the others any node.
            let target = match fault {
                Fault::Kill => cluster
                    .leader()
                    .unwrap_or(ids[rng.random_range(0..ids.len())]),
                _ => ids[rng.random_range(0..ids.len())],
            };
            let text = format!("{} node {target}", fault.name());
            let applied = match fault {
                Fault::Kill => cluster.supervise(Request::Kill(target)).map(drop),
                Fault::Stop => cluster.supervise(Request::Stop(target)).map(drop),
                Fault::Pause => cluster.supervise(Request::Pause(target)).map(drop),
                Fault::Partition => cluster.set_isolated(target, true),
            };
            if let Err(e) = applied {
                eprintln!("chaos: nemesis: {text}: {e}");
                continue;
            }
            recorder.fault_started(text.clone());
            // Hold it, but undo it even when the run ends meanwhile.
            nap(Duration::from_millis(rng.random_range(1000..3000)), &stop);
            let undone = match fault {
                Fault::Kill | Fault::Stop => cluster.supervise(Request::Start(target)).map(drop),
                Fault::Pause => cluster.supervise(Request::Resume(target)).map(drop),
                Fault::Partition => cluster.set_isolated(target, false),
            };
            if let Err(e) = undone {
                eprintln!("chaos: nemesis: undoing {text}: {e}");
            }
            recorder.fault_ended(format!("end of {text}"));
            if stop.load(Ordering::Relaxed) {
                return;
            }
        }
    })
}

/// Makes sure every node runs, unfrozen and connected (after the run, whatever happened).
pub fn heal_all(cluster: &ChaosCluster, recorder: &Recorder) {
    for id in cluster.ids() {
        let _ = cluster.supervise(Request::Resume(id));
        let _ = cluster.supervise(Request::Start(id));
        if cluster.can_partition() {
            let _ = cluster.set_isolated(id, false);
        }
    }
    recorder.fault_ended("healed every node".into());
}
