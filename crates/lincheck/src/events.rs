//! The history as time-ordered, doubly linked lists of call and return events.
//!
//! Operations with a known outcome have a call and a return in the *known* list. Operations with
//! an unknown outcome have only a call (they return at +∞), kept in a separate *unknown* list so
//! that the search can walk the known ones without stepping over every pending timeout.
//! Node numbers follow time order across both lists, so comparing two nodes compares their times.
//!
//! Linearizing an operation *lifts* its events out of its list; backtracking puts them back.
//! Lifts are undone in exactly the reverse order (the search keeps them on a stack), so each node
//! remembers its old neighbours and both moves are O(1) ("dancing links").

/// What one node of a list stands for. Operations are numbered `0..n` within one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// The operation was called; `ret` is its return node, `None` for an unknown outcome (+∞).
    Call { op: usize, ret: Option<usize> },
    /// The operation returned: it must be linearized before any event after this one.
    Return { op: usize },
    /// The start of a list.
    Head,
}

const NIL: usize = usize::MAX;
const HEAD_KNOWN: usize = 0;
const HEAD_UNKNOWN: usize = 1;

/// The two event lists of one partition.
pub(crate) struct Events {
    events: Vec<Event>,
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl Events {
    /// Builds the lists from each operation's call time and effective return time (`None` = +∞).
    ///
    /// Crucial tie rule: a call at the same instant as a return is ordered first, so the two
    /// operations count as concurrent. Clocks are coarse; claiming an order we did not see would
    /// reject correct systems.
    pub(crate) fn new(times: &[(u64, Option<u64>)]) -> Self {
        // (time, 0 = call / 1 = return, op): sorting this tuple gives the tie rule above.
        let mut order: Vec<(u64, u8, usize)> = Vec::with_capacity(times.len() * 2);
        for (op, &(call, ret)) in times.iter().enumerate() {
            debug_assert!(
                !matches!(ret, Some(ret) if ret < call),
                "validated before the search"
            );
            order.push((call, 0, op));
            if let Some(ret) = ret {
                order.push((ret, 1, op));
            }
        }
        order.sort_unstable();

        // The event at `order[k]` is node k + 2, after the two heads.
        let first_node = 2;
        let mut return_node = vec![None; times.len()];
        for (k, &(_, kind, op)) in order.iter().enumerate() {
            if kind == 1 {
                return_node[op] = Some(k + first_node);
            }
        }
        let mut events = vec![Event::Head, Event::Head];
        events.extend(order.iter().map(|&(_, kind, op)| match kind {
            0 => Event::Call {
                op,
                ret: return_node[op],
            },
            _ => Event::Return { op },
        }));

        let mut lists = Events {
            next: vec![NIL; events.len()],
            prev: vec![NIL; events.len()],
            events,
        };
        let mut tail = [HEAD_KNOWN, HEAD_UNKNOWN];
        for node in first_node..lists.events.len() {
            let list = match lists.events[node] {
                Event::Call { ret: None, .. } => HEAD_UNKNOWN,
                _ => HEAD_KNOWN,
            };
            lists.next[tail[list]] = node;
            lists.prev[node] = tail[list];
            tail[list] = node;
        }
        lists
    }

    /// The first event still in the known list.
    pub(crate) fn first_known(&self) -> Option<usize> {
        self.after(HEAD_KNOWN)
    }

    /// The first call still in the unknown list.
    pub(crate) fn first_unknown(&self) -> Option<usize> {
        self.after(HEAD_UNKNOWN)
    }

    /// The event following `node` in its list (`node` may have been lifted: it keeps its links).
    pub(crate) fn after(&self, node: usize) -> Option<usize> {
        Some(self.next[node]).filter(|&n| n != NIL)
    }

    /// What `node` stands for.
    pub(crate) fn event(&self, node: usize) -> Event {
        self.events[node]
    }

    /// Removes a call node and its return node from their list.
    pub(crate) fn lift(&mut self, call: usize) {
        let Event::Call { ret, .. } = self.events[call] else {
            panic!("only a call node is lifted, got {:?}", self.events[call]);
        };
        self.unlink(call);
        if let Some(ret) = ret {
            self.unlink(ret);
        }
    }

    /// Undoes the most recent [`Events::lift`] still in effect, which must be of `call`.
    pub(crate) fn unlift(&mut self, call: usize) {
        let Event::Call { ret, .. } = self.events[call] else {
            panic!("only a call node is unlifted, got {:?}", self.events[call]);
        };
        if let Some(ret) = ret {
            self.relink(ret);
        }
        self.relink(call);
    }

    fn unlink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = next;
        if next != NIL {
            self.prev[next] = prev;
        }
    }

    fn relink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = node;
        if next != NIL {
            self.prev[next] = node;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(events: &Events, first: Option<usize>) -> Vec<String> {
        let mut out = Vec::new();
        let mut node = first;
        while let Some(n) = node {
            out.push(match events.event(n) {
                Event::Call { op, .. } => format!("c{op}"),
                Event::Return { op } => format!("r{op}"),
                Event::Head => "head".to_string(),
            });
            node = events.after(n);
        }
        out
    }

    fn call_of(events: &Events, want: usize) -> usize {
        (0..events.events.len())
            .find(|&n| matches!(events.event(n), Event::Call { op, .. } if op == want))
            .expect("every operation has a call")
    }

    #[test]
    fn events_are_in_time_order_with_calls_before_returns_at_the_same_instant() {
        // op 0: [10, 20]; op 1: [20, 30]; op 2: [5, +inf); op 3: [25, +inf)
        let events = Events::new(&[(10, Some(20)), (20, Some(30)), (5, None), (25, None)]);
        assert_eq!(
            walk(&events, events.first_known()),
            ["c0", "c1", "r0", "r1"]
        );
        assert_eq!(walk(&events, events.first_unknown()), ["c2", "c3"]);
        // Node order is time order across the lists: op 3's call falls between r0 and r1.
        let r0 = events.after(call_of(&events, 1)).expect("r0 follows c1");
        assert!(call_of(&events, 2) < call_of(&events, 0));
        assert!(r0 < call_of(&events, 3));
    }

    #[test]
    fn unlift_restores_the_lists_after_nested_lifts() {
        let mut events = Events::new(&[(1, Some(4)), (2, Some(3)), (5, None), (6, None)]);
        let known = walk(&events, events.first_known());
        let unknown = walk(&events, events.first_unknown());
        let (c0, c1, c2) = (
            call_of(&events, 0),
            call_of(&events, 1),
            call_of(&events, 2),
        );
        events.lift(c1);
        events.lift(c2);
        events.lift(c0);
        assert!(events.first_known().is_none());
        assert_eq!(walk(&events, events.first_unknown()), ["c3"]);
        events.unlift(c0);
        events.unlift(c2);
        events.unlift(c1);
        assert_eq!(walk(&events, events.first_known()), known);
        assert_eq!(walk(&events, events.first_unknown()), unknown);
    }
}
