//! The multi handle: many non-blocking handles driven from one thread by
//! one poll(2) at a time (libcurl's multi interface, for programs that have
//! no event loop of their own).

use std::collections::VecDeque;
use std::ffi::c_int;
use std::time::Instant;

use super::handle::smtp_handle;
use super::{guard, smtp_status, SMTP_AGAIN, SMTP_ERR_INTERNAL, SMTP_ERR_INVALID, SMTP_OK};
use crate::error::Error;

/// A set of non-blocking handles driven together. Opaque. Created by
/// `smtp_multi_new`, freed by `smtp_multi_free`. One thread at a time.
pub struct smtp_multi {
    handles: Vec<*mut smtp_handle>,
    /// Operations completed by `smtp_multi_run`, not yet taken.
    done: VecDeque<(*mut smtp_handle, smtp_status)>,
}

/// Takes a handle being freed out of its multi handle, if any.
pub(super) fn leave(h: &smtp_handle, ptr: *mut smtp_handle) {
    // SAFETY: a handle's `multi` is NULL or the live multi handle it was
    // added to: smtp_multi_free clears it in every handle it holds.
    if let Some(m) = unsafe { h.multi.as_mut() } {
        m.forget(ptr);
    }
}

impl smtp_multi {
    fn forget(&mut self, h: *mut smtp_handle) {
        self.handles.retain(|x| *x != h);
        self.done.retain(|(x, _)| *x != h);
    }
}

/// Creates an empty multi handle; NULL only on an internal fault.
#[no_mangle]
pub extern "C" fn smtp_multi_new() -> *mut smtp_multi {
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(smtp_multi {
            handles: Vec::new(),
            done: VecDeque::new(),
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
        for h in &m.handles {
            // SAFETY: handles in a multi are live: smtp_free takes them out.
            if let Some(h) = unsafe { h.as_mut() } {
                h.multi = std::ptr::null_mut();
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
    let (Some(multi), Some(handle)) = (unsafe { m.as_mut() }, unsafe { h.as_mut() }) else {
        return SMTP_ERR_INVALID;
    };
    guard(SMTP_ERR_INTERNAL, || {
        if !handle.multi.is_null() {
            return handle.record(Err(Error::invalid(
                "smtp_multi_add: the handle is in a multi handle already",
            )));
        }
        if handle.pending.is_none() {
            let st = super::smtp_set_nonblocking(h, 1);
            if st != SMTP_OK {
                return st;
            }
        }
        handle.multi = m;
        multi.handles.push(h);
        SMTP_OK
    })
}

/// Takes a handle out of `m` (its pending operation, if any, stays
/// pending; a completed one not yet taken with `smtp_multi_next` is
/// dropped from `m`'s list). SMTP_ERR_INVALID when it is not in `m`.
#[no_mangle]
pub extern "C" fn smtp_multi_remove(m: *mut smtp_multi, h: *mut smtp_handle) -> smtp_status {
    // SAFETY: NULL or live, by the header's contract.
    let (Some(multi), Some(handle)) = (unsafe { m.as_mut() }, unsafe { h.as_mut() }) else {
        return SMTP_ERR_INVALID;
    };
    guard(SMTP_ERR_INTERNAL, || {
        if handle.multi != m {
            return SMTP_ERR_INVALID;
        }
        multi.forget(h);
        handle.multi = std::ptr::null_mut();
        SMTP_OK
    })
}

/// The number of handles in `m` (0 for NULL).
#[no_mangle]
pub extern "C" fn smtp_multi_count(m: *const smtp_multi) -> usize {
    // SAFETY: NULL or live, by the header's contract.
    unsafe { m.as_ref() }.map_or(0, |m| m.handles.len())
}

/// The number of handles in `m` with an operation pending (0 for NULL).
#[no_mangle]
pub extern "C" fn smtp_multi_pending(m: *const smtp_multi) -> c_int {
    // SAFETY: NULL or live, by the header's contract.
    let Some(m) = (unsafe { m.as_ref() }) else {
        return 0;
    };
    m.handles
        .iter()
        // SAFETY: handles in a multi are live.
        .filter(|h| unsafe { h.as_ref() }.is_some_and(|h| h.pending.is_some()))
        .count() as c_int
}

/// Waits at most `timeout_ms` milliseconds (-1: no limit but the handles'
/// own deadlines; 0: only look) in one poll(2) over the descriptors of
/// every handle of `m` with an operation pending, then resumes each whose
/// descriptor is ready or whose `smtp_wait_ms` has run out. Returns how
/// many operations completed in this call (take them with
/// `smtp_multi_next`), 0 at once when no handle of `m` has an operation
/// pending, or -1 when poll(2) failed (errno tells; EINTR is not a
/// failure: 0 is returned).
#[no_mangle]
pub extern "C" fn smtp_multi_run(m: *mut smtp_multi, timeout_ms: c_int) -> c_int {
    // SAFETY: NULL or live, by the header's contract.
    let Some(multi) = (unsafe { m.as_mut() }) else {
        return -1;
    };
    guard(-1, || multi.run(timeout_ms))
}

impl smtp_multi {
    fn run(&mut self, timeout_ms: c_int) -> c_int {
        let mut waiting: Vec<(*mut smtp_handle, Instant)> = Vec::new();
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut slot: Vec<Option<usize>> = Vec::new();
        for &h in &self.handles {
            // SAFETY: handles in a multi are live.
            let Some(handle) = (unsafe { h.as_ref() }) else {
                continue;
            };
            let Some(wait) = handle.wait() else {
                continue;
            };
            waiting.push((h, wait.until));
            if wait.fd >= 0 && (wait.read || wait.write) {
                let mut events = 0;
                if wait.read {
                    events |= libc::POLLIN;
                }
                if wait.write {
                    events |= libc::POLLOUT;
                }
                slot.push(Some(fds.len()));
                fds.push(libc::pollfd {
                    fd: wait.fd,
                    events,
                    revents: 0,
                });
            } else {
                slot.push(None);
            }
        }
        if waiting.is_empty() {
            return 0;
        }
        let now = Instant::now();
        let soonest = waiting
            .iter()
            .map(|(_, until)| until.saturating_duration_since(now))
            .min()
            .unwrap_or_default();
        let soonest_ms =
            soonest.as_millis() as u64 + u64::from(soonest.subsec_nanos() % 1_000_000 != 0);
        let mut wait_ms = soonest_ms.min(c_int::MAX as u64) as c_int;
        if timeout_ms >= 0 {
            wait_ms = wait_ms.min(timeout_ms);
        }
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            return if err.kind() == std::io::ErrorKind::Interrupted {
                0
            } else {
                -1
            };
        }
        let now = Instant::now();
        let mut completed = 0;
        for ((h, until), slot) in waiting.into_iter().zip(slot) {
            let ready = slot.is_some_and(|i| fds[i].revents != 0);
            if !ready && until > now {
                continue;
            }
            // SAFETY: handles in a multi are live.
            let Some(handle) = (unsafe { h.as_mut() }) else {
                continue;
            };
            let status = handle.resume();
            if status != SMTP_AGAIN {
                self.done.push_back((h, status));
                completed += 1;
            }
        }
        completed
    }
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
    let Some(multi) = (unsafe { m.as_mut() }) else {
        return std::ptr::null_mut();
    };
    let Some((h, st)) = multi.done.pop_front() else {
        return std::ptr::null_mut();
    };
    // SAFETY: NULL or writable, by the header's contract.
    if let Some(out) = unsafe { status.as_mut() } {
        *out = st;
    }
    h
}
