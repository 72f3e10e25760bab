//! [`Pending`]: the answer to a write that becomes durable later.
//!
//! A store with group commit acknowledges a write only once the fsync that covers it returns,
//! and that fsync is shared with other callers. The caller gets a [`Pending`] right away and
//! chooses how to wait: [`Pending::wait`] blocks a thread, `.await` parks a task (a `Pending` is a
//! [`Future`]). The store keeps the matching [`Resolver`] and calls [`Resolver::resolve`] once.
//!
//! This is a small hand-made one-shot channel rather than tokio's so that `aorta-api` pulls in no
//! runtime and blocking callers need none.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::Error;

struct Slot<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

struct State<T> {
    result: Option<Result<T, Error>>,
    waker: Option<Waker>,
    /// Whether a thread blocks in [`Pending::wait`]: only then is the condvar notified, since
    /// a notify is a syscall even with nobody waiting, and most waiters are tasks.
    blocked: bool,
}

impl<T> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is a plain Option pair: a panic while it was held cannot leave it
        // half-updated, so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A write that is not yet known to be durable. Wait for it with [`Pending::wait`] or `.await`.
///
/// Dropping it does not cancel the write; it only forgoes the answer.
#[must_use = "a write is only known to be durable once its Pending resolves"]
pub struct Pending<T> {
    slot: Arc<Slot<T>>,
}

/// The store's side of a [`Pending`]: resolves it exactly once.
///
/// Dropped without resolving (the store's writer died), it resolves the `Pending` with
/// [`Error::Closed`], so no caller waits forever.
pub struct Resolver<T> {
    slot: Option<Arc<Slot<T>>>,
}

impl<T> Pending<T> {
    /// A connected pair: the store keeps the [`Resolver`], the caller gets the [`Pending`].
    pub fn channel() -> (Resolver<T>, Pending<T>) {
        let slot = Arc::new(Slot {
            state: Mutex::new(State {
                result: None,
                waker: None,
                blocked: false,
            }),
            ready: Condvar::new(),
        });
        (
            Resolver {
                slot: Some(Arc::clone(&slot)),
            },
            Pending { slot },
        )
    }

    /// An already resolved `Pending`, for stores that answer at once (in-memory, validation
    /// errors found before queueing).
    pub fn ready(result: Result<T, Error>) -> Self {
        let (resolver, pending) = Self::channel();
        resolver.resolve(result);
        pending
    }

    /// Whether the answer is in (then [`Pending::wait`] returns at once).
    pub fn is_ready(&self) -> bool {
        self.slot.lock().result.is_some()
    }

    /// Blocks the thread until the write is durable or has failed.
    ///
    /// # Errors
    /// Whatever the store answered: a contract violation, [`Error::Storage`], or
    /// [`Error::Closed`] when the store stopped before answering.
    pub fn wait(self) -> Result<T, Error> {
        let mut state = self.slot.lock();
        loop {
            if let Some(result) = state.result.take() {
                return result;
            }
            state.blocked = true;
            state = self
                .slot
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.slot.lock();
        match state.result.take() {
            Some(result) => Poll::Ready(result),
            None => {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<T> std::fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("ready", &self.is_ready())
            .finish()
    }
}

impl<T> Resolver<T> {
    /// Delivers the answer and wakes whoever waits.
    pub fn resolve(mut self, result: Result<T, Error>) {
        self.deliver(result);
    }

    fn deliver(&mut self, result: Result<T, Error>) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        let (waker, blocked) = {
            let mut state = slot.lock();
            state.result = Some(result);
            (state.waker.take(), state.blocked)
        };
        if blocked {
            slot.ready.notify_all();
        }
        // Wake outside the lock: the woken task polls, and polling takes the same lock.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Drop for Resolver<T> {
    fn drop(&mut self) {
        self.deliver(Err(Error::Closed));
    }
}

impl<T> std::fmt::Debug for Resolver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("resolved", &self.slot.is_none())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// `wait` returns what another thread resolves, even when it resolves later.
    #[test]
    fn wait_gets_a_later_answer() {
        let (resolver, pending) = Pending::<u32>::channel();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            resolver.resolve(Ok(7));
        });
        assert_eq!(pending.wait().expect("resolved with Ok"), 7);
        t.join().expect("resolver thread");
    }

    /// Polling registers the waker, resolving wakes it, and the next poll is ready.
    #[test]
    fn poll_wakes_on_resolve() {
        let (resolver, mut pending) = Pending::<u32>::channel();
        let flag = Arc::new(Flag(false.into()));
        let waker = Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut pending).poll(&mut cx).is_pending());
        resolver.resolve(Ok(3));
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(matches!(
            Pin::new(&mut pending).poll(&mut cx),
            Poll::Ready(Ok(3))
        ));
    }

    /// A resolver dropped unresolved answers `Closed` instead of leaving the caller hanging.
    #[test]
    fn dropped_resolver_answers_closed() {
        let (resolver, pending) = Pending::<()>::channel();
        drop(resolver);
        assert!(matches!(pending.wait(), Err(Error::Closed)));
    }
}
