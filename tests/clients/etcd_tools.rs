//! Acceptance with clients no one here wrote (SCENARIOS.md section 6): Debian's `etcdctl` (package
//! etcd-client, 3.4) and `python3-etcd3` drive a three-node cluster through the etcd v3 gRPC API,
//! running the scripts in `tests/etcd_tools/`, which check their own output. One member is stopped
//! and restarted between the etcdctl phases.
//!
//! The same driver runs the scripts against a real etcd cluster (package etcd-server), which is how
//! the scripts were validated to assert etcd's true behaviour, and how to compare the two:
//!
//! ```text
//! RAFTKV_ETCD_TOOLS_AGAINST=etcd \
//!   cargo test --test clients etcd_tools -- --include-ignored --nocapture
//! ```
//!
//! On a machine without the tools (`apt-get install etcd-client python3-etcd3`) the test prints
//! that it skipped, so the README's `cargo test` works on a fresh machine; `.ci/run` installs them
//! and sets `RAFTKV_REQUIRE_ETCD_TOOLS=1`, which makes missing tools a failure there.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{wait_for, Cluster};
use tempfile::TempDir;

/// How long one script may run before it counts as hung: its own commands time out far sooner.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// The member stopped and restarted between the etcdctl phases.
const STOPPED_MEMBER: u64 = 2;

#[test]
fn etcdctl_and_python_etcd3_sessions() {
    let Some(python) = tools_or_skip() else {
        return;
    };
    let mut servers = Servers::start();
    let endpoints = servers.endpoints();
    let member = endpoints[STOPPED_MEMBER as usize - 1].clone();
    let scripts = Scripts {
        dir: servers.scratch_dir().to_path_buf(),
        endpoints: endpoints.join(","),
        member,
        python,
    };

    scripts.etcdctl("main");
    scripts.python_etcd3();
    servers.stop_member(STOPPED_MEMBER);
    scripts.etcdctl("stopped");
    servers.start_member(STOPPED_MEMBER);
    scripts.etcdctl("restarted");
}

/// A script under `tests/etcd_tools/`.
fn script(name: &str) -> String {
    format!("{}/tests/etcd_tools/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The python interpreter that imports `etcd3`, after checking `etcdctl` runs; `None` to skip.
/// Missing tools fail the test when RAFTKV_REQUIRE_ETCD_TOOLS=1 (CI installs them, so skipping
/// there would hide a broken setup); elsewhere the test says it skipped.
fn tools_or_skip() -> Option<String> {
    let etcdctl = succeeds("etcdctl", &["version"]);
    // A pyenv or venv `python3` first on PATH does not see Debian's dist-packages.
    let candidates = [std::env::var("RAFTKV_PYTHON").ok(), Some("python3".into())]
        .into_iter()
        .flatten()
        .chain(["/usr/bin/python3".to_string()]);
    let python = candidates
        .into_iter()
        .find(|python| succeeds(python, &["-c", "import etcd3"]));
    let mut missing = Vec::new();
    if !etcdctl {
        missing.push("`etcdctl` (apt-get install etcd-client)");
    }
    if python.is_none() {
        missing.push("`python3 -c 'import etcd3'` (apt-get install python3-etcd3)");
    }
    if missing.is_empty() {
        return python;
    }
    let message = format!("missing {}", missing.join(" and "));
    if std::env::var("RAFTKV_REQUIRE_ETCD_TOOLS").as_deref() == Ok("1") {
        panic!("{message}, and RAFTKV_REQUIRE_ETCD_TOOLS=1: install them");
    }
    eprintln!("SKIPPED etcd_tools: {message}");
    None
}

/// Whether `program args` runs and exits 0.
fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What every script is told: where the cluster is and which member the driver stops.
struct Scripts {
    /// Where the transcripts go.
    dir: PathBuf,
    endpoints: String,
    member: String,
    /// The interpreter that imports `etcd3`.
    python: String,
}

impl Scripts {
    /// One phase of the etcdctl session: main, stopped or restarted.
    fn etcdctl(&self, phase: &str) {
        let name = format!("etcdctl {phase}");
        self.run(&name, "bash", &[&script("etcdctl_session.sh"), phase]);
    }

    fn python_etcd3(&self) {
        let session = script("python_etcd3_session.py");
        self.run("python3-etcd3", &self.python, &[&session]);
    }

    /// Runs `program args` to completion; panics with everything it printed if it fails or hangs.
    fn run(&self, name: &str, program: &str, args: &[&str]) {
        let output = self.dir.join(format!("{}.out", name.replace(' ', "-")));
        let out = File::create(&output).expect("script output file");
        let err = out.try_clone().expect("clone output file");
        let mut command = Command::new(program);
        // A developer's etcdctl settings must not change what the scripts see.
        for (key, _) in std::env::vars() {
            if key.starts_with("ETCDCTL_") {
                command.env_remove(key);
            }
        }
        let mut child = command
            .args(args)
            .env("ETCD_TOOLS_ENDPOINTS", &self.endpoints)
            .env("ETCD_TOOLS_MEMBER", &self.member)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        let deadline = Instant::now() + SCRIPT_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the script") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let printed = std::fs::read_to_string(&output).unwrap_or_default();
        match status {
            Some(s) if s.success() => eprintln!("--- {name}: passed ---\n{printed}"),
            Some(s) => panic!("{name} failed ({s}); its transcript:\n{printed}"),
            None => panic!("{name} hung for {SCRIPT_TIMEOUT:?}; its transcript:\n{printed}"),
        }
    }
}

/// The cluster under test: raftkv nodes, or real etcd members with RAFTKV_ETCD_TOOLS_AGAINST=etcd.
enum Servers {
    Raftkv { cluster: Cluster, grpc: Vec<String> },
    Etcd(EtcdCluster),
}

impl Servers {
    fn start() -> Servers {
        match std::env::var("RAFTKV_ETCD_TOOLS_AGAINST").as_deref() {
            Ok("etcd") => Servers::Etcd(EtcdCluster::start(3)),
            Ok("raftkv") | Err(_) => {
                let cluster = Cluster::start(3);
                cluster.wait_for_leader(STARTUP_TIMEOUT);
                let grpc = grpc_addrs(&cluster.config_path, 3);
                for addr in &grpc {
                    wait_listening(addr);
                }
                Servers::Raftkv { cluster, grpc }
            }
            Ok(other) => panic!("RAFTKV_ETCD_TOOLS_AGAINST={other}: expected raftkv or etcd"),
        }
    }

    /// The client (gRPC) address of each member, member 1 first.
    fn endpoints(&self) -> Vec<String> {
        match self {
            Servers::Raftkv { grpc, .. } => grpc.clone(),
            Servers::Etcd(etcd) => etcd.endpoints(),
        }
    }

    /// A directory that lives as long as the cluster, for the scripts' transcripts.
    fn scratch_dir(&self) -> &Path {
        match self {
            Servers::Raftkv { cluster, .. } => cluster.dir.path(),
            Servers::Etcd(etcd) => etcd.dir.path(),
        }
    }

    /// Stops member `id` gracefully (SIGTERM), as an operator would.
    fn stop_member(&mut self, id: u64) {
        match self {
            Servers::Raftkv { cluster, .. } => {
                cluster.stop(id);
            }
            Servers::Etcd(etcd) => etcd.stop_member(id),
        }
    }

    fn start_member(&mut self, id: u64) {
        match self {
            Servers::Raftkv { cluster, .. } => cluster.start_node(id),
            Servers::Etcd(etcd) => etcd.start_member(id),
        }
    }
}

/// The `grpc` address of nodes 1..=n, read from the config file the nodes themselves read.
fn grpc_addrs(config_path: &Path, n: u64) -> Vec<String> {
    let text = std::fs::read_to_string(config_path).expect("read the cluster config");
    let config: toml::Table = text.parse().expect("the cluster config is TOML");
    let peers = config["peers"].as_array().expect("[[peers]] tables");
    (1..=n)
        .map(|id| {
            let peer = peers
                .iter()
                .find(|p| p.get("id").and_then(|v| v.as_integer()) == Some(id as i64))
                .unwrap_or_else(|| panic!("no [[peers]] entry for node {id}"));
            peer.get("grpc")
                .and_then(|v| v.as_str())
                .unwrap_or_else(|| {
                    panic!("node {id} has no `grpc` address in the test config (tests/support/config.rs)")
                })
                .to_string()
        })
        .collect()
}

/// Waits until something accepts TCP connections on `addr`.
fn wait_listening(addr: &str) {
    wait_for(&format!("{addr} to listen"), STARTUP_TIMEOUT, || {
        std::net::TcpStream::connect(addr).ok()
    });
}

/// A real etcd cluster of `etcd` processes on free loopback ports, for validating the scripts.
struct EtcdCluster {
    dir: TempDir,
    /// Per member: client port, peer port.
    ports: Vec<(u16, u16)>,
    children: Vec<Option<Child>>,
}

impl EtcdCluster {
    fn start(n: usize) -> EtcdCluster {
        assert!(
            succeeds("etcd", &["--version"]),
            "RAFTKV_ETCD_TOOLS_AGAINST=etcd needs `etcd` (apt-get install etcd-server)"
        );
        let ports = support::free_ports(2 * n)
            .chunks(2)
            .map(|c| (c[0], c[1]))
            .collect();
        let mut etcd = EtcdCluster {
            dir: tempfile::tempdir().expect("temp dir"),
            ports,
            children: (0..n).map(|_| None).collect(),
        };
        for id in 1..=n as u64 {
            etcd.start_member(id);
        }
        let endpoints = etcd.endpoints().join(",");
        wait_for("etcd to be healthy", STARTUP_TIMEOUT, || {
            let args = ["--endpoints", &endpoints, "endpoint", "health"];
            succeeds("etcdctl", &args).then_some(())
        });
        etcd
    }

    fn endpoints(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|(client, _)| format!("127.0.0.1:{client}"))
            .collect()
    }

    fn start_member(&mut self, id: u64) {
        let i = id as usize - 1;
        assert!(self.children[i].is_none(), "etcd member {id} already runs");
        let (client, peer) = self.ports[i];
        let initial_cluster = self
            .ports
            .iter()
            .enumerate()
            .map(|(j, (_, p))| format!("e{}=http://127.0.0.1:{p}", j + 1))
            .collect::<Vec<_>>()
            .join(",");
        let out = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("e{id}.out")))
            .expect("etcd output file");
        let err = out.try_clone().expect("clone output file");
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut command = Command::new("etcd");
        command
            .arg(format!("--name=e{id}"))
            .arg(format!(
                "--data-dir={}",
                self.dir.path().join(format!("e{id}")).display()
            ))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster={initial_cluster}"))
            .arg("--initial-cluster-token=raftkv-etcd-tools")
            .arg("--initial-cluster-state=new")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        support::die_with_parent(&mut command);
        self.children[i] = Some(command.spawn().expect("spawn etcd"));
    }

    fn stop_member(&mut self, id: u64) {
        let Some(mut child) = self.children[id as usize - 1].take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        wait_for("etcd to exit", STARTUP_TIMEOUT, || {
            child.try_wait().ok().flatten()
        });
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            for id in 1..=self.children.len() {
                let path = self.dir.path().join(format!("e{id}.out"));
                let out = std::fs::read_to_string(path).unwrap_or_default();
                let tail: Vec<&str> = out.lines().rev().take(10).collect();
                eprintln!("--- etcd member {id} output (last lines) ---");
                for line in tail.into_iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}
