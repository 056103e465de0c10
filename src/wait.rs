//! Waiting, for sessions whose operations are futures: what a pending
//! operation waits for, the one-shot yield that suspends it, and the loop
//! that runs one to completion on the calling thread.
//!
//! Every operation of a session is an `async fn` over the transport. On a
//! blocking connection (the default) the socket calls themselves wait, up
//! to the operation's deadline, so the future completes in its first poll.
//! On a non-blocking one a socket call that would wait records what it
//! waits for in the session's `Waiter` and the future returns `Pending`:
//! the caller (the C API's `smtp_resume`, `smtp_multi_run`, or `block_on`
//! here) polls it again once the descriptor is ready or the time is up.

use std::future::Future;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// What a pending operation waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// The descriptor to watch; -1 when the wait is on time only.
    pub fd: RawFd,
    /// Resume when `fd` is readable.
    pub read: bool,
    /// Resume when `fd` is writable.
    pub write: bool,
    /// Resume by then whatever the descriptor says: the operation's
    /// deadline (the resume then ends it with a timeout), or a retry.
    pub until: Instant,
}

impl Wait {
    /// A wait on time alone, until `until`.
    pub fn timer(until: Instant) -> Wait {
        Wait {
            fd: -1,
            read: false,
            write: false,
            until,
        }
    }

    /// Milliseconds until `until`, rounded up (0 when due).
    pub fn ms_left(&self) -> u64 {
        ms_until(self.until)
    }
}

/// Milliseconds from now until `until`, rounded up so that a wait of that
/// long ends at or after it (0 when due).
pub fn ms_until(until: Instant) -> u64 {
    let left = until.saturating_duration_since(Instant::now());
    let ms = left.as_millis() as u64;
    if Duration::from_millis(ms) < left {
        ms + 1
    } else {
        ms
    }
}

/// The socket of the connection under way, as the waiter may watch it
/// without owning it.
pub(crate) type Watched = Weak<dyn AsFd + Send + Sync>;

#[derive(Default)]
struct State {
    wait: Option<Wait>,
    socket: Option<Watched>,
    /// Counts the sockets attached: a descriptor number seen again with
    /// another count is another socket (the first was closed).
    generation: u64,
}

/// The wait of a session's pending operation, shared between the session
/// (whose socket calls set it) and whoever resumes the operation.
#[derive(Default)]
pub struct Waiter(Mutex<State>);

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Waiter").field(&self.get()).finish()
    }
}

impl Waiter {
    /// A new waiter, shared.
    pub fn shared() -> Arc<Waiter> {
        Arc::new(Waiter::default())
    }

    /// The socket of a new connection: what `block` watches.
    pub(crate) fn attach(&self, socket: Watched) {
        let mut state = self.lock();
        state.socket = Some(socket);
        state.generation += 1;
    }

    /// Which socket a recorded descriptor belongs to: it changes with each
    /// new connection, so that a watcher can tell a reused descriptor
    /// number from the socket it registered.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Records what the operation now waits for.
    pub fn set(&self, wait: Wait) {
        self.lock().wait = Some(wait);
    }

    /// What the pending operation waits for, if it said.
    pub fn get(&self) -> Option<Wait> {
        self.lock().wait
    }

    /// Forgets the wait (the operation completed, or was abandoned).
    pub fn clear(&self) {
        self.lock().wait = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding it leaves nothing half-written.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks the thread until the recorded descriptor is ready or the
    /// recorded time is up (at once when nothing is recorded).
    pub fn block(&self) {
        let (wait, socket) = {
            let state = self.lock();
            (state.wait, state.socket.as_ref().and_then(Weak::upgrade))
        };
        let Some(wait) = wait else {
            return;
        };
        let left = Duration::from_millis(wait.ms_left());
        let socket = socket.filter(|s| s.as_fd().as_raw_fd() == wait.fd && wait.fd >= 0);
        let Some(socket) = socket else {
            std::thread::sleep(left);
            return;
        };
        let mut flags = PollFlags::empty();
        if wait.read {
            flags |= PollFlags::IN;
        }
        if wait.write {
            flags |= PollFlags::OUT;
        }
        let mut fds = [PollFd::new(&socket, flags)];
        let timeout = Timespec::try_from(left).ok();
        // EINTR and every other failure come back as a resume: the socket
        // call then says what is wrong, or waits again.
        let _ = poll(&mut fds, timeout.as_ref());
    }
}

/// A future that is pending once: the operation waits for what its socket
/// call recorded in the waiter, and goes on when polled again.
pub(crate) fn yield_once() -> YieldOnce {
    YieldOnce(false)
}

pub(crate) struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

/// No one is woken: whoever polls a session's operation learns when to poll
/// again from its `Waiter`, not from a waker.
struct NoWake;

impl Wake for NoWake {
    fn wake(self: Arc<Self>) {}
}

/// A context for polling a session's operation.
pub fn context_waker() -> Waker {
    Waker::from(Arc::new(NoWake))
}

/// Polls `fut` once.
pub fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// Runs an operation to completion on this thread: polled, and between
/// polls the thread waits for what the operation waits for. The operations
/// of a blocking connection complete in their first poll.
pub fn block_on<F: Future>(waiter: &Waiter, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = context_waker();
    loop {
        if let Poll::Ready(out) = poll_once(fut.as_mut(), &waker) {
            waiter.clear();
            return out;
        }
        waiter.block();
    }
}
