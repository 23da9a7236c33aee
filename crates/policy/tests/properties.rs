//! Properties checked against simple models: the failure window's bound and bookkeeping, and
//! the deadline heap's order.

use std::collections::HashMap;

use jailor_policy::{Added, Deadlines, FailureWindow, Id, WindowConfig};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Add { id: u16, dt: i64, weight: u32 },
    Cleanup { dt: i64 },
    Remove { id: u16 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u16..64, 0i64..400, 1u32..3).prop_map(|(id, dt, weight)| Op::Add { id, dt, weight }),
        1 => (0i64..800).prop_map(|dt| Op::Cleanup { dt }),
        1 => (0u16..64).prop_map(|id| Op::Remove { id }),
    ]
}

fn id(n: u16) -> Id {
    if n % 5 == 0 {
        Id::Raw(format!("user-{n}").into())
    } else {
        Id::parse(&format!("2001:db8::{n:x}"))
    }
}

/// The model: ids with (retry, last time), least recently failing first. Counts follow the
/// window's rule only as far as the bookkeeping needs (which ids are tracked, in which order).
#[derive(Default)]
struct Model {
    order: Vec<(u16, i64)>,
}

impl Model {
    fn touch(&mut self, n: u16, t: i64, cap: usize) -> bool {
        if let Some(at) = self.order.iter().position(|(m, _)| *m == n) {
            let (_, last) = self.order.remove(at);
            self.order.push((n, last.max(t)));
            false
        } else {
            let evicted = self.order.len() >= cap;
            if evicted {
                self.order.remove(0);
            }
            self.order.push((n, t));
            evicted
        }
    }

    fn forget(&mut self, n: u16) {
        self.order.retain(|(m, _)| *m != n);
    }
}

proptest! {
    #[test]
    fn window_never_exceeds_its_cap(cap in 1usize..12, ops in prop::collection::vec(op(), 1..300)) {
        let mut w = FailureWindow::new(WindowConfig {
            findtime: 600,
            maxretry: 6,
            maxmatches: 2,
            max_tracked: cap,
        });
        let mut model = Model::default();
        let mut now = 0i64;
        let mut evicted = 0u64;
        let mut total = 0u64;
        for op in ops {
            match op {
                Op::Add { id: n, dt, weight } => {
                    now += dt;
                    total += 1;
                    if model.touch(n, now, cap) {
                        evicted += 1;
                    }
                    let line = format!("line {now}");
                    match w.add(&id(n), now, &[line.as_str()], weight) {
                        Added::Ban(ticket) => {
                            prop_assert_eq!(&ticket.id, &id(n));
                            prop_assert!(ticket.retry >= 6);
                            prop_assert!(ticket.matches.len() <= 2);
                            model.forget(n);
                        }
                        Added::Counted { retry } => prop_assert!(retry < 6),
                    }
                }
                Op::Cleanup { dt } => {
                    now += dt;
                    w.cleanup(now);
                    model.order.retain(|(_, last)| *last > now - 600);
                }
                Op::Remove { id: n } => {
                    let was = model.order.iter().any(|(m, _)| *m == n);
                    prop_assert_eq!(w.remove(&id(n)).is_some(), was);
                    model.forget(n);
                }
            }
            prop_assert!(w.len() <= cap);
            let tracked: Vec<Id> = w.tickets().map(|t| t.id).collect();
            let expected: Vec<Id> = model.order.iter().map(|(n, _)| id(*n)).collect();
            prop_assert_eq!(&tracked, &expected);
            for ticket in w.tickets() {
                prop_assert_eq!(w.get(&ticket.id), Some(ticket));
            }
            let stats = w.stats();
            prop_assert_eq!((stats.current, stats.total, stats.evicted), (w.len(), total, evicted));
        }
    }

    #[test]
    fn deadlines_pop_in_order(ops in prop::collection::vec((0u8..3, 0u16..40, 0i64..1000), 1..400)) {
        let mut d = Deadlines::new();
        let mut model: HashMap<u16, i64> = HashMap::new();
        let mut now = 0i64;
        for (kind, key, value) in ops {
            match kind {
                0 => {
                    d.set(key, now + value);
                    model.insert(key, now + value);
                }
                1 => prop_assert_eq!(d.cancel(&key), model.remove(&key)),
                _ => {
                    now += value / 4;
                    let due = d.pop_due(now);
                    let mut expected: Vec<(u16, i64)> =
                        model.iter().filter(|(_, at)| **at <= now).map(|(k, at)| (*k, *at)).collect();
                    model.retain(|_, at| *at > now);
                    let mut got = due.clone();
                    prop_assert!(due.windows(2).all(|w| w[0].1 <= w[1].1), "{:?}", due);
                    got.sort();
                    expected.sort();
                    prop_assert_eq!(got, expected);
                }
            }
            prop_assert_eq!(d.len(), model.len());
            prop_assert_eq!(d.next_deadline(), model.values().min().copied());
        }
    }
}
