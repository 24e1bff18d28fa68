//! `raftkv snapshot status FILE` and `raftkv snapshot restore FILE --data-dir DIR --id N`.

use super::args::SnapshotAction;
use super::error::CliError;
use crate::replicator::restore_snapshot;
use crate::state::inspect;

/// Runs a `snapshot` command; returns the exit code.
pub fn run(action: &SnapshotAction) -> Result<i32, CliError> {
    match action {
        SnapshotAction::Status { file } => {
            let status = inspect(file).map_err(|e| CliError::Usage(e.to_string()))?;
            let m = &status.meta;
            println!("file:     {}", file.display());
            println!("index:    {}", m.index);
            println!("term:     {}", m.term);
            println!("voters:   {:?}", m.voters);
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
