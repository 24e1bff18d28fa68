//! `raftkv snapshot save FILE`, `raftkv snapshot status FILE` and
//! `raftkv snapshot restore FILE --data-dir DIR --id N`.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use super::args::{GlobalOpts, SnapshotAction};
use super::client::agent;
use super::endpoints;
use super::error::CliError;
use crate::replicator::restore_snapshot;
use crate::state::inspect;

/// Runs a `snapshot` command; returns the exit code.
pub fn run(action: &SnapshotAction, g: &GlobalOpts) -> Result<i32, CliError> {
    match action {
        SnapshotAction::Save { file } => {
            let endpoints = endpoints::resolve(&g.endpoints, g.config.as_deref())?;
            let from = save(&endpoints, g.command_timeout.max(SAVE_TIMEOUT_MIN), file)?;
            let status = inspect(file).map_err(|e| CliError::Usage(e.to_string()))?;
            println!(
                "saved {} from {from}: index {}, term {}, {}, {} bytes",
                file.display(),
                status.meta.index,
                status.meta.term,
                status.counts,
                status.size_bytes
            );
            Ok(if status.checksum_ok() { 0 } else { 1 })
        }
        SnapshotAction::Status { file } => {
            let status = inspect(file).map_err(|e| CliError::Usage(e.to_string()))?;
            let m = &status.meta;
            println!("file:     {}", file.display());
            println!("index:    {}", m.index);
            println!("term:     {}", m.term);
            println!("members:  {}", m.membership.membership);
            println!("contents: {}", status.counts);
            println!("size:     {} bytes", status.size_bytes);
            match (&status.damage, status.crc) {
                (None, Some(crc)) => {
                    println!("checksum: ok (crc32 {crc:08x})");
                    Ok(0)
                }
                (Some(damage), _) => {
                    println!("checksum: FAILED: {damage}");
                    Ok(1)
                }
                (None, None) => {
                    println!("checksum: FAILED: no trailer");
                    Ok(1)
                }
            }
        }
        SnapshotAction::Restore { file, data_dir, id } => {
            let node_dir = data_dir.join(format!("node-{id}"));
            let meta = restore_snapshot(&node_dir, file).map_err(CliError::Usage)?;
            println!(
                "seeded {} from {} (index {}, term {}); start the node with a config whose \
                 data_dir is {}",
                node_dir.display(),
                file.display(),
                meta.index,
                meta.term,
                data_dir.display()
            );
            Ok(0)
        }
    }
}

/// A backup may be large: at least this long is allowed for it, whatever `--command-timeout`.
const SAVE_TIMEOUT_MIN: std::time::Duration = std::time::Duration::from_secs(300);

/// Streams `GET /v1/snapshot` from the leader (found by trying the endpoints and following a
/// redirect) into `file` through a temporary file; returns the endpoint that answered.
fn save(
    endpoints: &[String],
    timeout: std::time::Duration,
    file: &Path,
) -> Result<String, CliError> {
    let agent = agent(timeout);
    let mut reasons = Vec::new();
    let mut queue: std::collections::VecDeque<String> = endpoints
        .iter()
        .map(|e| super::client::url(e, "/v1/snapshot"))
        .collect();
    let mut hops = 0;
    while let Some(url) = queue.pop_front() {
        let mut reply = match agent.get(&url).call() {
            Ok(reply) => reply,
            Err(e) => {
                reasons.push(format!("{url}: {e}"));
                continue;
            }
        };
        let status = reply.status().as_u16();
        if status == 307 && hops < 3 {
            if let Some(to) = reply
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
            {
                hops += 1;
                queue.push_front(to.to_string());
                continue;
            }
        }
        if status != 200 {
            let body = reply.body_mut().read_to_string().unwrap_or_default();
            reasons.push(format!("{url}: HTTP {status} {}", body.trim()));
            continue;
        }
        let tmp = file.with_extension("part");
        let written = (|| -> std::io::Result<()> {
            let mut out = File::create(&tmp)?;
            std::io::copy(&mut reply.body_mut().as_reader(), &mut out)?;
            out.flush()?;
            out.sync_all()?;
            fs::rename(&tmp, file)?;
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(CliError::Local(format!(
                "cannot write {}: {e}",
                file.display()
            )));
        }
        return Ok(url);
    }
    Err(CliError::NoEndpoint {
        attempts: reasons.join("; "),
    })
}
