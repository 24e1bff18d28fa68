//! Client security with clients someone else wrote (issue 15's acceptance): a three-node cluster
//! serving every client door over TLS with client certificates required, then `etcdctl` (Debian's
//! etcd-client) turning auth on and acting as root and as a read-only user, `curl` on the HTTP
//! door and Python's `ssl` module on the text door. Plain-text connections are refused on all.
//! With client certificates required, a certificate's Common Name is its user when no credentials
//! are given (etcd's `--client-cert-auth`): through every member, followers forwarding included.
//!
//! Without `etcdctl` the test prints that it skipped (as `etcd_tools` does), unless
//! RAFTKV_REQUIRE_ETCD_TOOLS=1, which CI sets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{wait_for, Cluster};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};

/// A client certificate and its key.
struct ClientCert {
    cert: PathBuf,
    key: PathBuf,
}

/// The files of a test PKI: a CA, one certificate every node serves (CN `node`), and client
/// certificates: one naming no one (no CN), one naming the user `alice`, one naming `nobody`,
/// who is no user.
struct Pki {
    ca: PathBuf,
    node_cert: PathBuf,
    node_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    alice: ClientCert,
    nobody: ClientCert,
}

impl Pki {
    fn create(dir: &Path) -> Pki {
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a PEM file");
            path
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "raftkv test CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca = write("ca.pem", ca_cert.pem());
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>, cn: &str| {
            let mut params = CertificateParams::new(names).unwrap();
            // rcgen's default subject has a CN of its own: start from an empty one.
            params.distinguished_name = DistinguishedName::new();
            params
                .distinguished_name
                .push(DnType::OrganizationName, "raftkv tests");
            if !cn.is_empty() {
                params.distinguished_name.push(DnType::CommonName, cn);
            }
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (node_pem, node_key_pem) = leaf(vec!["127.0.0.1".into(), "localhost".into()], "node");
        let (client_pem, client_key_pem) = leaf(vec!["client".into()], "");
        let client = |cn: &str| {
            let (pem, key_pem) = leaf(vec!["client".into()], cn);
            ClientCert {
                cert: write(&format!("{cn}.pem"), pem),
                key: write(&format!("{cn}-key.pem"), key_pem),
            }
        };
        let (alice, nobody) = (client("alice"), client("nobody"));
        Pki {
            ca,
            node_cert: write("node.pem", node_pem),
            node_key: write("node-key.pem", node_key_pem),
            client_cert: write("client.pem", client_pem),
            client_key: write("client-key.pem", client_key_pem),
            alice,
            nobody,
        }
    }
}

fn tool_present(name: &str, arg: &str) -> bool {
    Command::new(name)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn etcdctl_curl_and_python_work_over_tls_with_users_and_roles() {
    if !tool_present("etcdctl", "version") {
        assert!(
            std::env::var("RAFTKV_REQUIRE_ETCD_TOOLS").as_deref() != Ok("1"),
            "etcdctl is missing (apt-get install etcd-client) and RAFTKV_REQUIRE_ETCD_TOOLS=1"
        );
        eprintln!("skipped: etcdctl is not installed (apt-get install etcd-client)");
        return;
    }
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = Pki::create(pki_dir.path());
    let tls = format!(
        "\n[client_tls]\ncert_file = {:?}\nkey_file = {:?}\ntrusted_ca_file = {:?}\n\
         client_cert_auth = true\n",
        pki.node_cert, pki.node_key, pki.ca
    );
    let mut cluster = Cluster::configure(3, &tls);
    for id in 1..=3 {
        cluster.start_node(id);
    }
    let grpc = |id: u64| format!("127.0.0.1:{}", cluster.grpc_ports[id as usize - 1]);
    let endpoints = (1..=3).map(grpc).collect::<Vec<_>>().join(",");
    let unnamed = ClientCert {
        cert: pki.client_cert.clone(),
        key: pki.client_key.clone(),
    };
    let etcdctl_as = |client: &ClientCert, endpoint: &str, args: &[&str]| -> Output {
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={endpoint}"))
            .arg(format!("--cacert={}", pki.ca.display()))
            .arg(format!("--cert={}", client.cert.display()))
            .arg(format!("--key={}", client.key.display()))
            .arg("--command-timeout=5s")
            .args(args)
            .output()
            .expect("run etcdctl")
    };
    let etcdctl = |endpoint: &str, args: &[&str]| etcdctl_as(&unnamed, endpoint, args);
    let ok_as = |client: &ClientCert, endpoint: &str, args: &[&str]| -> String {
        let out = etcdctl_as(client, endpoint, args);
        assert!(
            out.status.success(),
            "etcdctl {args:?} failed: {}",
            text(&out)
        );
        text(&out)
    };
    let ok = |endpoint: &str, args: &[&str]| ok_as(&unnamed, endpoint, args);
    let fails_as = |client: &ClientCert, endpoint: &str, args: &[&str], expected: &str| {
        let out = etcdctl_as(client, endpoint, args);
        let said = text(&out);
        assert!(
            !out.status.success(),
            "etcdctl {args:?} should fail: {said}"
        );
        assert!(
            said.contains(expected),
            "etcdctl {args:?}: expected {expected:?}, got {said}"
        );
    };
    let fails = |endpoint: &str, args: &[&str], expected: &str| {
        fails_as(&unnamed, endpoint, args, expected)
    };
    wait_for(
        "a leader serving writes over TLS",
        Duration::from_secs(30),
        || {
            etcdctl(&endpoints, &["put", "probe", "1"])
                .status
                .success()
                .then_some(())
        },
    );

    // Plain text and TLS without a client certificate are both refused.
    let plain = Command::new("etcdctl")
        .args([
            &format!("--endpoints={}", grpc(1)),
            "--command-timeout=3s",
            "put",
            "k",
            "v",
        ])
        .output()
        .unwrap();
    assert!(
        !plain.status.success(),
        "plain text was served: {}",
        text(&plain)
    );
    let no_cert = Command::new("etcdctl")
        .arg(format!("--endpoints={}", grpc(1)))
        .arg(format!("--cacert={}", pki.ca.display()))
        .args(["--command-timeout=3s", "put", "k", "v"])
        .output()
        .unwrap();
    assert!(
        !no_cert.status.success(),
        "a client without a certificate was served"
    );

    // Auth on, as etcd's documentation does it: root first, then `auth enable`.
    ok(&endpoints, &["user", "add", "root:rootpw"]);
    let enabled = ok(&endpoints, &["auth", "enable"]);
    assert!(enabled.contains("Authentication Enabled"), "{enabled}");
    let root = ["--user", "root:rootpw"];
    let as_root = |args: &[&str]| ok(&endpoints, &[&root[..], args].concat());
    as_root(&["put", "k", "v"]);
    as_root(&["user", "add", "alice:alicepw"]);
    as_root(&["role", "add", "reader"]);
    as_root(&["role", "grant-permission", "reader", "read", "k"]);
    as_root(&["user", "grant-role", "alice", "reader"]);
    as_root(&["role", "add", "owner"]);
    as_root(&["role", "grant-permission", "owner", "readwrite", "mine"]);
    as_root(&["user", "grant-role", "alice", "owner"]);

    // Through each member: alice reads k, may not write it; no user, or a wrong password, is
    // refused.
    for id in 1..=3 {
        let member = grpc(id);
        let got = ok(&member, &["--user", "alice:alicepw", "get", "k"]);
        assert_eq!(got.lines().collect::<Vec<_>>(), ["k", "v"], "node {id}");
        fails(
            &member,
            &["--user", "alice:alicepw", "put", "k", "x"],
            "permission denied",
        );
        fails(
            &member,
            &["--user", "alice:alicepw", "get", "other"],
            "permission denied",
        );
        fails(&member, &["put", "k", "x"], "user name is empty");
        fails(
            &member,
            &["--user", "alice:wrong", "get", "k"],
            "authentication failed",
        );
    }
    // Client certificates name users (etcd's --client-cert-auth): alice's certificate without
    // --user is alice, through every member. Her writes of `mine` reach the leader from the
    // followers, so the forwarded call keeps her identity (not the forwarding node's "node").
    // A name that is no user's is refused as etcd refuses it; a token (--user) wins.
    for id in 1..=3 {
        let member = grpc(id);
        let got = ok_as(&pki.alice, &member, &["get", "k"]);
        assert_eq!(got.lines().collect::<Vec<_>>(), ["k", "v"], "node {id}");
        fails_as(&pki.alice, &member, &["put", "k", "x"], "permission denied");
        ok_as(&pki.alice, &member, &["put", "mine", &format!("grpc{id}")]);
        let mine = ok_as(&pki.alice, &member, &["get", "mine", "--print-value-only"]);
        assert_eq!(mine.trim(), format!("grpc{id}"), "node {id}");
        fails_as(&pki.nobody, &member, &["get", "k"], "permission denied");
        fails_as(
            &pki.nobody,
            &member,
            &["put", "mine", "x"],
            "permission denied",
        );
        ok_as(
            &pki.alice,
            &member,
            &["--user", "root:rootpw", "put", "k", "v"],
        );
        fails_as(
            &pki.alice,
            &member,
            &["--user", "alice:wrong", "get", "k"],
            "authentication failed",
        );
    }
    let after = ok(
        &endpoints,
        &["--user", "root:rootpw", "get", "k", "--print-value-only"],
    );
    assert_eq!(after.trim(), "v", "a refused write changed the value");

    // HTTP with curl: basic credentials, the same permissions; plain http is refused.
    let curl_as = |client: &ClientCert, args: &[&str]| -> (String, String) {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "5", "-w", "\n%{http_code}"])
            .arg("--cacert")
            .arg(&pki.ca)
            .arg("--cert")
            .arg(&client.cert)
            .arg("--key")
            .arg(&client.key)
            .args(args)
            .output()
            .expect("run curl");
        let all = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = all.rsplit_once('\n').unwrap_or((&all, ""));
        (body.to_string(), code.to_string())
    };
    let curl = |args: &[&str]| curl_as(&unnamed, args);
    let leader_http = format!("https://127.0.0.1:{}", cluster.ports[0].1);
    let (body, code) = curl(&["-u", "alice:alicepw", &format!("{leader_http}/v1/kv/k")]);
    assert_eq!(code, "200", "{body}");
    let put = ["-X", "PUT", "-d", "x", "-u", "alice:alicepw"];
    let (body, code) = curl(&[&put[..], &[format!("{leader_http}/v1/kv/k").as_str()]].concat());
    assert_eq!(code, "403", "{body}");
    let (body, code) = curl(&[&format!("{leader_http}/v1/kv/k")]);
    assert_eq!(code, "401", "{body}");
    let plain_http = format!("http://127.0.0.1:{}/v1/kv/k", cluster.ports[0].1);
    let (_, code) = curl(&[&plain_http]);
    assert_ne!(code, "200", "plain http was served");
    // Root writes through every member: followers forward to the leader over TLS.
    for id in 1..=3 {
        let url = format!(
            "https://127.0.0.1:{}/v1/kv/via{id}",
            cluster.ports[id - 1].1
        );
        let (body, code) = curl(&["-X", "PUT", "-d", "w", "-u", "root:rootpw", &url]);
        assert_eq!(code, "200", "node {id}: {body}");
    }
    // Certificates name users on the HTTP door too: /v1 and the /v3 gateway, writes of `mine`
    // forwarded by followers as alice; `nobody` is refused (403, as etcd's permission denied).
    for id in 1..=3 {
        let base = format!("https://127.0.0.1:{}", cluster.ports[id - 1].1);
        let kv = |key: &str| format!("{base}/v1/kv/{key}");
        let (body, code) = curl_as(&pki.alice, &[&kv("k")]);
        assert_eq!(code, "200", "node {id}: {body}");
        let (body, code) = curl_as(&pki.alice, &["-X", "PUT", "-d", "x", &kv("k")]);
        assert_eq!(code, "403", "node {id}: {body}");
        let (body, code) = curl_as(&pki.alice, &["-X", "PUT", "-d", "http", &kv("mine")]);
        assert_eq!(code, "200", "node {id}: {body}");
        let (body, code) = curl_as(&pki.nobody, &[&kv("k")]);
        assert_eq!(code, "403", "node {id}: {body}");
        // The gateway: "aw==" is `k`, "bWluZQ==" `mine`, "eA==" `x`.
        let gateway = |client: &ClientCert, route: &str, json: &str| {
            curl_as(
                client,
                &["-X", "POST", "-d", json, &format!("{base}/v3/kv/{route}")],
            )
        };
        let (body, code) = gateway(&pki.alice, "range", r#"{"key":"aw=="}"#);
        assert_eq!(code, "200", "node {id}: {body}");
        assert!(body.contains(r#""value":"dg==""#), "node {id}: {body}");
        let (body, code) = gateway(&pki.alice, "put", r#"{"key":"aw==","value":"eA=="}"#);
        assert_eq!(code, "403", "node {id}: {body}");
        let (body, code) = gateway(&pki.alice, "put", r#"{"key":"bWluZQ==","value":"eA=="}"#);
        assert_eq!(code, "200", "node {id}: {body}");
        let (body, code) = gateway(&pki.nobody, "range", r#"{"key":"aw=="}"#);
        assert_eq!(code, "403", "node {id}: {body}");
        assert!(body.contains("permission denied"), "node {id}: {body}");
    }

    // raftkv's own CLI, with etcdctl's flags.
    let https: Vec<String> = (0..3)
        .map(|i| format!("https://127.0.0.1:{}", cluster.ports[i].1))
        .collect();
    let cli = |user: &str, args: &[&str]| {
        let ca = format!("--cacert={}", pki.ca.display());
        let cert = format!("--cert={}", pki.client_cert.display());
        let key = format!("--key={}", pki.client_key.display());
        let endpoints = format!("--endpoints={}", https.join(","));
        let user = format!("--user={user}");
        let flags = [ca.as_str(), &cert, &key, &endpoints, &user];
        crate::support::cli::raftkv(&[&flags[..], args].concat())
    };
    assert_eq!(cli("alice:alicepw", &["get", "k"]).lines(), ["k", "v"]);
    let refused = cli("alice:alicepw", &["put", "k", "x"]);
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(refused.stderr.contains("permission denied"), "{refused:?}");
    cli("root:rootpw", &["put", "cli", "ok"]).ok();
    assert_eq!(cli("root:rootpw", &["get", "cli"]).lines(), ["cli", "ok"]);

    // The text protocol through Python's ssl module.
    let script = r#"
import socket, ssl, sys
ca, cert, key, port = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=5),
                    server_hostname="127.0.0.1")
def ask(line):
    s.sendall(line)
    return s.recv(4096).decode()
print(ask(b"get k\r\n").split()[0])
print(ask(b"auth alice wrong\r\n").split()[0])
print(ask(b"auth alice alicepw\r\n").split()[0])
print(ask(b"get k\r\n").replace("\r\n", " ").strip())
print(ask(b"set k 0 1\r\nx\r\n").split()[0])
"#;
    let text_port = cluster.ports[0].2.to_string();
    let py = Command::new("python3")
        .args(["-c", script])
        .arg(&pki.ca)
        .arg(&pki.client_cert)
        .arg(&pki.client_key)
        .arg(&text_port)
        .output()
        .expect("run python3");
    let said = text(&py);
    assert!(py.status.success(), "{said}");
    // The first node may be a follower: a read there is served (ReadIndex), a write redirected,
    // so the last line is either refusal; permission is checked before either.
    assert_eq!(
        said.lines().collect::<Vec<_>>(),
        ["ERR_AUTH", "ERR_AUTH", "OK", "VALUE 1 v", "ERR_PERMISSION"],
        "{said}"
    );

    // A connection's certificate names its user until `auth` says otherwise.
    let text_session = |client: &ClientCert, lines: &[&str]| -> Vec<String> {
        let script = r#"
import socket, ssl, sys
ca, cert, key, port = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=5),
                    server_hostname="127.0.0.1")
for line in sys.argv[5:]:
    s.sendall(line.encode().replace(b"|", b"\r\n") + b"\r\n")
    print(s.recv(4096).decode().replace("\r\n", " ").strip())
"#;
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&pki.ca)
            .arg(&client.cert)
            .arg(&client.key)
            .arg(&text_port)
            .args(lines)
            .output()
            .expect("run python3");
        assert!(out.status.success(), "{}", text(&out));
        text(&out).lines().map(str::to_string).collect()
    };
    assert_eq!(
        text_session(
            &pki.alice,
            &["get k", "set k 0 1|x", "auth root rootpw", "get mine"]
        ),
        ["VALUE 1 v", "ERR_PERMISSION", "OK", "VALUE 1 x"]
    );
    assert_eq!(text_session(&pki.nobody, &["get k"]), ["ERR_PERMISSION"]);
    drop(cluster);
}
