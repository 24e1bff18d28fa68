//! The command line as clap (derive) types: every subcommand and flag, with its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// raftkv: a small, fast, correct replicated data store built on Raft.
///
/// Exit codes: 0 success; 1 the cluster answered with an error (not found, empty stack, bad
/// request); 2 bad usage or config; 3 the cluster could not answer (no endpoint reachable, no
/// leader, timed out).
#[derive(Debug, Parser)]
#[command(name = "raftkv", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Cmd,
}

/// Options every subcommand accepts, before or after its name. Each is also read from the
/// environment as `RAFTKV_<FLAG>` (`RAFTKV_ENDPOINTS=h:p,h:p`), like etcdctl's `ETCDCTL_*`; a flag
/// on the command line wins over the variable.
#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// The cluster's TOML config (default: the embedded 5-node local cluster).
    #[arg(long, global = true, env = "RAFTKV_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Comma-separated host:port HTTP endpoints (default: every node of the config).
    #[arg(
        long,
        global = true,
        env = "RAFTKV_ENDPOINTS",
        value_delimiter = ',',
        value_name = "HOST:PORT,..."
    )]
    pub endpoints: Vec<String>,
    /// How a node writes its log lines: logfmt `key=value` lines, or one JSON object per line for
    /// log shippers (`RUST_LOG` picks the levels).
    #[arg(
        long,
        global = true,
        env = "RAFTKV_LOG_FORMAT",
        value_enum,
        default_value = "logfmt"
    )]
    pub log_format: super::logging::LogFormat,
    /// Output format (the default depends on the command: a table for `member list`).
    #[arg(long, short = 'w', global = true, env = "RAFTKV_WRITE_OUT", value_enum)]
    pub write_out: Option<WriteOut>,
    /// Give up on a command after this long, e.g. 5s, 1500ms or 1m 30s.
    #[arg(
        long,
        global = true,
        env = "RAFTKV_COMMAND_TIMEOUT",
        default_value = "10s",
        value_parser = parse_duration
    )]
    pub command_timeout: std::time::Duration,
    /// Speak TLS to the endpoints, trusting the CA certificates in this PEM file (etcdctl's
    /// `--cacert`).
    #[arg(long, global = true, env = "RAFTKV_CACERT", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// A client certificate (PEM) for clusters that require one; needs `--key` and `--cacert`.
    #[arg(
        long = "cert",
        id = "client_cert",
        global = true,
        env = "RAFTKV_CERT",
        value_name = "FILE",
        requires = "client_key"
    )]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of `--cert`. (Ids differ from the flag names: commands have a
    /// `key` argument of their own.)
    #[arg(
        long = "key",
        id = "client_key",
        global = true,
        env = "RAFTKV_KEY",
        value_name = "FILE",
        requires = "client_cert"
    )]
    pub key: Option<PathBuf>,
    /// Act as this user while auth is on: `USER:PASSWORD` (etcdctl's `--user`).
    #[arg(
        long = "user",
        id = "auth_user",
        global = true,
        env = "RAFTKV_USER",
        value_name = "USER:PASSWORD"
    )]
    pub user: Option<String>,
}

/// How results are printed (etcdctl's `--write-out`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WriteOut {
    /// Plain values, one per line.
    Simple,
    /// One JSON value per command.
    Json,
    /// An ASCII table with a header.
    Table,
}

/// Read consistency (`?consistency=` of the HTTP API).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ReadConsistency {
    /// Confirmed with a quorum through the leader (ReadIndex): never stale (etcdctl: `l`).
    #[default]
    #[value(alias = "l")]
    Linearizable,
    /// Whatever the contacted node has applied: fast, possibly stale (etcdctl: `s`,
    /// serializable).
    #[value(alias = "s", alias = "serializable")]
    Local,
    /// Through the log like a write: linearizable and slow.
    Log,
}

/// Flags of read commands.
#[derive(Debug, Args)]
pub struct ReadOpts {
    /// Read consistency.
    #[arg(long, value_enum, default_value_t)]
    pub consistency: ReadConsistency,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run one node of a cluster: needs --config FILE (or RAFTKV_CONFIG), or --default-cluster.
    Node {
        /// This node's id in the config.
        #[arg(long, env = "RAFTKV_NODE_ID", required_unless_present = "name")]
        id: Option<u64>,
        /// Pick this node's entry by host name instead of --id: the peer whose raft address's
        /// host is NAME, or starts with NAME and a dot (`raftkv-0` for
        /// `raftkv-0.raftkv.default.svc:2380`, as a StatefulSet pod's $(HOSTNAME)).
        #[arg(long, env = "RAFTKV_NODE_NAME", conflicts_with = "id")]
        name: Option<String>,
        /// Run as a node of the embedded five-node local cluster (what `raftkv cluster` starts);
        /// without it, a node refuses to start unless --config names its cluster.
        #[arg(long, conflicts_with = "config")]
        default_cluster: bool,
        /// Join a running cluster instead of forming one: the node starts empty, never
        /// campaigns, and waits for the leader after `raftkv member add ID ...` (the config
        /// lists this node among its peers; after the first start the flag has no effect).
        #[arg(long)]
        join: bool,
    },
    /// Run every node of the config on this machine, or control one member of a running local
    /// cluster (`cluster stop 2`, `cluster start 2`).
    Cluster {
        #[command(subcommand)]
        action: Option<ClusterAction>,
        /// Let the nodes' cluster view (`/ui`) stop, start, pause and resume members through
        /// this supervisor (and partition them, with `test_faults = true`). Local clusters only.
        #[arg(long)]
        ui_controls: bool,
    },
    /// Manage the cluster secret peers authenticate each other with.
    Secret {
        #[command(subcommand)]
        action: SecretAction,
    },
    /// Check transaction log files offline (no cluster needed).
    Txlog {
        #[command(subcommand)]
        action: TxlogAction,
    },
    /// Snapshot files: check one, or seed a new node's data directory from one.
    Snapshot {
        #[command(subcommand)]
        action: SnapshotAction,
    },
    /// Store VALUE under KEY; without VALUE, the value is standard input as read, to its end
    /// (etcdctl's rule: `printf v | raftkv put k` stores `v`, `echo v | ...` stores `v` and a
    /// newline).
    Put {
        key: String,
        value: Option<String>,
        /// Seconds until the key expires (0: never).
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        ttl: u64,
    },
    /// Store VALUE under KEY only if KEY is at VERSION (compare-and-swap), or with --absent only
    /// if KEY does not exist (a create); otherwise fail and name the key's current version.
    #[command(allow_missing_positional = true)]
    Cas {
        key: String,
        /// The version KEY must be at; 0 means the same as --absent.
        #[arg(required_unless_present = "absent")]
        version: Option<u64>,
        value: String,
        /// Write only if KEY does not exist or has expired (etcd's `version(KEY) = 0` compare).
        #[arg(long, conflicts_with = "version")]
        absent: bool,
        /// Seconds until the key expires (0: never).
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        ttl: u64,
    },
    /// Print KEY and its value.
    Get {
        key: String,
        /// Print only the value, without the key.
        #[arg(long, conflicts_with = "meta")]
        print_value_only: bool,
        /// Also print the key's version and the seconds until it expires.
        #[arg(long)]
        meta: bool,
        #[command(flatten)]
        read: ReadOpts,
    },
    /// Delete KEY; prints how many keys were deleted (0 or 1).
    Del { key: String },
    /// Student records.
    Student {
        #[command(subcommand)]
        action: StudentAction,
    },
    /// Integer stacks created under integer labels.
    Stack {
        #[command(subcommand)]
        action: StackAction,
    },
    /// Cluster membership.
    Member {
        #[command(subcommand)]
        action: MemberAction,
    },
    /// Leadership: hand it to another voter.
    Leader {
        #[command(subcommand)]
        action: LeaderAction,
    },
    /// Every endpoint's own view: role, term, commit and applied index (`endpoint status`).
    Status,
    /// Ask each endpoint directly: its health or its status.
    Endpoint {
        #[command(subcommand)]
        action: EndpointAction,
    },
    /// Drive a running cluster with load and report throughput and latency.
    Bench(BenchArgs),
    /// Jepsen in one command: clients read, write and compare-and-set while a nemesis kills,
    /// pauses, partitions and restarts nodes; then the history is checked for linearizability,
    /// the verdict printed (exit 0 linearizable, 1 not, 4 undecided) and an HTML report written.
    /// Starts a local cluster of its own, or works on the running `raftkv cluster --config FILE`.
    Chaos(ChaosArgs),
    /// Print a shell completion script to standard output, e.g.
    /// `raftkv completion bash > /etc/bash_completion.d/raftkv` or
    /// `source <(raftkv completion zsh)`.
    Completion {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the raftkv(1) man page (roff) to standard output, e.g. `raftkv man | man -l -`; with
    /// --out, write raftkv.1 and one page per subcommand (raftkv-member-list.1, ...) into DIR.
    Man {
        /// A directory to write every page into (created if missing), e.g. a man1 directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// `raftkv cluster <action>`.
#[derive(Debug, Subcommand)]
pub enum ClusterAction {
    /// Stop member N (or nodeN) of the running local cluster (graceful: SIGTERM).
    Stop {
        #[arg(value_parser = parse_node_id)]
        id: u64,
    },
    /// Start member N (or nodeN) again under the running supervisor.
    Start {
        #[arg(value_parser = parse_node_id)]
        id: u64,
    },
    /// Stop member N (or nodeN), then start it.
    Restart {
        #[arg(value_parser = parse_node_id)]
        id: u64,
    },
    /// Kill member N's process at once (SIGKILL), as a crash would.
    Kill {
        #[arg(value_parser = parse_node_id)]
        id: u64,
    },
    /// Freeze member N's process (SIGSTOP): it holds its sockets but answers nothing, as a
    /// long stall would.
    Pause {
        #[arg(value_parser = parse_node_id)]
        id: u64,
    },
    /// Let a paused member N run again (SIGCONT).
    Resume {
        #[arg(value_parser = parse_node_id)]
        id: u64,
    },
    /// List the members the supervisor runs, with their process ids.
    Ps,
}

/// `raftkv endpoint <action>`.
#[derive(Debug, Subcommand)]
pub enum EndpointAction {
    /// Whether each endpoint knows a leader (`GET /health`); fails (exit 3) naming the
    /// unhealthy ones.
    Health,
    /// Whether each endpoint is ready to serve (`GET /readyz`: a leader is known and every
    /// commit applied); fails (exit 3) naming the ones that are not. The container image's
    /// health check.
    Ready,
    /// Each endpoint's own view: role, term, commit and applied index (same as `raftkv status`).
    Status,
}

/// `raftkv student <action>`.
#[derive(Debug, Subcommand)]
pub enum StudentAction {
    /// Insert or replace the record of roll number ROLL.
    Put {
        roll: u64,
        #[arg(long)]
        name: String,
        #[arg(long)]
        address: String,
        #[arg(long)]
        phone: String,
    },
    /// Print the record of ROLL.
    Get {
        roll: u64,
        #[command(flatten)]
        read: ReadOpts,
    },
    /// Delete the record of ROLL; prints how many were deleted (0 or 1).
    Del { roll: u64 },
    /// Print every record, by roll number.
    List {
        #[command(flatten)]
        read: ReadOpts,
    },
}

/// `raftkv stack <action>`.
#[derive(Debug, Subcommand)]
pub enum StackAction {
    /// Create the stack labelled LABEL (or find the existing one); prints its id.
    Create { label: i64 },
    /// Print the id of the stack labelled LABEL.
    Id {
        label: i64,
        #[command(flatten)]
        read: ReadOpts,
    },
    /// Push ITEM on stack ID; prints the new size.
    Push {
        id: u64,
        #[arg(allow_negative_numbers = true)]
        item: i64,
    },
    /// Pop stack ID; prints the item.
    Pop { id: u64 },
    /// Print the top item of stack ID.
    Top {
        id: u64,
        #[command(flatten)]
        read: ReadOpts,
    },
    /// Print the size of stack ID.
    Size {
        id: u64,
        #[command(flatten)]
        read: ReadOpts,
    },
}

/// `raftkv member <action>`.
#[derive(Debug, Subcommand)]
pub enum SecretAction {
    /// Write a new random secret to FILE (mode 0600); refuses to replace an existing file.
    New {
        file: std::path::PathBuf,
        /// Succeed without writing when FILE exists (for scripts and Procfiles).
        #[arg(long)]
        if_missing: bool,
    },
    /// Copy the secrets of FROM, whatever its permissions, to TO with mode 0600 and the caller
    /// as owner (replacing TO): for secrets mounted group-readable, as Kubernetes mounts them.
    Install {
        from: std::path::PathBuf,
        to: std::path::PathBuf,
    },
    /// Check FILE as a node would, and print the key id of each secret in it.
    Show { file: std::path::PathBuf },
}

/// `raftkv txlog <action>`.
#[derive(Debug, Subcommand)]
pub enum TxlogAction {
    /// Check that transaction log files keep the promise: each node's file is a prefix of the
    /// longest.
    ///
    /// Rules: every line is a transaction log line; within one node's files each index is the one
    /// before plus one, except that a snapshot marker line may jump forward; a line with the same
    /// index is identical in every node's files (snapshot markers are not compared).
    ///
    /// Each FILE is one node's. Files whose names differ only by a rotation suffix
    /// (node-1.log.000000000001, node-1.log.000000004711, node-1.log) are one node's, read oldest
    /// first, the file without a suffix last. A DIR stands for its node-<id>.log files and their
    /// rotated files; stale files (node-<id>.log.stale-*) are left out: name them to check them.
    /// Files are streamed, so any length is fine.
    ///
    /// Prints each violation as FILE:LINE: index N and what is wrong (for two nodes' lines that
    /// differ, both lines), at most 20 per file. A torn tail left by a crash is a note, not a
    /// violation. Exit codes: 0 every rule holds (then one summary line per file), 1 a rule is
    /// broken, 2 a file or directory cannot be read.
    Verify {
        /// Transaction log files, or directories of them.
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
    },
}

/// `raftkv snapshot <action>`.
#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// Write a consistent snapshot of the leader's applied state to FILE (a backup, as
    /// `etcdctl snapshot save`): temp file, fsync, rename, then checked like `status`.
    Save { file: std::path::PathBuf },
    /// Print a snapshot file's index, term, voters, counts, size and whether every checksum
    /// matches; exits 1 when the file is damaged.
    Status { file: std::path::PathBuf },
    /// Seed node ID's data directory under DATA_DIR from FILE, as the first state of a new
    /// cluster: run it for every node of the new cluster, then start the nodes.
    Restore {
        file: std::path::PathBuf,
        /// The new cluster's data directory (the config's `data_dir`).
        #[arg(long)]
        data_dir: std::path::PathBuf,
        /// The node to seed (its state goes to DATA_DIR/node-ID).
        #[arg(long)]
        id: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberAction {
    /// List the members, each with its own role; the leader and learners are marked.
    List,
    /// Add node ID at these addresses. It enters as a learner; unless --learner, the leader
    /// promotes it to voter once it has caught up. Then start it with `raftkv node --join`.
    Add {
        id: u64,
        /// Its raft peer address (host:port).
        #[arg(long, value_name = "HOST:PORT")]
        raft: String,
        /// Its HTTP API address.
        #[arg(long, value_name = "HOST:PORT")]
        http: String,
        /// Its text-protocol address.
        #[arg(long, value_name = "HOST:PORT")]
        text: Option<String>,
        /// Its etcd gRPC address.
        #[arg(long, value_name = "HOST:PORT")]
        grpc: Option<String>,
        /// Keep it a learner (no vote) until `raftkv member promote ID`.
        #[arg(long)]
        learner: bool,
    },
    /// Remove node ID (a leader removed hands leadership off once the change commits).
    Remove { id: u64 },
    /// Make learner ID a voter.
    Promote { id: u64 },
}

#[derive(Debug, Subcommand)]
pub enum LeaderAction {
    /// Hand leadership to voter ID (default: the most up-to-date voter), like etcdctl
    /// move-leader; prints the new leader.
    Transfer { id: Option<u64> },
}

/// `raftkv chaos`.
#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// How long the clients and the nemesis run, e.g. 20s or 2m.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: std::time::Duration,
    /// Clients, each one request at a time.
    #[arg(long, default_value_t = 5)]
    pub clients: usize,
    /// Keys the clients share (the checker works key by key: more keys, a faster check).
    #[arg(long, default_value_t = 5)]
    pub keys: usize,
    /// Nodes of the cluster chaos starts (without --config).
    #[arg(long, default_value_t = 3)]
    pub nodes: u64,
    /// The seed of the nemesis' and the clients' choices (default: random, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where to write the HTML report.
    #[arg(long, default_value = "chaos-report.html")]
    pub report: PathBuf,
}

/// `raftkv bench`: one run with the flags below, or `bench sweep` / `bench plot`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    /// A sweep over a grid of runs, or a plot of sweep results (none: one run).
    #[command(subcommand)]
    pub action: Option<BenchAction>,
    /// Concurrent clients, each with its own keep-alive connection.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// How long to run, e.g. 10s, 1m, 500ms.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: std::time::Duration,
    /// Operation mix.
    #[arg(long, value_enum, default_value_t = BenchOp::Put)]
    pub op: BenchOp,
    /// Bytes per value.
    #[arg(long, default_value_t = 256)]
    pub value_size: usize,
    /// How to reach the endpoints: raftkv's HTTP API (or etcd's JSON gateway, with --target
    /// etcd), or etcd's v3 gRPC API, which raftkv's `grpc` addresses and etcd both serve (give
    /// those addresses as --endpoints; --target does not matter then).
    #[arg(long, value_enum, default_value_t = BenchProtocol::Http)]
    pub protocol: BenchProtocol,
    #[command(flatten)]
    pub load: LoadArgs,
}

/// The protocol `raftkv bench` speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchProtocol {
    /// HTTP/1.1, one connection per client.
    Http,
    /// etcd's v3 gRPC API, clients sharing HTTP/2 connections.
    Grpc,
}

/// What a bench run and a sweep share: the keys, how gets read, and what the endpoints are.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Distinct keys (gets read keys written beforehand).
    #[arg(long, default_value_t = 1000)]
    pub keys: u64,
    /// Consistency of gets.
    #[arg(long, value_enum, default_value_t)]
    pub consistency: ReadConsistency,
    /// What the endpoints are: raftkv nodes, or etcd members (v3 HTTP gateway) for comparison.
    #[arg(long, value_enum, default_value_t = BenchTarget::Raftkv)]
    pub target: BenchTarget,
}

/// The operations `raftkv bench` issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchOp {
    /// Only puts.
    Put,
    /// Only gets.
    Get,
    /// Half puts, half gets.
    Mixed,
}

/// The kind of server `raftkv bench` drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchTarget {
    /// raftkv's HTTP API.
    Raftkv,
    /// etcd's v3 JSON gateway (`POST /v3/kv/put`, `/v3/kv/range`).
    Etcd,
}

/// `raftkv bench <action>`.
#[derive(Debug, Subcommand)]
pub enum BenchAction {
    /// Run the bench once per point of a grid (client counts x value sizes x operations) and
    /// write one CSV row per point and an SVG of throughput and p99 latency against clients.
    Sweep(SweepArgs),
    /// Draw the SVG of one or more sweep CSVs (merged into one CSV with --csv).
    Plot(PlotArgs),
}

/// `raftkv bench sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Client counts, comma-separated (e.g. 1,4,16): one point each, at most 4096.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 4, 16, 64, 256, 1024])]
    pub clients: Vec<usize>,
    /// Bytes per value, comma-separated (e.g. 64,256,4096,65536): one curve each.
    #[arg(long, value_delimiter = ',', default_values_t = [256])]
    pub value_size: Vec<usize>,
    /// Operations, comma-separated (e.g. put,get): one curve each.
    #[arg(long, value_delimiter = ',', value_enum, default_values_t = [BenchOp::Put, BenchOp::Get])]
    pub op: Vec<BenchOp>,
    /// How long each point runs, e.g. 5s or 300ms.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: std::time::Duration,
    /// Pause between points, so one point's closing connections do not weigh on the next.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub pause: std::time::Duration,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Members in the cluster, for the CSV (default: asked from the cluster).
    #[arg(long)]
    pub cluster_size: Option<usize>,
    /// Where the CSV goes (replaced).
    #[arg(long, default_value = "sweep.csv", value_name = "FILE")]
    pub csv: PathBuf,
    /// Where the SVG goes (default: the CSV's path with .svg).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

/// `raftkv bench plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Sweep CSVs (all with the header `bench sweep` writes).
    #[arg(required = true, value_name = "CSV")]
    pub inputs: Vec<PathBuf>,
    /// Where the SVG goes.
    #[arg(long, value_name = "FILE")]
    pub svg: PathBuf,
    /// Also write every input row into this one CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

/// Parses a node id given as `2` or by its name, `node2` (as the supervisor and Procfile call it).
pub fn parse_node_id(text: &str) -> Result<u64, String> {
    let digits = text.strip_prefix("node").unwrap_or(text);
    digits
        .parse()
        .map_err(|_| format!("expected a node id like 2 or node2, not {text:?}"))
}

/// Parses a duration in humantime's notation (`10s`, `1500ms`, `2m`, `1m 30s`); a bare whole
/// number is seconds, as the flags always accepted.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(seconds));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration like 10s, 500ms or 1m 30s: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        let a = Cli::try_parse_from(["raftkv", "cluster", "stop", "2", "--config", "c.toml"])
            .expect("parses");
        assert_eq!(a.global.config, Some("c.toml".into()));
        assert!(matches!(
            a.command,
            Cmd::Cluster {
                action: Some(ClusterAction::Stop { id: 2 }),
                ui_controls: false,
            }
        ));
        let b = Cli::try_parse_from(["raftkv", "--endpoints", "a:1,b:2", "get", "k", "-w", "json"])
            .expect("parses");
        assert_eq!(b.global.endpoints, vec!["a:1", "b:2"]);
        assert_eq!(b.global.write_out, Some(WriteOut::Json));
    }

    #[test]
    fn cas_takes_a_version_or_absent() {
        let at = Cli::try_parse_from(["raftkv", "cas", "k", "7", "v"]).expect("parses");
        assert!(matches!(
            at.command,
            Cmd::Cas { version: Some(7), absent: false, ref value, .. } if value == "v"
        ));
        let create = Cli::try_parse_from(["raftkv", "cas", "k", "--absent", "v"]).expect("parses");
        assert!(matches!(
            create.command,
            Cmd::Cas { version: None, absent: true, ref value, .. } if value == "v"
        ));
        assert!(Cli::try_parse_from(["raftkv", "cas", "k", "v"]).is_err());
        assert!(Cli::try_parse_from(["raftkv", "cas", "k", "7", "v", "--absent"]).is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn nodes_are_named_by_id_or_by_name() {
        assert_eq!(parse_node_id("2"), Ok(2));
        assert_eq!(parse_node_id("node12"), Ok(12));
        assert!(parse_node_id("node").is_err());
        assert!(parse_node_id("two").is_err());
    }

    #[test]
    fn a_negative_item_is_a_value_not_a_flag() {
        let a = Cli::try_parse_from(["raftkv", "stack", "push", "1", "-5"]).expect("parses");
        assert!(matches!(
            a.command,
            Cmd::Stack {
                action: StackAction::Push { id: 1, item: -5 }
            }
        ));
    }
}
