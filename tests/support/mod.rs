//! The helpers every test target shares, in one place. Each target includes this tree with
//! `#[path = "../support/mod.rs"] mod support;` and uses a different part of it.
//!
//! - this module: a cluster of real `raftkv node` processes ([`Cluster`]): a temp config with free
//!   ports, one process per node with its output captured to a file, kill/stop/restart by id, HTTP
//!   helpers, and a `Drop` that kills every process even when the test panics; [`cli`] runs the
//!   `raftkv` command line and a `raftkv cluster` supervisor against such a config;
//! - [`inproc`]: the same cluster as replicator actors in this process; [`config`]: the config
//!   file both run with, and [`free_ports`](config::free_ports);
//! - [`client`], [`workload`], [`history`], [`checks`], [`linearizable`], [`txlog`]: clients that
//!   record histories under faults, and the checks run on them afterwards;
//! - [`raft`]: driving Raft cores by hand (builders, elections, transcripts);
//! - [`bridge`]: the ZeroMQ bridge (`raftkv::cluster`) on loopback; [`zmtp`]: raw ZMTP peers;
//! - [`state`]: applying entries to state machines in batches; [`text`]: a text-protocol client;
//!   [`grpc`]: channels to a cluster's etcd gRPC doors;
//! - [`machine`]: the claim that lets a test that loads the machine on purpose run alone.
#![allow(dead_code)]

pub mod bridge;
pub mod browser;
pub mod checks;
pub mod cli;
pub mod client;
pub mod config;
pub mod docker;
pub mod grpc;
pub mod history;
pub mod inproc;
pub mod linearizable;
pub mod machine;
pub mod raft;
pub mod state;
pub mod text;
pub mod txlog;
pub mod workload;
pub mod zmtp;

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// An HTTP answer: status, body and the `Location` header if any.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// A local cluster of `raftkv node` processes.
pub struct Cluster {
    pub dir: TempDir,
    pub config_path: PathBuf,
    pub n: u64,
    /// Per node: raft, http and text ports.
    pub ports: Vec<(u16, u16, u16)>,
    /// Per node: the gRPC port its `[[peers]]` entry names.
    pub grpc_ports: Vec<u16>,
    children: Vec<Option<Child>>,
    agent: ureq::Agent,
    /// Last: given back once `Drop` has killed the processes.
    _share: machine::Share,
}

/// Free loopback ports outside the ephemeral range (see [`config::free_ports`]).
pub fn free_ports(count: usize) -> Vec<u16> {
    config::free_ports(count)
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Cluster {
    /// Writes a config for `n` nodes (with `extra` lines appended to `[cluster]`) and starts them all.
    pub fn start(n: u64) -> Cluster {
        Self::start_with(n, "")
    }

    pub fn start_with(n: u64, extra: &str) -> Cluster {
        let mut cluster = Self::configure(n, extra);
        for id in 1..=n {
            cluster.start_node(id);
        }
        cluster
    }

    /// Writes the config without starting anything.
    pub fn configure(n: u64, extra: &str) -> Cluster {
        let share = machine::share();
        let dir = tempfile::tempdir().expect("temp dir");
        let (config_path, ports) = config::write_config(dir.path(), n, extra);
        let grpc_ports = ports.iter().map(|p| p.grpc).collect();
        let ports = ports.iter().map(|p| (p.raft, p.http, p.text)).collect();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        Cluster {
            dir,
            config_path,
            n,
            ports,
            grpc_ports,
            children: (0..n).map(|_| None).collect(),
            agent,
            _share: share,
        }
    }

    /// Where node `id`'s stdout and stderr go.
    pub fn output_path(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("node-{id}.out"))
    }

    /// Node `id`'s transaction log file.
    pub fn txlog_path(&self, id: u64) -> PathBuf {
        config::txlog_path(self.dir.path(), id)
    }

    /// Node `id`'s state-machine file (beside its transaction log).
    pub fn state_file_path(&self, id: u64) -> PathBuf {
        config::txlog_path(self.dir.path(), id).with_extension("state.json")
    }

    /// Starts node `id` (it must not be running).
    pub fn start_node(&mut self, id: u64) {
        let config = self.config_path.clone();
        self.start_node_with(id, &config);
    }

    /// Starts node `id` with another config file (say, one that names another secret).
    pub fn start_node_with(&mut self, id: u64, config: &Path) {
        self.start_node_args(id, config, &[]);
    }

    /// Starts node `id` with `config` and more `raftkv node` flags (say, `--join`).
    pub fn start_node_args(&mut self, id: u64, config: &Path, flags: &[&str]) {
        assert!(
            self.children[id as usize - 1].is_none(),
            "node {id} already runs"
        );
        let out = File::options()
            .create(true)
            .append(true)
            .open(self.output_path(id))
            .expect("node output file");
        let err = out.try_clone().expect("clone output file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_raftkv"));
        command
            .args(["node", "--id", &id.to_string(), "--config"])
            .arg(config)
            .args(flags)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        die_with_parent(&mut command);
        let child = command.spawn().expect("spawn raftkv node");
        self.children[id as usize - 1] = Some(child);
    }

    /// SIGKILL node `id` and reap it.
    pub fn kill(&mut self, id: u64) {
        if let Some(mut child) = self.children[id as usize - 1].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM node `id` and wait for it to exit (graceful stop); returns its exit code.
    pub fn stop(&mut self, id: u64) -> Option<i32> {
        let mut child = self.children[id as usize - 1].take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = wait_for("node to exit", Duration::from_secs(10), || {
            child.try_wait().ok().flatten()
        });
        status.code()
    }

    /// Kills node `id` if it runs, then starts it again on the same data.
    pub fn restart(&mut self, id: u64) {
        self.kill(id);
        self.start_node(id);
    }

    /// True if node `id` was started and has exited on its own (crashed, aborted).
    pub fn has_exited(&mut self, id: u64) -> bool {
        self.children[id as usize - 1]
            .as_mut()
            .is_some_and(|child| child.try_wait().ok().flatten().is_some())
    }

    pub fn is_running(&self, id: u64) -> bool {
        self.children[id as usize - 1].is_some()
    }

    /// The process id of node `id`, if it was started.
    pub fn pid(&self, id: u64) -> Option<u32> {
        self.children[id as usize - 1].as_ref().map(Child::id)
    }

    /// `127.0.0.1:<http port>` of node `id`.
    pub fn http_addr(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.ports[id as usize - 1].1)
    }

    pub fn url(&self, id: u64, path: &str) -> String {
        format!("http://{}{}", self.http_addr(id), path)
    }

    /// One HTTP request without following redirects. `Err` on connection failure.
    pub fn request(
        &self,
        method: &str,
        id: u64,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Reply, String> {
        self.request_with(method, &self.url(id, path), body, &[])
    }

    /// A request to an absolute URL with extra headers.
    pub fn request_with(
        &self,
        method: &str,
        url: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let result = match method {
            "GET" | "DELETE" => {
                let mut req = if method == "GET" {
                    self.agent.get(url)
                } else {
                    self.agent.delete(url)
                };
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.call()
            }
            _ => {
                let mut req = match method {
                    "PUT" => self.agent.put(url),
                    "POST" => self.agent.post(url),
                    other => panic!("unsupported method {other}"),
                };
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.send(body.unwrap_or(b""))
            }
        };
        let mut resp = result.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok(Reply {
            status,
            body,
            location,
        })
    }

    /// Like [`Cluster::request`], following up to 5 redirects (as `curl -L` does).
    pub fn request_follow(
        &self,
        method: &str,
        id: u64,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Reply, String> {
        let mut url = self.url(id, path);
        for _ in 0..5 {
            let reply = self.request_with(method, &url, body, &[])?;
            match (reply.status, &reply.location) {
                (307 | 308, Some(loc)) => url = loc.clone(),
                _ => return Ok(reply),
            }
        }
        Err("too many redirects".into())
    }

    /// Node `id`'s `/v1/status`, if it answers.
    pub fn status(&self, id: u64) -> Option<serde_json::Value> {
        let reply = self.request("GET", id, "/v1/status", None).ok()?;
        (reply.status == 200).then(|| reply.json())
    }

    /// Waits until the running nodes agree on one leader among them; returns its id.
    pub fn wait_for_leader(&self, timeout: Duration) -> u64 {
        let running: Vec<u64> = (1..=self.n).filter(|&id| self.is_running(id)).collect();
        self.wait_for_leader_among(&running, timeout)
    }

    /// Like [`Cluster::wait_for_leader`] for nodes this harness did not start (a `raftkv cluster`
    /// supervisor's): asks the nodes `ids` only.
    pub fn wait_for_leader_among(&self, ids: &[u64], timeout: Duration) -> u64 {
        self.wait_for_agreed_leader(ids, self.n as usize, timeout)
    }

    /// Waits until a leader among `ids` is followed by a majority of `ids` themselves (for a
    /// cluster whose membership is not the config file's); returns its id.
    pub fn wait_for_leader_of(&self, ids: &[u64], timeout: Duration) -> u64 {
        self.wait_for_agreed_leader(ids, ids.len(), timeout)
    }

    /// A leader among `ids` that more than half of `members` nodes (asked among `ids`) follow.
    fn wait_for_agreed_leader(&self, ids: &[u64], members: usize, timeout: Duration) -> u64 {
        wait_for("a leader", timeout, || {
            let statuses: Vec<serde_json::Value> =
                ids.iter().filter_map(|&id| self.status(id)).collect();
            let leader = statuses
                .iter()
                .find(|s| s["role"] == "leader")
                .and_then(|s| s["id"].as_u64())?;
            let agreed = statuses
                .iter()
                .filter(|s| s["leader"].as_u64() == Some(leader))
                .count();
            (agreed * 2 > members).then_some(leader)
        })
    }

    /// The http addresses of nodes `ids`, comma-separated, for `raftkv --endpoints`.
    pub fn endpoints(&self, ids: &[u64]) -> String {
        ids.iter()
            .map(|&id| self.http_addr(id))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether every port of node `id` can be bound again (its process is gone).
    pub fn ports_free(&self, id: u64) -> bool {
        let (raft, http, text) = self.ports[id as usize - 1];
        [raft, http, text, self.grpc_ports[id as usize - 1]]
            .iter()
            .all(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
    }

    /// The transaction log lines of node `id` (empty if the file does not exist yet).
    pub fn txlog(&self, id: u64) -> Vec<String> {
        read_lines(&self.txlog_path(id))
    }
}

impl Cluster {
    /// Ids of the nodes this harness runs.
    pub fn running(&self) -> Vec<u64> {
        (1..=self.n).filter(|&id| self.is_running(id)).collect()
    }

    /// `127.0.0.1:<http port>` of every node, node 1 first.
    pub fn http_addrs(&self) -> Vec<String> {
        (1..=self.n).map(|id| self.http_addr(id)).collect()
    }

    /// Waits until a node among `among` leads in a term above `above_term`, and a majority of the
    /// whole cluster follows it in that term; returns its id and term.
    pub fn wait_for_leader_above(
        &self,
        among: &[u64],
        above_term: u64,
        timeout: Duration,
    ) -> (u64, u64) {
        wait_for("a leader", timeout, || {
            let statuses: Vec<serde_json::Value> = self
                .running()
                .iter()
                .filter_map(|&id| self.status(id))
                .collect();
            let leader = statuses.iter().find(|s| {
                s["role"] == "leader"
                    && s["term"].as_u64() > Some(above_term)
                    && s["id"].as_u64().is_some_and(|id| among.contains(&id))
            })?;
            let (id, term) = (leader["id"].as_u64()?, leader["term"].as_u64()?);
            let agreed = statuses
                .iter()
                .filter(|s| s["leader"].as_u64() == Some(id) && s["term"].as_u64() == Some(term))
                .count();
            (agreed * 2 > self.n as usize).then_some((id, term))
        })
    }

    /// Waits until node `id` answers `/v1/status`.
    pub fn wait_up(&self, id: u64, timeout: Duration) -> serde_json::Value {
        wait_for(&format!("node {id} to answer"), timeout, || self.status(id))
    }

    /// Node `id`'s `/v1/state`, without the fields that only say how far it has applied.
    pub fn state_without_volatile(&self, id: u64) -> Option<serde_json::Value> {
        let reply = self.request("GET", id, "/v1/state", None).ok()?;
        if reply.status != 200 {
            return None;
        }
        Some(without_volatile(reply.json()))
    }

    /// Waits until nodes `ids` have applied everything they know committed, agree on commit index
    /// and last log index, and show the same state and transaction log; returns that state.
    pub fn wait_converged(&self, ids: &[u64], timeout: Duration) -> serde_json::Value {
        let what = format!("nodes {ids:?} to converge");
        wait_for(&what, timeout, || {
            let statuses: Vec<serde_json::Value> = ids
                .iter()
                .map(|&id| self.status(id))
                .collect::<Option<_>>()?;
            let first = &statuses[0];
            let same = statuses.iter().all(|s| {
                s["applied_index"] == first["commit_index"]
                    && s["commit_index"] == first["commit_index"]
                    && s["last_log_index"] == first["last_log_index"]
            });
            if !same {
                return None;
            }
            let states: Vec<serde_json::Value> = ids
                .iter()
                .map(|&id| self.state_without_volatile(id))
                .collect::<Option<_>>()?;
            let logs: Vec<Vec<String>> = ids.iter().map(|&id| self.txlog(id)).collect();
            (states.iter().all(|s| *s == states[0]) && txlog::histories_agree(&logs))
                .then(|| states[0].clone())
        })
    }

    /// Everything node `id` printed so far.
    pub fn output(&self, id: u64) -> String {
        std::fs::read_to_string(self.output_path(id)).unwrap_or_default()
    }

    /// Node `id`'s data directory.
    pub fn data_dir(&self, id: u64) -> PathBuf {
        self.dir.path().join("data").join(format!("node-{id}"))
    }
}

/// Has the kernel SIGKILL the child when the thread that started it ends, so no node outlives
/// its test even when the test process itself is killed (a CI timeout) and `Drop` never runs.
/// Nodes are started from the test's own thread, which lives as long as the test.
pub fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id();
        // SAFETY: between fork and exec the closure only makes async-signal-safe calls (prctl,
        // getppid) and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
}

/// Sets a flag when dropped, so client threads stop even when the test panics.
pub struct StopOnDrop(pub std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The lines of a file, or nothing if it does not exist.
pub fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for id in 1..=self.n {
            self.kill(id);
        }
        if std::thread::panicking() {
            for id in 1..=self.n {
                let out = std::fs::read_to_string(self.output_path(id)).unwrap_or_default();
                let tail: Vec<&str> = out.lines().rev().take(15).collect();
                eprintln!("--- node {id} output (last lines) ---");
                for line in tail.into_iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

/// A `/v1/state` JSON without what differs between nodes that applied the same commands: the
/// applied index and term (a node may have applied a later no-op).
pub fn without_volatile(mut state: serde_json::Value) -> serde_json::Value {
    if let Some(map) = state.as_object_mut() {
        map.remove("applied_index");
        map.remove("applied_term");
    }
    state
}
