//! The cluster secret file: one secret per line as 64 hex digits, `#` comments allowed. The
//! first secret seals what this node sends; a second one is also accepted from peers, which is
//! how a secret is rolled over without downtime (README, "Peer security").

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::cluster::seal::Secret;

/// At most the current secret and the one being rolled over.
pub const MAX_SECRETS: usize = 2;

/// Reads and checks a secret file: it must exist, be a regular file readable by its owner only
/// (no group or other permission bits), and hold one or two distinct secrets.
pub fn read_secrets(path: &Path) -> Result<Vec<Secret>, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "the cluster secret file {shown} does not exist; create it once with \
                 `raftkv secret new {shown}` and give every node a copy"
            )
        } else {
            format!("cannot read the cluster secret file {shown}: {e}")
        }
    })?;
    if !meta.is_file() {
        return Err(format!(
            "the cluster secret file {shown} is not a regular file"
        ));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "the cluster secret file {shown} has mode {mode:03o}: others may read it; \
             run `chmod 600 {shown}`"
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the cluster secret file {shown}: {e}"))?;
    parse_secrets(&shown.to_string(), &text)
}

/// The secrets in a secret file's text (`shown` names it in errors).
fn parse_secrets(shown: &str, text: &str) -> Result<Vec<Secret>, String> {
    let mut secrets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let secret = Secret::from_hex(line).ok_or_else(|| {
            format!(
                "{shown}:{}: not a secret (expected 64 hex digits, as `raftkv secret new` writes)",
                i + 1
            )
        })?;
        if secrets.contains(&secret) {
            return Err(format!("{shown}:{}: the same secret twice", i + 1));
        }
        secrets.push(secret);
    }
    if secrets.is_empty() {
        return Err(format!("the cluster secret file {shown} holds no secret"));
    }
    if secrets.len() > MAX_SECRETS {
        return Err(format!(
            "the cluster secret file {shown} holds {} secrets; at most {MAX_SECRETS} (the current \
             one first, then the one being rolled over)",
            secrets.len()
        ));
    }
    Ok(secrets)
}

/// Copies the secrets of `from`, whatever its permissions (a Kubernetes secret volume is
/// group-readable), to `to` with mode 0600 and this process's owner, replacing `to` whole.
/// Returns how many secrets it holds.
pub fn install_secrets(from: &Path, to: &Path) -> Result<usize, String> {
    let shown = from.display().to_string();
    let text = std::fs::read_to_string(from)
        .map_err(|e| format!("cannot read the cluster secret file {shown}: {e}"))?;
    let secrets = parse_secrets(&shown, &text)?;
    let dir = match to.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let temp = dir.join(format!(".secret.{:016x}.tmp", rand::random::<u64>()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        for secret in &secrets {
            writeln!(file, "{}", secret.to_hex())?;
        }
        file.sync_all()?;
        std::fs::rename(&temp, to)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(format!("cannot write {}: {e}", to.display()));
    }
    Ok(secrets.len())
}

/// Writes a new random secret to `path` with mode 0600. The file appears whole or not at all,
/// and an existing file is never replaced: returns `Ok(false)` if one is there already (two
/// nodes started at once both end up using the one that was written first).
pub fn write_new_secret(path: &Path) -> std::io::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(
        ".{}.{:016x}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        writeln!(
            file,
            "# raftkv cluster secret: every member needs the same file; keep it private.\n{}",
            Secret::generate().to_hex()
        )?;
        file.sync_all()?;
        // A hard link fails if `path` exists, where a rename would replace it.
        match std::fs::hard_link(&temp, path) {
            Ok(()) => {
                std::fs::File::open(dir)?.sync_all()?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    })();
    let _ = std::fs::remove_file(&temp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_secret_is_private_readable_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/cluster.secret");
        assert!(write_new_secret(&path).unwrap());
        let first = read_secrets(&path).unwrap();
        assert_eq!(first.len(), 1);
        assert!(!write_new_secret(&path).unwrap());
        assert_eq!(read_secrets(&path).unwrap(), first);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn an_open_mode_a_bad_line_or_no_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        assert!(read_secrets(&path)
            .unwrap_err()
            .contains("raftkv secret new"));
        std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_secrets(&path).unwrap_err().contains("chmod 600"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_secrets(&path).unwrap().len(), 1);
        std::fs::write(&path, "# c\n\nnot hex\n").unwrap();
        assert!(read_secrets(&path)
            .unwrap_err()
            .contains(":3: not a secret"));
        let three = format!(
            "{}\n{}\n{}\n",
            "01".repeat(32),
            "02".repeat(32),
            "03".repeat(32)
        );
        std::fs::write(&path, three).unwrap();
        assert!(read_secrets(&path).unwrap_err().contains("at most 2"));
    }

    #[test]
    fn install_copies_a_group_readable_file_as_a_private_one() {
        let dir = tempfile::tempdir().unwrap();
        let mounted = dir.path().join("mounted");
        let two = format!("{}\n{}\n", "0a".repeat(32), "0b".repeat(32));
        std::fs::write(&mounted, two).unwrap();
        std::fs::set_permissions(&mounted, std::fs::Permissions::from_mode(0o440)).unwrap();
        assert!(read_secrets(&mounted).is_err());
        let private = dir.path().join("cluster.secret");
        std::fs::write(&private, "stale").unwrap();
        assert_eq!(install_secrets(&mounted, &private).unwrap(), 2);
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_secrets(&private).unwrap().len(), 2);
        std::fs::write(&mounted, "not hex\n").unwrap();
        assert!(install_secrets(&mounted, &private).is_err());
        assert_eq!(
            read_secrets(&private).unwrap().len(),
            2,
            "a bad source replaces nothing"
        );
    }
}
