//! The multi handle: many non-blocking handles driven from one thread
//! (libcurl's multi interface, for programs that have no event loop of
//! their own).
//!
//! Its cost per `smtp_multi_run` grows with the handles that changed or
//! became ready, not with the handles it holds: each handle's descriptor
//! stays registered in an epoll set until its wait changes (a handle tells
//! its multi handle when an operation starts, stops or is resumed), and
//! deadlines wait in a heap.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::ffi::c_int;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Instant;

use super::handle::smtp_handle;
use super::{guard, smtp_status, SMTP_AGAIN, SMTP_ERR_INTERNAL, SMTP_ERR_INVALID, SMTP_OK};
use crate::error::Error;
use crate::wait::ms_until;

/// A handle, by its address (the pointer the caller holds).
type Key = usize;

fn key(h: *const smtp_handle) -> Key {
    h as usize
}

/// The bookkeeping of a multi handle, shared with the handles in it.
pub(super) struct Book {
    epoll: RawFd,
    members: HashSet<Key>,
    /// Each member's registered descriptor, events and socket generation
    /// (`Waiter::generation`).
    registered: HashMap<Key, (RawFd, u32, u64)>,
    /// Which member a descriptor is registered for.
    by_fd: HashMap<RawFd, Key>,
    /// Members whose wait may have changed since they were registered.
    dirty: Vec<Key>,
    /// Members with an operation pending.
    pending: usize,
    /// When members must be resumed at the latest; entries whose member
    /// has moved on are skipped.
    timers: BinaryHeap<Reverse<(Instant, Key)>>,
    /// Operations completed by `smtp_multi_run`, not yet taken.
    done: VecDeque<(Key, smtp_status)>,
}

impl Drop for Book {
    fn drop(&mut self) {
        // SAFETY: the epoll descriptor is this book's own.
        unsafe { libc::close(self.epoll) };
    }
}

impl Book {
    /// A member's operation started (`now`) or ended; its wait changed.
    pub(super) fn changed(&mut self, h: *const smtp_handle, was: bool, now: bool) {
        match (was, now) {
            (false, true) => self.pending += 1,
            (true, false) => self.pending = self.pending.saturating_sub(1),
            _ => {}
        }
        self.dirty.push(key(h));
    }

    fn epoll_ctl(&self, op: c_int, fd: RawFd, events: u32, k: Key) -> c_int {
        let mut ev = libc::epoll_event {
            events,
            u64: k as u64,
        };
        // SAFETY: a valid epoll descriptor and event struct.
        unsafe { libc::epoll_ctl(self.epoll, op, fd, &mut ev) }
    }

    fn unregister(&mut self, k: Key) {
        if let Some((fd, _, _)) = self.registered.remove(&k) {
            if self.by_fd.get(&fd) == Some(&k) {
                self.by_fd.remove(&fd);
                // The descriptor may be closed already (closing removes it
                // from the set): the error is no news.
                self.epoll_ctl(libc::EPOLL_CTL_DEL, fd, 0, k);
            }
        }
    }

    fn register(&mut self, k: Key, fd: RawFd, events: u32, generation: u64) {
        if let Some(&(old, ev, gen)) = self.registered.get(&k) {
            if old == fd && self.by_fd.get(&fd) == Some(&k) {
                if gen == generation {
                    // The same socket, still in the set (level-triggered:
                    // it stays armed): nothing to do for the same events.
                    if ev == events || self.epoll_ctl(libc::EPOLL_CTL_MOD, fd, events, k) == 0 {
                        self.registered.insert(k, (fd, events, generation));
                        return;
                    }
                }
                // Another socket under the same number: closing the first
                // took it out of the set.
                self.registered.remove(&k);
                self.by_fd.remove(&fd);
            } else {
                self.unregister(k);
            }
        }
        if let Some(other) = self.by_fd.insert(fd, k) {
            if other != k {
                // That member's descriptor was closed and the number
                // reused: its registration is gone with it.
                self.registered.remove(&other);
            }
        }
        if self.epoll_ctl(libc::EPOLL_CTL_ADD, fd, events, k) != 0 {
            self.epoll_ctl(libc::EPOLL_CTL_MOD, fd, events, k);
        }
        self.registered.insert(k, (fd, events, generation));
    }

    /// Brings the epoll set and the timers up to date for `k`.
    fn sync(&mut self, k: Key) {
        if !self.members.contains(&k) {
            return;
        }
        // SAFETY: members are live handles: smtp_free takes them out.
        let Some(h) = (unsafe { (k as *const smtp_handle).as_ref() }) else {
            return;
        };
        let Some(wait) = h.wait() else {
            self.unregister(k);
            return;
        };
        let mut events = 0;
        if wait.read {
            events |= libc::EPOLLIN as u32;
        }
        if wait.write {
            events |= libc::EPOLLOUT as u32;
        }
        if wait.fd >= 0 && events != 0 {
            self.register(k, wait.fd, events, h.waiter.generation());
        } else {
            self.unregister(k);
        }
        self.timers.push(Reverse((wait.until, k)));
    }

    fn sync_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for k in dirty {
            self.sync(k);
        }
    }

    /// Whether a timer entry still stands: its member waits until then.
    fn timer_stands(&self, until: Instant, k: Key) -> bool {
        if !self.members.contains(&k) {
            return false;
        }
        // SAFETY: members are live handles.
        let h = unsafe { &*(k as *const smtp_handle) };
        h.wait().is_some_and(|w| w.until == until)
    }

    /// The earliest standing deadline.
    fn next_timer(&mut self) -> Option<Instant> {
        while let Some(&Reverse((until, k))) = self.timers.peek() {
            if self.timer_stands(until, k) {
                return Some(until);
            }
            self.timers.pop();
        }
        None
    }

    /// Takes out member `k`, which has an operation pending or not.
    fn remove(&mut self, k: Key, pending: bool) {
        self.unregister(k);
        if self.members.remove(&k) && pending {
            self.pending = self.pending.saturating_sub(1);
        }
        self.done.retain(|(x, _)| *x != k);
    }
}

/// A set of non-blocking handles driven together. Opaque. Created by
/// `smtp_multi_new`, freed by `smtp_multi_free`. One thread at a time, the
/// thread that uses its handles.
pub struct smtp_multi {
    book: Rc<RefCell<Book>>,
}

/// Takes a handle being freed out of its multi handle, if any.
pub(super) fn leave(h: &mut smtp_handle, ptr: *mut smtp_handle) {
    if let Some(book) = h.multi.take() {
        book.borrow_mut().remove(key(ptr), h.pending.is_some());
    }
}

/// Creates an empty multi handle; NULL only on an internal fault (or when
/// the system refuses an epoll descriptor).
#[no_mangle]
pub extern "C" fn smtp_multi_new() -> *mut smtp_multi {
    guard(std::ptr::null_mut(), || {
        // SAFETY: plain system call.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epoll < 0 {
            return std::ptr::null_mut();
        }
        Box::into_raw(Box::new(smtp_multi {
            book: Rc::new(RefCell::new(Book {
                epoll,
                members: HashSet::new(),
                registered: HashMap::new(),
                by_fd: HashMap::new(),
                dirty: Vec::new(),
                pending: 0,
                timers: BinaryHeap::new(),
                done: VecDeque::new(),
            })),
        }))
    })
}

/// Frees a multi handle. Its handles are not freed: they leave it, as
/// they are (an operation still pending stays pending, for the caller to
/// resume or abandon). NULL is ignored.
#[no_mangle]
pub extern "C" fn smtp_multi_free(m: *mut smtp_multi) {
    if m.is_null() {
        return;
    }
    guard((), || {
        // SAFETY: `m` came from smtp_multi_new and is not freed yet (the
        // header's contract).
        let m = unsafe { Box::from_raw(m) };
        let members: Vec<Key> = m.book.borrow().members.iter().copied().collect();
        for k in members {
            // SAFETY: members are live handles: smtp_free takes them out.
            if let Some(h) = unsafe { (k as *mut smtp_handle).as_mut() } {
                h.multi = None;
            }
        }
    })
}

/// Adds a handle (made non-blocking here) to `m`. A handle is in one multi
/// handle at most: SMTP_ERR_INVALID when it is in one already, or when
/// either pointer is NULL. `smtp_free` takes a handle out of its multi
/// handle.
#[no_mangle]
pub extern "C" fn smtp_multi_add(m: *mut smtp_multi, h: *mut smtp_handle) -> smtp_status {
    // SAFETY: NULL or live, by the header's contract.
    let (Some(multi), Some(handle)) = (unsafe { m.as_ref() }, unsafe { h.as_mut() }) else {
        return SMTP_ERR_INVALID;
    };
    guard(SMTP_ERR_INTERNAL, || {
        if handle.multi.is_some() {
            return handle.record(Err(Error::invalid(
                "smtp_multi_add: the handle is in a multi handle already",
            )));
        }
        if handle.pending.is_none() {
            let st = super::run(handle, |c| c.set_nonblocking(true));
            if st != SMTP_OK {
                return st;
            }
        }
        let mut book = multi.book.borrow_mut();
        book.members.insert(key(h));
        book.changed(h, false, handle.pending.is_some());
        handle.multi = Some(Rc::clone(&multi.book));
        SMTP_OK
    })
}

/// Takes a handle out of `m` (its pending operation, if any, stays
/// pending; a completed one not yet taken with `smtp_multi_next` is
/// dropped from `m`'s list). SMTP_ERR_INVALID when it is not in `m`.
#[no_mangle]
pub extern "C" fn smtp_multi_remove(m: *mut smtp_multi, h: *mut smtp_handle) -> smtp_status {
    // SAFETY: NULL or live, by the header's contract.
    let (Some(multi), Some(handle)) = (unsafe { m.as_ref() }, unsafe { h.as_mut() }) else {
        return SMTP_ERR_INVALID;
    };
    guard(SMTP_ERR_INTERNAL, || {
        if !handle
            .multi
            .as_ref()
            .is_some_and(|b| Rc::ptr_eq(b, &multi.book))
        {
            return SMTP_ERR_INVALID;
        }
        leave(handle, h);
        SMTP_OK
    })
}

/// The number of handles in `m` (0 for NULL).
#[no_mangle]
pub extern "C" fn smtp_multi_count(m: *const smtp_multi) -> usize {
    // SAFETY: NULL or live, by the header's contract.
    unsafe { m.as_ref() }.map_or(0, |m| guard(0, || m.book.borrow().members.len()))
}

/// The number of handles in `m` with an operation pending (0 for NULL).
#[no_mangle]
pub extern "C" fn smtp_multi_pending(m: *const smtp_multi) -> c_int {
    // SAFETY: NULL or live, by the header's contract.
    unsafe { m.as_ref() }.map_or(0, |m| guard(0, || m.book.borrow().pending as c_int))
}

/// Waits at most `timeout_ms` milliseconds (-1: no limit but the handles'
/// own deadlines; 0: only look) for any handle of `m` with an operation
/// pending (one epoll wait over them all), then resumes each whose
/// descriptor is ready or whose `smtp_wait_ms` has run out. Returns how
/// many operations completed in this call (take them with
/// `smtp_multi_next`), 0 at once when no handle of `m` has an operation
/// pending, or -1 when the wait failed (errno tells; EINTR is not a
/// failure: 0 is returned).
#[no_mangle]
pub extern "C" fn smtp_multi_run(m: *mut smtp_multi, timeout_ms: c_int) -> c_int {
    // SAFETY: NULL or live, by the header's contract.
    let Some(multi) = (unsafe { m.as_ref() }) else {
        return -1;
    };
    guard(-1, || run(&multi.book, timeout_ms))
}

/// Resumes the member `k`; true when its operation completed.
fn resume(book: &RefCell<Book>, k: Key) -> bool {
    // SAFETY: members are live handles; no other reference to this one is
    // held (the book's borrow is released around the call, which may
    // reach the book again through the handle).
    let h = unsafe { &mut *(k as *mut smtp_handle) };
    let status = h.resume();
    let mut b = book.borrow_mut();
    b.dirty.push(k);
    if status != SMTP_AGAIN {
        b.done.push_back((k, status));
        return true;
    }
    false
}

fn run(book: &RefCell<Book>, timeout_ms: c_int) -> c_int {
    const MAX_EVENTS: usize = 256;
    let (epoll, wait_ms) = {
        let mut b = book.borrow_mut();
        b.sync_dirty();
        if b.pending == 0 {
            return 0;
        }
        let mut wait_ms = timeout_ms;
        if let Some(until) = b.next_timer() {
            let ms = ms_until(until).min(c_int::MAX as u64) as c_int;
            if wait_ms < 0 || ms < wait_ms {
                wait_ms = ms;
            }
        }
        (b.epoll, wait_ms)
    };
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
    // SAFETY: `events` has room for MAX_EVENTS entries.
    let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), MAX_EVENTS as c_int, wait_ms) };
    if n < 0 {
        let err = std::io::Error::last_os_error();
        return if err.kind() == std::io::ErrorKind::Interrupted {
            0
        } else {
            -1
        };
    }
    let mut completed = 0;
    let mut resumed = HashSet::new();
    for ev in &events[..n as usize] {
        let k = ev.u64 as Key;
        let live = {
            let b = book.borrow();
            b.members.contains(&k)
        };
        // SAFETY: a member is live.
        if live && unsafe { &*(k as *const smtp_handle) }.pending.is_some() && resumed.insert(k) {
            completed += c_int::from(resume(book, k));
        }
    }
    // The members whose time has come (their deadline, or a retry).
    let now = Instant::now();
    loop {
        let due = {
            let mut b = book.borrow_mut();
            match b.next_timer() {
                Some(until) if until <= now => b.timers.pop().map(|Reverse((_, k))| k),
                _ => None,
            }
        };
        let Some(k) = due else { break };
        if resumed.insert(k) {
            completed += c_int::from(resume(book, k));
        }
    }
    completed
}

/// The next operation `smtp_multi_run` completed, in the order they
/// completed: its handle, with its final status stored in `*status` (when
/// `status` is not NULL); NULL when none is left. Operations that completed
/// without SMTP_AGAIN (their call returned the status) are not listed.
#[no_mangle]
pub extern "C" fn smtp_multi_next(
    m: *mut smtp_multi,
    status: *mut smtp_status,
) -> *mut smtp_handle {
    // SAFETY: NULL or live, by the header's contract.
    let Some(multi) = (unsafe { m.as_ref() }) else {
        return std::ptr::null_mut();
    };
    let Some((k, st)) = guard(None, || multi.book.borrow_mut().done.pop_front()) else {
        return std::ptr::null_mut();
    };
    // SAFETY: NULL or writable, by the header's contract.
    if let Some(out) = unsafe { status.as_mut() } {
        *out = st;
    }
    k as *mut smtp_handle
}
