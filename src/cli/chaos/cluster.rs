//! The cluster a chaos run works on: one it starts (a `raftkv cluster` child process on a fresh
//! config) or the running one of a config file, reached through its supervisor's control socket
//! (stop, start, kill, pause, resume) and its nodes' HTTP doors (status, the fault switch).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::history::Recorder;
use crate::cli::error::CliError;
use crate::cli::supervisor::{ask_supervisor, socket_path, Request};
use crate::config::Config;

/// What a node's `/v1/status` says of its role, its leader and its term.
pub struct Status {
    pub role: String,
    pub leader: Option<u64>,
    pub term: u64,
}

/// A cluster started by this run: the supervisor process and its directory.
struct Owned {
    supervisor: Child,
    dir: PathBuf,
}

struct Inner {
    config: Config,
    socket: PathBuf,
    owned: Mutex<Option<Owned>>,
    agent: ureq::Agent,
}

/// Cheap to clone; shared by the nemesis and the monitor.
#[derive(Clone)]
pub struct ChaosCluster {
    inner: Arc<Inner>,
}

/// Status and fault-switch requests: a paused node must not hold the monitor or the nemesis long.
fn agent() -> ureq::Agent {
    crate::cli::client::agent(Duration::from_millis(1500))
}

/// `n` ports free on 127.0.0.1 now (each held until all are chosen, so they differ).
fn free_ports(n: usize) -> Result<Vec<u16>, CliError> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::Local(format!("cannot find free ports: {e}")))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::Local(format!("cannot find free ports: {e}")))
}

impl ChaosCluster {
    /// Writes a config of `nodes` nodes on free ports (with the fault switch on) into a new
    /// temporary directory and starts `raftkv cluster` on it.
    pub fn start(nodes: u64) -> Result<ChaosCluster, CliError> {
        if !(1..=7).contains(&nodes) {
            return Err(CliError::Usage(format!(
                "--nodes must be 1 to 7, not {nodes}"
            )));
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("raftkv-chaos-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::Local(format!("cannot create {}: {e}", dir.display())))?;
        let ports = free_ports(3 * nodes as usize)?;
        let mut text = String::from(
            "# written by raftkv chaos\n[cluster]\ndata_dir = \"data\"\nlog_dir = \"logs\"\n\
             test_faults = true\n",
        );
        for (i, p) in ports.chunks(3).enumerate() {
            text.push_str(&format!(
                "\n[[peers]]\nid = {}\nraft = \"127.0.0.1:{}\"\nhttp = \"127.0.0.1:{}\"\n\
                 text = \"127.0.0.1:{}\"\n",
                i + 1,
                p[0],
                p[1],
                p[2]
            ));
        }
        let path = dir.join("cluster.toml");
        std::fs::write(&path, text)
            .map_err(|e| CliError::Local(format!("cannot write {}: {e}", path.display())))?;
        let config = Config::load(&path).map_err(|e| CliError::Local(e.to_string()))?;
        let log = std::fs::File::create(dir.join("cluster.log"))
            .map_err(|e| CliError::Local(format!("cannot create the cluster log: {e}")))?;
        let err = log
            .try_clone()
            .map_err(|e| CliError::Local(format!("cannot create the cluster log: {e}")))?;
        let exe = std::env::current_exe()
            .map_err(|e| CliError::Local(format!("cannot find the raftkv binary: {e}")))?;
        let supervisor = Command::new(exe)
            .arg("cluster")
            .arg("--config")
            .arg(&path)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| CliError::Local(format!("cannot start raftkv cluster: {e}")))?;
        eprintln!(
            "chaos: started a {nodes}-node cluster in {} (its output: cluster.log)",
            dir.display()
        );
        let socket = socket_path(&config.cluster().data_dir);
        Ok(ChaosCluster {
            inner: Arc::new(Inner {
                config,
                socket,
                owned: Mutex::new(Some(Owned { supervisor, dir })),
                agent: agent(),
            }),
        })
    }

    /// The running `raftkv cluster --config path`.
    pub fn attach(path: &Path) -> Result<ChaosCluster, CliError> {
        let config = Config::load(path).map_err(|e| CliError::Usage(e.to_string()))?;
        let socket = socket_path(&config.cluster().data_dir);
        ask_supervisor(&socket, Request::Ps)?;
        if !config.cluster().test_faults {
            eprintln!(
                "chaos: {} does not set test_faults = true: no partitions this run",
                path.display()
            );
        }
        Ok(ChaosCluster {
            inner: Arc::new(Inner {
                config,
                socket,
                owned: Mutex::new(None),
                agent: agent(),
            }),
        })
    }

    pub fn ids(&self) -> Vec<u64> {
        self.inner.config.ids()
    }

    /// `(id, host:port)` of every node's HTTP door.
    pub fn http_addrs(&self) -> Vec<(u64, String)> {
        self.inner
            .config
            .peers()
            .iter()
            .map(|p| (p.id, p.http.to_string()))
            .collect()
    }

    fn http(&self, id: u64) -> Option<String> {
        self.inner
            .config
            .node(id)
            .ok()
            .map(|p| format!("{}://{}", self.inner.config.http_scheme(), p.http))
    }

    /// Whether partitions are possible (the nodes run with the fault switch).
    pub fn can_partition(&self) -> bool {
        self.inner.config.cluster().test_faults
    }

    /// Node `id`'s `/v1/status`.
    pub fn status(&self, id: u64) -> Option<Status> {
        let url = format!("{}/v1/status", self.http(id)?);
        let mut reply = self.inner.agent.get(&url).call().ok()?;
        let body: serde_json::Value =
            serde_json::from_str(&reply.body_mut().read_to_string().ok()?).ok()?;
        Some(Status {
            role: body["role"].as_str()?.to_string(),
            leader: body["leader"].as_u64(),
            term: body["term"].as_u64()?,
        })
    }

    /// The node a majority of the nodes follow, and that says it leads.
    pub fn leader(&self) -> Option<u64> {
        let ids = self.ids();
        let statuses: Vec<(u64, Status)> = ids
            .iter()
            .filter_map(|&id| self.status(id).map(|s| (id, s)))
            .collect();
        let (leader, _) = statuses.iter().find(|(_, s)| s.role == "leader")?;
        let following = statuses
            .iter()
            .filter(|(_, s)| s.leader == Some(*leader))
            .count();
        (following > ids.len() / 2).then_some(*leader)
    }

    pub fn wait_for_leader(&self, timeout: Duration) -> Result<u64, CliError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(leader) = self.leader() {
                return Ok(leader);
            }
            if Instant::now() > deadline {
                return Err(CliError::Local(format!(
                    "no leader after {timeout:?}: is the cluster running?"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Asks the supervisor (stop, start, kill, pause, resume).
    pub fn supervise(&self, request: Request) -> Result<String, CliError> {
        ask_supervisor(&self.inner.socket, request)
    }

    /// Cuts node `id` off from every peer (`isolate`) or lets it talk again.
    pub fn set_isolated(&self, id: u64, isolated: bool) -> Result<(), CliError> {
        let path = if isolated {
            "/v1/test/isolate"
        } else {
            "/v1/test/heal"
        };
        let base = self
            .http(id)
            .ok_or_else(|| CliError::Usage(format!("no node {id}")))?;
        match self.inner.agent.post(format!("{base}{path}")).send_empty() {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(CliError::Local(format!(
                "node {id} answered {}",
                r.status()
            ))),
            Err(e) => Err(CliError::Local(format!("node {id}: {e}"))),
        }
    }

    /// Polls every node's status every 200 ms, recording each leader and term seen, until `stop`.
    pub fn spawn_monitor(&self, recorder: Recorder, stop: Arc<AtomicBool>) -> JoinHandle<()> {
        let cluster = self.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for id in cluster.ids() {
                    if let Some(status) = cluster.status(id) {
                        if status.role == "leader" {
                            recorder.leader(Some(id), status.term);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    }

    /// Stops the cluster this run started (if any); its directory is removed after a clean run
    /// and kept (and named) otherwise.
    pub fn finish(&self, clean: bool) {
        let owned = self
            .inner
            .owned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut owned) = owned else { return };
        let pid = owned.supervisor.id() as libc::pid_t;
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = owned.supervisor.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = owned.supervisor.kill();
        let _ = owned.supervisor.wait();
        if clean {
            let _ = std::fs::remove_dir_all(&owned.dir);
        } else {
            eprintln!(
                "chaos: kept the cluster's data, transaction logs and output in {}",
                owned.dir.display()
            );
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A run that ended early (an error) still stops its cluster.
        if let Some(mut owned) = self
            .owned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = owned.supervisor.kill();
            let _ = owned.supervisor.wait();
        }
    }
}
