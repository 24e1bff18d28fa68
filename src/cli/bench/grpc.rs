//! `raftkv bench --protocol grpc`: the same closed-loop load through etcd's v3 gRPC API, with the
//! client generated from etcd's protocol (`crate::grpc::pb`). It drives a raftkv cluster's `grpc`
//! addresses or a real etcd cluster's client URLs alike, so both are measured by one client.
//!
//! Clients are tasks on a two-thread runtime sharing a few HTTP/2 connections to the leader (gRPC
//! multiplexes), each recording its latencies in its own histogram.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::transport::{Channel, Endpoint};

use super::report::Summary;
use super::worker::{histogram, Measured, Shared, LATENCY_US_MAX};
use super::{Progress, Workload};
use crate::cli::args::{BenchOp, ReadConsistency};
use crate::cli::error::CliError;
use crate::grpc::pb::etcdserverpb::kv_client::KvClient;
use crate::grpc::pb::etcdserverpb::maintenance_client::MaintenanceClient;
use crate::grpc::pb::etcdserverpb::{PutRequest, RangeRequest, StatusRequest};

/// Clients per HTTP/2 connection (etcd's own benchmark tool spreads its clients the same way).
const CLIENTS_PER_CONNECTION: usize = 16;
/// The most connections opened to the leader.
const MAX_CONNECTIONS: usize = 16;
/// Per-request bound: a stuck request counts as an error instead of stalling the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

fn channel(addr: &str) -> Result<Channel, CliError> {
    let addr = addr.trim_start_matches("http://");
    Ok(Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| CliError::Usage(format!("bad endpoint {addr}: {e}")))?
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true)
        .connect_lazy())
}

/// The endpoint of the leader, found by asking each endpoint's Maintenance.Status who leads and
/// which member it is itself.
async fn leader(endpoints: &[String]) -> Result<String, CliError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    while Instant::now() < deadline {
        let mut ids = Vec::new();
        for e in endpoints {
            match MaintenanceClient::new(channel(e)?)
                .status(StatusRequest {})
                .await
            {
                Ok(s) => {
                    let s = s.into_inner();
                    let me = s.header.map_or(0, |h| h.member_id);
                    ids.push((e.clone(), me, s.leader));
                }
                Err(err) => last = format!("{e}: {}", err.message()),
            }
        }
        let led = ids.iter().find_map(|(_, _, l)| (*l != 0).then_some(*l));
        if let Some(found) = led.and_then(|l| ids.iter().find(|(_, me, _)| *me == l)) {
            return Ok(found.0.clone());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(CliError::NoEndpoint {
        attempts: format!("no leader among the gRPC endpoints ({last})"),
    })
}

struct Load {
    keys: Vec<Vec<u8>>,
    value: Vec<u8>,
    serializable: bool,
}

impl Load {
    async fn once(&self, kv: &mut KvClient<Channel>, key: u64, put: bool) -> Result<(), String> {
        let key = self.keys[key as usize].clone();
        let result = if put {
            kv.put(PutRequest {
                key,
                value: self.value.clone(),
                ..PutRequest::default()
            })
            .await
            .map(drop)
        } else {
            kv.range(RangeRequest {
                key,
                serializable: self.serializable,
                ..RangeRequest::default()
            })
            .await
            .map(drop)
        };
        result.map_err(|s| format!("{:?}: {}", s.code(), s.message()))
    }
}

/// One client: requests back to back until told to stop.
async fn client(
    load: Arc<Load>,
    mut kv: KvClient<Channel>,
    op: BenchOp,
    shared: Arc<Shared>,
    seed: u64,
) -> Measured {
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut measured = Measured {
        latency_us: histogram(),
        last_error: None,
        last_refusal: None,
    };
    while !shared.stop.load(Ordering::Relaxed) {
        let key = next() % load.keys.len() as u64;
        let put = match op {
            BenchOp::Put => true,
            BenchOp::Get => false,
            BenchOp::Mixed => next() & 1 == 0,
        };
        let started = Instant::now();
        match load.once(&mut kv, key, put).await {
            Ok(()) => {
                let us = started.elapsed().as_micros() as u64;
                measured
                    .latency_us
                    .saturating_record(us.clamp(1, LATENCY_US_MAX));
                shared.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                measured.last_error = Some(e);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    measured
}

/// One run of `workload` through gRPC against `endpoints`.
pub(super) fn measure(
    endpoints: &[String],
    workload: &Workload,
    progress: Progress,
) -> Result<Summary, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Local(format!("cannot start a runtime: {e}")))?;
    runtime.block_on(async {
        let leader = leader(endpoints).await?;
        let connections = workload
            .clients
            .div_ceil(CLIENTS_PER_CONNECTION)
            .clamp(1, MAX_CONNECTIONS);
        let channels: Vec<Channel> = (0..connections)
            .map(|_| channel(&leader))
            .collect::<Result<_, _>>()?;
        let value: Vec<u8> = (0..workload.value_size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect();
        let load = Arc::new(Load {
            keys: (0..workload.keys)
                .map(|k| format!("bench-{k:08}").into_bytes())
                .collect(),
            value,
            serializable: workload.consistency == ReadConsistency::Local,
        });
        if workload.op != BenchOp::Put {
            eprintln!("preloading {} keys", workload.keys);
            let mut kv = KvClient::new(channels[0].clone());
            for key in 0..workload.keys {
                load.once(&mut kv, key, true)
                    .await
                    .map_err(|e| CliError::Local(format!("preloading failed: {e}")))?;
            }
        }
        let shared = Arc::new(Shared::default());
        let tasks: Vec<_> = (0..workload.clients)
            .map(|i| {
                let kv = KvClient::new(channels[i % connections].clone());
                tokio::spawn(client(
                    Arc::clone(&load),
                    kv,
                    workload.op,
                    Arc::clone(&shared),
                    i as u64 + 1,
                ))
            })
            .collect();
        let started = Instant::now();
        let mut last_ok = 0;
        let mut second = 0;
        while started.elapsed() < workload.duration {
            second += 1;
            let next = (started + Duration::from_secs(second)).min(started + workload.duration);
            tokio::time::sleep(next.saturating_duration_since(Instant::now())).await;
            if progress == Progress::EverySecond {
                let ok = shared.ok.load(Ordering::Relaxed);
                eprintln!(
                    "{:>5.1}s {:>9.0} ops/s  total {ok}  errors {}",
                    next.duration_since(started).as_secs_f64(),
                    (ok - last_ok) as f64,
                    shared.errors.load(Ordering::Relaxed)
                );
                last_ok = ok;
            }
        }
        let (window, ok_in_window) = (started.elapsed(), shared.ok.load(Ordering::Relaxed));
        shared.stop.store(true, Ordering::Relaxed);
        let mut measured = Vec::with_capacity(tasks.len());
        for task in tasks {
            if let Ok(m) = task.await {
                measured.push(m);
            }
        }
        Ok(Summary::merge(
            workload,
            &leader,
            window,
            ok_in_window,
            &shared,
            measured,
        ))
    })
}
