//! The history as a time-ordered, doubly linked list of call and return events.
//!
//! Linearizing an operation *lifts* its two events out of the list; backtracking puts them back.
//! Lifts are undone in exactly the reverse order (the search keeps them on a stack), so each node
//! remembers its old neighbours and both moves are O(1) ("dancing links").

/// What one node of the list stands for. Operations are numbered `0..n` within one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// The operation was called; `ret` is its return node, `None` for an unknown outcome (+∞).
    Call { op: usize, ret: Option<usize> },
    /// The operation returned: it must be linearized before any event after this one.
    Return { op: usize },
}

const NIL: usize = usize::MAX;
/// Index of the sentinel node before the first event.
const HEAD: usize = 0;

/// The event list of one partition.
pub(crate) struct Events {
    events: Vec<Event>,
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl Events {
    /// Builds the list from each operation's call time and effective return time (`None` = +∞).
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

        let mut return_node = vec![None; times.len()];
        for (position, &(_, kind, op)) in order.iter().enumerate() {
            if kind == 1 {
                return_node[op] = Some(position + 1);
            }
        }
        // Node 0 is the head sentinel; the event at `order[k]` is node k + 1.
        let mut events = vec![Event::Return { op: usize::MAX }];
        events.extend(order.iter().map(|&(_, kind, op)| match kind {
            0 => Event::Call {
                op,
                ret: return_node[op],
            },
            _ => Event::Return { op },
        }));
        let count = events.len();
        let next = (1..=count)
            .map(|n| if n == count { NIL } else { n })
            .collect();
        let prev = (0..count)
            .map(|n| if n == 0 { NIL } else { n - 1 })
            .collect();
        Events { events, next, prev }
    }

    /// The first event still in the list.
    pub(crate) fn first(&self) -> Option<usize> {
        self.after(HEAD)
    }

    /// The event following `node` (which may itself have been lifted: it keeps its old links).
    pub(crate) fn after(&self, node: usize) -> Option<usize> {
        Some(self.next[node]).filter(|&n| n != NIL)
    }

    /// What `node` stands for.
    pub(crate) fn event(&self, node: usize) -> Event {
        self.events[node]
    }

    /// Removes a call node and its return node from the list.
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

    fn walk(events: &Events) -> Vec<Event> {
        let mut out = Vec::new();
        let mut node = events.first();
        while let Some(n) = node {
            out.push(events.event(n));
            node = events.after(n);
        }
        out
    }

    #[test]
    fn events_are_in_time_order_with_calls_before_returns_at_the_same_instant() {
        // op 0: [10, 20]; op 1: [20, 30]; op 2: [5, +inf)
        let events = Events::new(&[(10, Some(20)), (20, Some(30)), (5, None)]);
        let kinds: Vec<String> = walk(&events)
            .iter()
            .map(|e| match e {
                Event::Call { op, .. } => format!("c{op}"),
                Event::Return { op } => format!("r{op}"),
            })
            .collect();
        assert_eq!(kinds, ["c2", "c0", "c1", "r0", "r1"]);
    }

    #[test]
    fn unlift_restores_the_list_after_nested_lifts() {
        let mut events = Events::new(&[(1, Some(4)), (2, Some(3)), (5, None)]);
        let before = walk(&events);
        let call_of = |events: &Events, want: usize| {
            let mut node = events.first();
            while let Some(n) = node {
                if matches!(events.event(n), Event::Call { op, .. } if op == want) {
                    return n;
                }
                node = events.after(n);
            }
            panic!("no call of op {want}");
        };
        let c1 = call_of(&events, 1);
        events.lift(c1);
        let c0 = call_of(&events, 0);
        events.lift(c0);
        assert_eq!(walk(&events), vec![Event::Call { op: 2, ret: None }]);
        events.unlift(c0);
        events.unlift(c1);
        assert_eq!(walk(&events), before);
    }
}
