//! The peer session number ("epoch") a node stamps on every frame it sends, kept in its data
//! directory so that it rises across restarts even when the wall clock steps back: peers refuse
//! frames from a session older than the newest they have seen (`cluster::seal`).

use std::io::Write;
use std::path::Path;

const FILE: &str = "peer_epoch";

/// Returns this start's epoch, `max(previous + 1, now in ms since 1970)`, after making it
/// durable in `dir`. A data directory that is new (or wiped) starts from the clock.
pub fn next_peer_epoch(dir: &Path) -> std::io::Result<u64> {
    let path = dir.join(FILE);
    let previous = match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<u64>().map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: not a number: {e}", path.display()),
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let epoch = now_ms.max(previous.saturating_add(1));
    let temp = dir.join(format!("{FILE}.tmp"));
    let mut file = std::fs::File::create(&temp)?;
    writeln!(file, "{epoch}")?;
    file.sync_all()?;
    std::fs::rename(&temp, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(epoch)
}

#[cfg(test)]
mod tests {
    use super::next_peer_epoch;

    #[test]
    fn rises_on_every_start_even_past_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        let first = next_peer_epoch(dir.path()).unwrap();
        let far = u64::MAX / 2;
        std::fs::write(dir.path().join("peer_epoch"), format!("{far}\n")).unwrap();
        assert_eq!(next_peer_epoch(dir.path()).unwrap(), far + 1);
        assert_eq!(next_peer_epoch(dir.path()).unwrap(), far + 2);
        assert!(first > 1_600_000_000_000, "starts from the clock");
        std::fs::write(dir.path().join("peer_epoch"), "garbage\n").unwrap();
        let err = next_peer_epoch(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a number"), "{err}");
    }
}
