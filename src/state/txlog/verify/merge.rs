//! Walking every node's stream together in index order, comparing the lines of one index.

use super::stream::{Item, NodeStream};
use super::{Finding, Unreadable};

/// Reads all `streams` to their end; each line is compared with the first node's line of the
/// same index (markers excepted), and a difference goes to `report`.
pub(super) fn merge(
    streams: &mut [NodeStream],
    report: &mut dyn FnMut(Finding),
) -> Result<(), Unreadable> {
    let mut heads: Vec<Option<Item>> = Vec::with_capacity(streams.len());
    for stream in streams.iter_mut() {
        heads.push(stream.next(report)?);
    }
    // Invariant: each stream hands out rising indexes, so the lowest head is the lowest index
    // not yet compared anywhere.
    while let Some(index) = heads.iter().flatten().map(|item| item.index).min() {
        let mut reference: Option<usize> = None;
        for (node, head) in heads.iter().enumerate() {
            let Some(item) = head.as_ref().filter(|i| i.index == index && !i.marker) else {
                continue;
            };
            let Some(first) = reference else {
                reference = Some(node);
                continue;
            };
            let first_item = heads[first].as_ref().expect("a head");
            if first_item.text != item.text {
                report(Finding::Differs {
                    index,
                    first: first_item.at(&streams[first]),
                    other: item.at(&streams[node]),
                });
            }
        }
        for (node, head) in heads.iter_mut().enumerate() {
            if head.as_ref().is_some_and(|item| item.index == index) {
                *head = streams[node].next(report)?;
            }
        }
    }
    Ok(())
}
