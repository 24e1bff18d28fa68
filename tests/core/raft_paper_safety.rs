//! Safety, the Raft paper's §5.4.2 and Figure 8: a leader never commits an entry of an earlier term
//! by counting replicas; such entries are committed only indirectly, with an entry of its own term.
//!
//! The figure, played on five servers. (a)–(b) are given as the restored state: S1 (leader of term
//! 2) wrote index 2 and crashed; S5 won term 3 with votes from S3, S4 and itself, wrote its own index
//! 2 and crashed. In (c) S1 returns, wins term 4 and copies its term-2 entry to S3: it now sits on a
//! majority (S1, S2, S3). Our leaders also append a no-op at once; one entry per Append lets S3
//! receive index 2 before the no-op, as in the figure.

use std::collections::BTreeMap;

use crate::support::raft::cluster::{Cluster, Event};
use crate::support::raft::{cmd_entry, log, noop, paper};
use raftkv::raft::{Config, Entry, HardState, Index, InjectedBug, NodeId, Restored, Role, Term};

/// Figure 8 (b): what each server holds when S1 restarts (index 1 is committed everywhere).
fn figure_8_cluster(tune: impl Fn(Config) -> Config) -> Cluster {
    let at = |term: Term, vote: Option<NodeId>, terms: &[Term]| Restored {
        hard_state: HardState {
            term,
            vote,
            commit: 1,
        },
        entries: log(terms),
        ..Restored::default()
    };
    let restored = vec![
        at(3, None, &[1, 2]),
        at(2, None, &[1, 2]),
        at(3, Some(5), &[1]),
        at(3, Some(5), &[1]),
        at(3, Some(5), &[1, 3]),
    ];
    Cluster::restarted(
        5,
        |cfg| {
            let mut cfg = tune(paper(cfg));
            cfg.max_entries_per_msg = 1;
            cfg
        },
        restored,
    )
}

/// Figure 8 (c): S4 and S5 are down; S1 wins term 4 and runs until S3 acknowledges index 2.
fn play_until_index_2_is_on_a_majority(c: &mut Cluster) {
    c.isolate(4);
    c.isolate(5);
    while c.node(1).status().role == Role::Follower {
        c.tick(1);
    }
    for _ in 0..20 {
        c.round();
        if c.node(1).match_index(3) == Some(2) {
            assert_eq!(c.node(1).status().term, 4);
            assert_eq!(c.node(1).match_index(2), Some(3));
            assert_eq!(c.logs()[2], log(&[1, 2]), "S3 holds the term-2 entry");
            return;
        }
    }
    panic!("S3 never acknowledged index 2");
}

/// The index at which two nodes applied different entries, if any (State Machine Safety, §5.4.3).
fn first_divergence(c: &Cluster) -> Option<Index> {
    let mut applied: BTreeMap<Index, &Entry> = BTreeMap::new();
    for entries in &c.applied {
        for e in entries {
            if applied.entry(e.index).or_insert(e) != &e {
                return Some(e.index);
            }
        }
    }
    None
}

fn applied_an(c: &Cluster, index: Index, term: Term) -> bool {
    c.applied
        .iter()
        .flatten()
        .any(|e| (e.index, e.term) == (index, term))
}

/// Figure 8 (c) → (d): the term-2 entry on a majority is not committed, and it is right not to be:
/// once S1 crashes, S5 can win term 5 (votes from S3, S4) and overwrite index 2 everywhere.
#[test]
fn s5_4_2_figure_8_leader_does_not_commit_previous_term_entry_by_counting() {
    let mut c = figure_8_cluster(|cfg| cfg);
    play_until_index_2_is_on_a_majority(&mut c);
    assert_eq!(
        c.node(1).status().commit_index,
        1,
        "index 2 is not committed"
    );

    // (d) S1 crashes before its no-op reaches S3; S5 returns and wins.
    c.isolate(1);
    c.round();
    assert!(!applied_an(&c, 2, 2), "nobody applies the term-2 entry");
    c.heal(4);
    c.heal(5);
    c.elect(5);
    c.stabilize();
    let s5 = c.node(5).status();
    assert_eq!((s5.role, s5.term, s5.commit_index), (Role::Leader, 5, 3));
    let s5_log = vec![cmd_entry(1, 1), cmd_entry(2, 3), noop(3, 5)];
    for id in 2..=5 {
        assert_eq!(c.logs()[id - 1], s5_log, "S{id} took S5's index 2");
    }
    assert!(applied_an(&c, 2, 3));
    assert_eq!(first_divergence(&c), None);
    assert_eq!(c.node(1).status().commit_index, 1);
}

/// Figure 8 (e): once S1 replicates an entry of its own term (the no-op) to a majority, it commits
/// it and, by the Log Matching property, index 2 with it. S5 can then never be elected, and any
/// leader that can be holds both entries (Leader Completeness, §5.4).
#[test]
fn s5_4_2_figure_8_previous_term_entry_commits_with_an_entry_of_the_current_term() {
    let mut c = figure_8_cluster(|cfg| cfg);
    play_until_index_2_is_on_a_majority(&mut c);
    let events = c.stabilize();
    assert_eq!(c.node(1).status().commit_index, 3);
    let s1_applied: Vec<&Vec<Entry>> = events
        .iter()
        .filter_map(|e| match e {
            Event::Applied { node: 1, entries } => Some(entries),
            _ => None,
        })
        .collect();
    assert_eq!(
        s1_applied,
        vec![&vec![cmd_entry(2, 2), noop(3, 4)]],
        "index 2 is committed together with the no-op, in one step"
    );

    c.isolate(1);
    c.heal(4);
    c.heal(5);
    for _ in 0..5 {
        c.campaign(5);
        assert_ne!(
            c.node(5).status().role,
            Role::Leader,
            "S5 lacks a committed entry"
        );
    }
    c.elect(2);
    c.stabilize();
    let committed = [cmd_entry(1, 1), cmd_entry(2, 2), noop(3, 4)];
    assert_eq!(
        c.logs()[1][..3],
        committed[..],
        "the new leader has every committed entry"
    );
    for id in 3..=5 {
        assert_eq!(c.logs()[id - 1][..3], committed[..], "S{id}");
    }
    assert_eq!(first_divergence(&c), None);
}

/// The negative control: a core that commits by counting replicas (the mistake Figure 8 warns
/// about) applies index 2 of term 2, which S5 then overwrites. This is the failure the two tests
/// above rule out, so they would catch the mistake.
#[test]
fn s5_4_2_figure_8_counting_replicas_would_lose_an_applied_entry() {
    let mut c = figure_8_cluster(|mut cfg| {
        cfg.injected_bug = Some(InjectedBug::CommitPreviousTermByCounting);
        cfg
    });
    play_until_index_2_is_on_a_majority(&mut c);
    assert_eq!(
        c.node(1).status().commit_index,
        2,
        "the unsafe core commits index 2"
    );
    c.isolate(1);
    c.round();
    assert!(applied_an(&c, 2, 2));

    c.heal(4);
    c.heal(5);
    c.elect(5);
    c.stabilize();
    assert_eq!(
        first_divergence(&c),
        Some(2),
        "S1 and S5's followers applied different entries"
    );
}
