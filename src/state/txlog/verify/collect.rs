//! From command-line paths to each node's files, oldest first.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use super::Unreadable;
use crate::raft::Index;
use crate::state::txlog::files::split_rotation;

/// The most files one check takes: each node's files are opened in turn, but all are listed.
pub const MAX_FILES: usize = 100_000;

/// Groups `paths` by node. A directory stands for its `node-<id>.log` files and their rotated
/// `node-<id>.log.<first index>` files (not stale ones: pass those by name). Files whose names
/// differ only by a rotation suffix (`.` and 12 or more digits) are one node's, rotated ones by
/// index, then the one without a suffix. Nodes come in the order of their first path.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<Vec<PathBuf>>, Unreadable> {
    let mut files = Vec::new();
    for path in paths {
        let unreadable = |source| Unreadable {
            path: path.clone(),
            source,
        };
        if path.metadata().map_err(unreadable)?.is_dir() {
            let found = node_files(path).map_err(unreadable)?;
            if found.is_empty() {
                let none = io::Error::new(io::ErrorKind::NotFound, "no node-<id>.log files in it");
                return Err(unreadable(none));
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
        if files.len() > MAX_FILES {
            let many = io::Error::other(format!("more than {MAX_FILES} files"));
            return Err(unreadable(many));
        }
    }
    let mut nodes: Vec<Vec<(Option<Index>, PathBuf)>> = Vec::new();
    let mut node_of_key = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for file in files {
        if !seen.insert(file.clone()) {
            continue;
        }
        let (key, rotation) = node_key(&file);
        let node = *node_of_key.entry(key).or_insert_with(|| {
            nodes.push(Vec::new());
            nodes.len() - 1
        });
        nodes[node].push((rotation, file));
    }
    Ok(nodes
        .into_iter()
        .map(|mut group| {
            // `None` (the active file) after every rotated one.
            group.sort_by_key(|(rotation, _)| rotation.map_or(Index::MAX, |i| i));
            group.into_iter().map(|(_, file)| file).collect()
        })
        .collect())
}

/// The path without its rotation suffix, and the suffix's index.
fn node_key(file: &Path) -> (PathBuf, Option<Index>) {
    let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
        return (file.to_path_buf(), None);
    };
    let (stem, rotation) = split_rotation(name);
    (file.with_file_name(stem), rotation)
}

/// `node-<digits>.log` and `node-<digits>.log.<12+ digits>` in `dir`, by name.
fn node_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let (stem, _) = split_rotation(name);
        let id = stem
            .strip_prefix("node-")
            .and_then(|rest| rest.strip_suffix(".log"));
        if id.is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())) {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_gives_each_node_its_files_oldest_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in [
            "node-2.log",
            "node-1.log",
            "node-1.log.000000000101",
            "node-1.log.000000000001",
            "node-1.log.stale-1700000000",
            "node-1.state.json",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), b"").expect("write");
        }
        let nodes = collect(&[dir.path().to_path_buf()]).expect("collect");
        let names: Vec<Vec<String>> = nodes
            .iter()
            .map(|files| {
                files
                    .iter()
                    .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
                    .collect()
            })
            .collect();
        assert_eq!(
            names,
            vec![
                vec![
                    "node-1.log.000000000001",
                    "node-1.log.000000000101",
                    "node-1.log"
                ],
                vec!["node-2.log"],
            ]
        );
    }

    #[test]
    fn files_named_on_the_command_line_are_taken_as_they_are() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = dir.path().join("a.log");
        let stale = dir.path().join("node-1.log.stale-5");
        let stale_rotated = dir.path().join("node-1.log.stale-5.000000000001");
        for path in [&a, &stale, &stale_rotated] {
            std::fs::write(path, b"").expect("write");
        }
        let nodes = collect(&[stale.clone(), a.clone(), stale_rotated.clone(), a.clone()])
            .expect("collect");
        assert_eq!(nodes, vec![vec![stale_rotated, stale], vec![a]]);
    }

    #[test]
    fn a_missing_path_or_an_empty_directory_is_unreadable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = collect(&[dir.path().join("nope")]).unwrap_err();
        assert_eq!(err.path, dir.path().join("nope"));
        let err = collect(&[dir.path().to_path_buf()]).unwrap_err();
        assert!(err.to_string().contains("no node-<id>.log files"), "{err}");
    }
}
