//! A bounded multi-producer, single-consumer queue that allocates as it fills.
//!
//! `std::sync::mpsc::sync_channel(n)` allocates and writes all `n` slots when it is created,
//! so the keeper's and every worker's queue were resident in full on an idle daemon. This one
//! keeps the same bound and the same errors (a full queue makes `try_send` fail with
//! [`TrySendError::Full`] and `send` wait), but its storage grows with what is queued and is
//! given back once the queue drains after a flood.

use std::collections::VecDeque;
use std::sync::mpsc::{RecvTimeoutError, SendError, TryRecvError, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Queued items above which a drained queue gives its storage back.
const KEEP_CAPACITY: usize = 64;

struct State<T> {
    items: VecDeque<T>,
    senders: usize,
    receiver_alive: bool,
    /// Whether the receiver waits for an item (so a send must wake it).
    receiver_waiting: bool,
    /// How many senders wait for room.
    senders_waiting: usize,
}

struct Shared<T> {
    bound: usize,
    state: Mutex<State<T>>,
    not_empty: Condvar,
    not_full: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves the queue itself consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending side; clone it for each producer.
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving side.
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// A queue that holds at most `bound` items (at least one).
pub(crate) fn bounded<T>(bound: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        bound: bound.max(1),
        state: Mutex::new(State {
            items: VecDeque::new(),
            senders: 1,
            receiver_alive: true,
            receiver_waiting: false,
            senders_waiting: 0,
        }),
        not_empty: Condvar::new(),
        not_full: Condvar::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

impl<T> Sender<T> {
    fn push(&self, mut st: MutexGuard<'_, State<T>>, item: T) {
        st.items.push_back(item);
        let wake = st.receiver_waiting;
        drop(st);
        if wake {
            self.shared.not_empty.notify_one();
        }
    }

    /// Queues `item` if there is room, else gives it back.
    pub(crate) fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let st = self.shared.lock();
        if !st.receiver_alive {
            return Err(TrySendError::Disconnected(item));
        }
        if st.items.len() >= self.shared.bound {
            return Err(TrySendError::Full(item));
        }
        self.push(st, item);
        Ok(())
    }

    /// Queues `item`, waiting for room; fails only once the receiver is gone.
    pub(crate) fn send(&self, item: T) -> Result<(), SendError<T>> {
        let mut st = self.shared.lock();
        loop {
            if !st.receiver_alive {
                return Err(SendError(item));
            }
            if st.items.len() < self.shared.bound {
                self.push(st, item);
                return Ok(());
            }
            st.senders_waiting += 1;
            st = self
                .shared
                .not_full
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
            st.senders_waiting -= 1;
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.senders -= 1;
        let last = st.senders == 0;
        drop(st);
        if last {
            self.shared.not_empty.notify_all();
        }
    }
}

impl<T> Receiver<T> {
    fn pop(&self, st: &mut State<T>) -> Option<T> {
        let item = st.items.pop_front()?;
        if st.items.is_empty() && st.items.capacity() > KEEP_CAPACITY {
            st.items = VecDeque::new();
        }
        if st.senders_waiting > 0 {
            self.shared.not_full.notify_one();
        }
        Some(item)
    }

    /// Takes the next item without waiting.
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut st = self.shared.lock();
        match self.pop(&mut st) {
            Some(item) => Ok(item),
            None if st.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits for the next item; fails once the queue is empty and every sender is gone.
    pub(crate) fn recv(&self) -> Result<T, std::sync::mpsc::RecvError> {
        let mut st = self.shared.lock();
        loop {
            if let Some(item) = self.pop(&mut st) {
                return Ok(item);
            }
            if st.senders == 0 {
                return Err(std::sync::mpsc::RecvError);
            }
            st.receiver_waiting = true;
            st = self
                .shared
                .not_empty
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
            st.receiver_waiting = false;
        }
    }

    /// Waits at most `timeout` for the next item.
    pub(crate) fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.shared.lock();
        loop {
            if let Some(item) = self.pop(&mut st) {
                return Ok(item);
            }
            if st.senders == 0 {
                return Err(RecvTimeoutError::Disconnected);
            }
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return Err(RecvTimeoutError::Timeout);
            }
            st.receiver_waiting = true;
            st = match self.shared.not_empty.wait_timeout(st, left) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
            st.receiver_waiting = false;
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.receiver_alive = false;
        let items = std::mem::take(&mut st.items);
        drop(st);
        self.shared.not_full.notify_all();
        drop(items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_its_bound_and_keeps_order() {
        let (tx, rx) = bounded(3);
        for i in 0..3 {
            assert!(tx.try_send(i).is_ok());
        }
        assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
        assert_eq!(rx.try_recv(), Ok(0));
        assert!(tx.try_send(3).is_ok());
        assert_eq!(
            (0..3).map(|_| rx.recv().ok()).collect::<Vec<_>>(),
            vec![Some(1), Some(2), Some(3)]
        );
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }

    #[test]
    fn storage_grows_with_use_and_is_given_back() {
        let (tx, rx) = bounded::<u64>(8192);
        assert_eq!(tx.shared.lock().items.capacity(), 0);
        for i in 0..1000 {
            assert!(tx.try_send(i).is_ok());
        }
        while rx.try_recv().is_ok() {}
        assert!(tx.shared.lock().items.capacity() <= KEEP_CAPACITY);
    }

    #[test]
    fn a_full_queue_makes_send_wait_for_room() {
        let (tx, rx) = bounded(1);
        assert!(tx.send(1).is_ok());
        let t = std::thread::spawn(move || tx.send(2).is_ok());
        // The sender cannot finish until an item is taken.
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv_timeout(Duration::from_secs(60)), Ok(2));
        assert!(t.join().unwrap_or(false));
        // Every sender gone and nothing queued: disconnected.
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(60)),
            Err(RecvTimeoutError::Disconnected)
        );
    }

    #[test]
    fn a_gone_receiver_fails_sends() {
        let (tx, rx) = bounded(2);
        drop(rx);
        assert!(matches!(tx.try_send(1), Err(TrySendError::Disconnected(1))));
        assert!(tx.send(2).is_err());
    }

    #[test]
    fn recv_timeout_times_out_while_a_sender_lives() {
        let (tx, rx) = bounded::<u8>(2);
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(10)),
            Err(RecvTimeoutError::Timeout)
        );
        drop(tx);
    }
}
