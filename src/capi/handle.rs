//! Handles: creation, connection, settings, freeing.

use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::time::Duration;

use std::sync::Arc;
use std::task::Poll;

use super::multi::Book;
use super::{
    cstr, enhanced_cstring, guard, op, opt_cstr, run, silent_catch, smtp_status, to_cstring,
    OpFuture, SMTP_AGAIN, SMTP_ERR_INTERNAL, SMTP_ERR_INVALID, SMTP_OK,
};
use crate::error::{Error, Result, Status};
use crate::session::{Client, Kind, LineFn};
use crate::transport::TlsVersion;
use crate::wait::{context_waker, poll_once, Wait, Waiter};

/// A session with one SMTP or LMTP server (smtplib's SMTP, SMTP_SSL or LMTP
/// object). Opaque. Created by `smtp_new*` or `smtp_open*`, freed by
/// `smtp_free`. One thread at a time may use a handle; different handles may
/// be used on different threads at once.
pub struct smtp_handle {
    /// The operation under way on a non-blocking handle. Declared first:
    /// it borrows `client`'s session, so it is dropped before it.
    pub(super) pending: Option<OpFuture>,
    pub(super) client: Client,
    /// The session's waiter: what a pending operation waits for.
    pub(super) waiter: Arc<Waiter>,
    /// The bookkeeping of the multi handle this handle is in.
    pub(super) multi: Option<std::rc::Rc<std::cell::RefCell<Book>>>,
    pub(super) last: Option<Error>,
    pub(super) view: View,
    /// What the last `smtp_parse_address_list` lent out.
    pub(super) addresses: Vec<CString>,
}

/// The C strings a handle lends out; rebuilt after each call that changes
/// the session, so a pointer stays valid until the next such call.
#[derive(Default)]
pub(super) struct View {
    pub reply_code: c_int,
    pub reply_text: Option<CString>,
    pub reply_enhanced: Option<CString>,
    pub error_enhanced: Option<CString>,
    pub recipient_enhanced: Vec<Option<CString>>,
    pub error_message: CString,
    pub error_text: Option<CString>,
    pub error_sender: Option<CString>,
    pub helo: Option<CString>,
    pub ehlo: Option<CString>,
    pub features: Vec<(CString, CString)>,
    pub recipients: Vec<(CString, c_int, CString, bool)>,
    pub local_hostname: Option<CString>,
    pub source_host: Option<CString>,
    pub tls: Option<[CString; 3]>,
}

impl smtp_handle {
    fn new(kind: Kind) -> smtp_handle {
        let client = Client::new(kind);
        let mut h = smtp_handle {
            pending: None,
            waiter: client.waiter().clone(),
            multi: None,
            client,
            last: None,
            view: View::default(),
            addresses: Vec::new(),
        };
        h.refresh();
        h
    }

    /// Keeps `result` as the last error and returns its status. While an
    /// operation is pending only the error is refreshed: the session is
    /// its future's.
    pub(super) fn record(&mut self, result: Result<()>) -> smtp_status {
        let status = match &result {
            Ok(()) => SMTP_OK,
            Err(e) => e.status as smtp_status,
        };
        self.last = result.err();
        self.refresh_error();
        if self.pending.is_none() {
            self.refresh();
        }
        status
    }

    /// SMTP_ERR_INVALID, kept as the handle's error, when an operation is
    /// pending: nothing may touch the session but the operation's future.
    pub(super) fn refuse_while_pending(&mut self) -> Option<smtp_status> {
        self.pending.as_ref()?;
        Some(self.record(Err(Error::invalid(
            "an operation is pending on this non-blocking handle: call smtp_resume until it \
             completes, or smtp_close to abandon it",
        ))))
    }

    /// The client, unless an operation is pending (its future has it).
    pub(super) fn idle_client(&self) -> Option<&Client> {
        self.pending.is_none().then_some(&self.client)
    }

    /// What the pending operation waits for.
    pub(super) fn wait(&self) -> Option<Wait> {
        self.pending.as_ref()?;
        // A pending operation always says; were one not to, "now".
        Some(
            self.waiter
                .get()
                .unwrap_or_else(|| Wait::timer(std::time::Instant::now())),
        )
    }

    /// Starts (`Some`) or ends (`None`) the pending operation, telling the
    /// multi handle, if any, that this handle's wait changed.
    pub(super) fn set_pending(&mut self, fut: Option<OpFuture>) {
        let was = self.pending.is_some();
        self.pending = fut;
        let now = self.pending.is_some();
        let me: *const smtp_handle = self;
        if let Some(book) = &self.multi {
            book.borrow_mut().changed(me, was, now);
        }
    }

    /// Records how a call's operation ended: `None` when it is pending
    /// (SMTP_AGAIN), a panic's message when one was caught (the pending
    /// operation, if any, is dropped and the connection closed).
    pub(super) fn settle(
        &mut self,
        outcome: std::result::Result<Option<Result<()>>, String>,
    ) -> smtp_status {
        match outcome {
            Ok(Some(result)) => {
                self.set_pending(None);
                self.waiter.clear();
                self.record(result)
            }
            Ok(None) => {
                self.last = None;
                self.refresh_error();
                SMTP_AGAIN
            }
            Err(panic) => {
                self.abandon();
                self.record(Err(Error::new(
                    Status::Internal,
                    format!("internal error in libsmtp (caught; connection closed): {panic}"),
                )))
            }
        }
    }

    /// Polls the pending operation once.
    pub(super) fn resume(&mut self) -> smtp_status {
        let outcome = silent_catch(|| {
            let fut = self.pending.as_mut()?;
            match poll_once(fut.as_mut(), &context_waker()) {
                Poll::Ready(r) => Some(r),
                Poll::Pending => None,
            }
        });
        match outcome {
            Ok(None) if self.pending.is_none() => SMTP_ERR_INVALID,
            other => self.settle(other),
        }
    }

    /// Drops the pending operation, if any, and closes the connection.
    pub(super) fn abandon(&mut self) {
        self.set_pending(None);
        self.waiter.clear();
        self.client.close();
    }

    fn refresh_error(&mut self) {
        let v = &mut self.view;
        match &self.last {
            Some(e) => {
                v.error_message = to_cstring(e.detail().as_bytes());
                v.error_text = e.code.map(|_| to_cstring(&e.text));
                v.error_sender = e.sender.as_deref().map(|s| to_cstring(s.as_bytes()));
                v.error_enhanced = enhanced_cstring(e.enhanced_code());
            }
            None => {
                v.error_message = CString::default();
                v.error_text = None;
                v.error_sender = None;
                v.error_enhanced = None;
            }
        }
    }

    fn refresh(&mut self) {
        let c = &self.client;
        let v = &mut self.view;
        match c.last_reply() {
            Some(r) => {
                v.reply_code = r.code;
                v.reply_text = Some(to_cstring(&r.text()));
                v.reply_enhanced = enhanced_cstring(r.enhanced_code());
            }
            None => {
                v.reply_code = -1;
                v.reply_text = None;
                v.reply_enhanced = None;
            }
        }
        v.helo = c.helo_resp().map(to_cstring);
        v.ehlo = c.ehlo_resp().map(to_cstring);
        v.features = c
            .features()
            .iter()
            .map(|(k, p)| (to_cstring(k.as_bytes()), to_cstring(p.as_bytes())))
            .collect();
        v.recipients = c
            .recipient_results()
            .iter()
            .map(|r| {
                (
                    to_cstring(r.address.as_bytes()),
                    r.code,
                    to_cstring(&r.text),
                    r.accepted,
                )
            })
            .collect();
        v.recipient_enhanced = c
            .recipient_results()
            .iter()
            .map(|r| enhanced_cstring(r.enhanced_code()))
            .collect();
        v.tls = c.tls_info().map(|t| {
            [
                to_cstring(t.version.as_bytes()),
                to_cstring(t.cipher.as_bytes()),
                to_cstring(t.peer_subject.as_bytes()),
            ]
        });
    }
}

fn new_handle(kind: Kind) -> *mut smtp_handle {
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(smtp_handle::new(kind)))
    })
}

/// Creates an unconnected SMTP session (smtplib `SMTP()`). Connect it with
/// `smtp_connect`. Returns NULL only on an internal fault. Free with
/// `smtp_free`.
#[no_mangle]
pub extern "C" fn smtp_new() -> *mut smtp_handle {
    new_handle(Kind::Smtp)
}

/// Creates an unconnected implicit-TLS session (smtplib `SMTP_SSL()`):
/// `smtp_connect` runs the TLS handshake before reading the greeting;
/// the default port is 465.
#[no_mangle]
pub extern "C" fn smtp_new_ssl() -> *mut smtp_handle {
    new_handle(Kind::SmtpSsl)
}

/// Creates an unconnected LMTP session (smtplib `LMTP()`): LHLO instead of
/// EHLO, a host starting with "/" is a Unix socket, the default port is
/// 2003, and `smtp_sendmail` reads one reply per accepted recipient.
#[no_mangle]
pub extern "C" fn smtp_new_lmtp() -> *mut smtp_handle {
    new_handle(Kind::Lmtp)
}

fn open(kind: Kind, host: *const c_char, port: c_uint, out: *mut *mut smtp_handle) -> smtp_status {
    if out.is_null() {
        return SMTP_ERR_INVALID;
    }
    let h = new_handle(kind);
    // SAFETY: `out` is non-NULL and points to writable storage for one
    // pointer (the header's contract). Written on every path (NULL when no
    // handle could be made), so that the error can be read from the handle,
    // as sqlite3_open does.
    unsafe { *out = h };
    if h.is_null() {
        return super::SMTP_ERR_INTERNAL;
    }
    smtp_connect(h, host, port)
}

/// Creates an SMTP session and connects it (smtplib `SMTP(host, port)`).
///
/// `host` may end in ":port" when `port` is 0; port 0 means 25. `*out`
/// receives a handle even when connecting failed, so that
/// `smtp_error_code`/`smtp_error_message` can be read; free it with
/// `smtp_free` in both cases. Returns SMTP_ERR_CONNECT (and closes) when
/// the greeting is not 220.
///
/// `host` is copied; `out` must point to writable storage for one handle
/// pointer.
#[no_mangle]
pub extern "C" fn smtp_open(
    host: *const c_char,
    port: c_uint,
    out: *mut *mut smtp_handle,
) -> smtp_status {
    open(Kind::Smtp, host, port, out)
}

/// As `smtp_open`, over implicit TLS (smtplib `SMTP_SSL`); port 0 means 465.
/// The certificate is verified as `smtp_set_tls_verify` describes; to change
/// TLS settings first, use `smtp_new_ssl` and `smtp_connect`.
///
/// `host` is copied; `out` as for `smtp_open`.
#[no_mangle]
pub extern "C" fn smtp_open_ssl(
    host: *const c_char,
    port: c_uint,
    out: *mut *mut smtp_handle,
) -> smtp_status {
    open(Kind::SmtpSsl, host, port, out)
}

/// As `smtp_open`, speaking LMTP (smtplib `LMTP`); port 0 means 2003, and a
/// host starting with "/" is the path of a Unix socket.
///
/// `host` is copied; `out` as for `smtp_open`.
#[no_mangle]
pub extern "C" fn smtp_open_lmtp(
    host: *const c_char,
    port: c_uint,
    out: *mut *mut smtp_handle,
) -> smtp_status {
    open(Kind::Lmtp, host, port, out)
}

/// Connects (smtplib `connect()`), closing any previous connection. The
/// greeting is then `smtp_reply_code`/`smtp_reply_text`. A NULL host means
/// "localhost"; "host:port" is split when `port` is 0; port 0 means the
/// kind's default. A greeting other than 220 gives SMTP_ERR_CONNECT and
/// closes the connection.
///
/// `host` is copied (kept for TLS verification and SNI); the caller's memory
/// need not outlive the call.
#[no_mangle]
pub extern "C" fn smtp_connect(
    h: *mut smtp_handle,
    host: *const c_char,
    port: c_uint,
) -> smtp_status {
    op(h, |s| {
        // SAFETY: NULL or a C string, by contract.
        let host = unsafe { opt_cstr(host, "host") }?
            .unwrap_or("localhost")
            .to_string();
        let port =
            u16::try_from(port).map_err(|_| Error::invalid(format!("port {port} out of range")))?;
        Ok(async move { s.connect(&host, port).await.map(drop) })
    })
}

/// Closes the connection without QUIT (smtplib `close()`). The handle stays
/// usable: `smtp_connect` may be called again. Always SMTP_OK for a handle.
/// An operation pending on a non-blocking handle is abandoned (nothing
/// more is sent or read for it).
#[no_mangle]
pub extern "C" fn smtp_close(h: *mut smtp_handle) -> smtp_status {
    // SAFETY: as in `run`.
    let Some(handle) = (unsafe { h.as_mut() }) else {
        return SMTP_ERR_INVALID;
    };
    if handle.pending.is_some() {
        guard((), || handle.abandon());
    }
    run(h, |c| {
        c.close();
        Ok(())
    })
}

/// Closes the connection (without QUIT) and frees the handle and every
/// string it lent. NULL is ignored. The handle must not be used, nor freed
/// again, afterwards.
#[no_mangle]
pub extern "C" fn smtp_free(h: *mut smtp_handle) {
    if h.is_null() {
        return;
    }
    guard((), || {
        // SAFETY: `h` came from Box::into_raw in new_handle and, by the
        // caller's contract, has not been freed before.
        let mut handle = unsafe { Box::from_raw(h) };
        super::multi::leave(&mut handle, h);
        drop(handle);
    })
}

/// Sets the transcript level (smtplib `set_debuglevel`): 0 off, 1 commands
/// and replies, 2 the same with timestamps (UTC). Lines go to standard
/// error unless `smtp_set_debug_callback` names a function. Credentials
/// are never shown.
#[no_mangle]
pub extern "C" fn smtp_set_debuglevel(h: *mut smtp_handle, level: c_int) -> smtp_status {
    run(h, |c| {
        c.debug().set_level(level.clamp(0, 2) as u8);
        Ok(())
    })
}

/// A transcript line: `line` is NUL-terminated, `len` bytes long without
/// the NUL, and valid only during the call.
///
/// Must not throw or unwind: a C++ exception (or a Rust panic, or any
/// other unwinding) that leaves the callback into libsmtp is not caught:
/// the process aborts ("Rust cannot catch foreign exceptions", SIGABRT),
/// and `longjmp` out of it skips libsmtp's clean-up (undefined behaviour).
/// Catch everything inside the callback and keep any failure for after
/// the call returns (it has no return value); C++ callbacks can be
/// declared `noexcept`.
pub type smtp_debug_callback =
    Option<extern "C" fn(userdata: *mut c_void, line: *const c_char, len: usize)>;

/// Sends transcript lines to `callback(userdata, line, len)` instead of
/// standard error; NULL restores standard error. The callback runs on the
/// thread calling into the handle, during that call. It may call the
/// functions that take no handle (`smtp_version`, `smtp_error_name`,
/// `smtp_error_is`) and any function on another handle that no other
/// thread is using; it must not call any function on the same handle,
/// not even a getter. `userdata` must stay valid until the callback is
/// replaced or the handle freed. The callback must not throw or unwind
/// into libsmtp (the process would abort: see `smtp_debug_callback`).
/// libsmtp never dereferences `userdata`.
#[no_mangle]
pub extern "C" fn smtp_set_debug_callback(
    h: *mut smtp_handle,
    callback: smtp_debug_callback,
    userdata: *mut c_void,
) -> smtp_status {
    run(h, |c| {
        let userdata = UserData(userdata);
        let sink = callback.map(|f| {
            Box::new(move |line: &str| {
                let text = to_cstring(line.as_bytes());
                f(userdata.get(), text.as_ptr(), text.as_bytes().len());
            }) as LineFn
        });
        c.debug().set_sink(sink);
        Ok(())
    })
}

/// The caller's `userdata`, carried by a handle.
#[derive(Clone, Copy)]
struct UserData(*mut c_void);

impl UserData {
    fn get(self) -> *mut c_void {
        self.0
    }
}

// SAFETY: libsmtp never dereferences the pointer; it hands it back to the
// caller's callback, which runs only during a call on the handle, and the
// header requires a handle to be used by one thread at a time. Whatever the
// pointer designates is the caller's to synchronise.
unsafe impl Send for UserData {}

/// Sets the name sent in HELO/EHLO/LHLO (smtplib `local_hostname`). It
/// must be one word without CR, LF or NUL.
///
/// `name` is copied; the caller's memory need not outlive the call.
#[no_mangle]
pub extern "C" fn smtp_set_local_hostname(h: *mut smtp_handle, name: *const c_char) -> smtp_status {
    run(h, |c| {
        // SAFETY: a C string by contract.
        let name = unsafe { cstr(name, "name") }?;
        c.set_local_hostname(name)
    })
}

/// The name sent in HELO/EHLO/LHLO: the one set, else this machine's fully
/// qualified name, else "[address]" (as smtplib). Borrowed from the handle
/// until the next call on it; NULL for a NULL handle.
#[no_mangle]
pub extern "C" fn smtp_local_hostname(h: *mut smtp_handle) -> *const c_char {
    // SAFETY: as in `run`.
    let Some(h) = (unsafe { h.as_mut() }) else {
        return std::ptr::null();
    };
    guard(std::ptr::null(), || {
        if h.pending.is_some() {
            return std::ptr::null();
        }
        let name = to_cstring(h.client.local_hostname().as_bytes());
        h.view.local_hostname.insert(name).as_ptr()
    })
}

/// Sets the timeout, in seconds, of each operation. Each operation gets one
/// deadline, computed when it begins, and every socket wait inside it (TLS
/// records included) ends by that deadline, so a server dripping bytes or
/// reading slowly cannot stretch it. The operations: a connect (name
/// resolution and every address tried, TCP or Unix socket); the greeting;
/// each command and its reply (each AUTH line and its reply; QUIT and its
/// reply); the pipelined MAIL, RCPT and DATA of a message and their
/// replies; the TLS handshake; the whole body of DATA with its end (for the
/// streaming calls, from smtp_send_begin's DATA to smtp_send_end, less the
/// time the caller, file or callback takes to produce each next piece: only
/// the server's time is counted); the reply (LMTP: the replies) to the end
/// of data; each BDAT chunk. On a timeout the connection is closed and the
/// message says which operation timed out after how long ("reading the
/// reply to DATA timed out after 3.0 s"). The default is 60 seconds; zero,
/// negative, NaN, infinite and anything above 86400 (one day) are
/// SMTP_ERR_INVALID and leave the timeout as it was (smtplib refuses a zero
/// timeout too).
#[no_mangle]
pub extern "C" fn smtp_set_timeout(h: *mut smtp_handle, seconds: f64) -> smtp_status {
    run(h, |c| {
        let t = Duration::try_from_secs_f64(seconds).map_err(|_| {
            Error::invalid(format!(
                "timeout must be a positive number of seconds, not {seconds}"
            ))
        })?;
        c.set_timeout(t)
    })
}

/// The deadline of each operation in seconds; 0 for a NULL handle.
#[no_mangle]
pub extern "C" fn smtp_timeout(h: *const smtp_handle) -> f64 {
    // SAFETY: as in `run`.
    unsafe { h.as_ref() }
        .and_then(smtp_handle::idle_client)
        .map_or(0.0, |c| c.timeout().as_secs_f64())
}

/// Binds later connections to this source address and port (smtplib
/// `source_address`); an empty or NULL host and port 0 mean the system's
/// choice.
///
/// `host` is copied; the caller's memory need not outlive the call.
#[no_mangle]
pub extern "C" fn smtp_set_source_address(
    h: *mut smtp_handle,
    host: *const c_char,
    port: c_uint,
) -> smtp_status {
    run(h, |c| {
        // SAFETY: NULL or a C string by contract.
        let host = unsafe { opt_cstr(host, "host") }?.unwrap_or("");
        let port =
            u16::try_from(port).map_err(|_| Error::invalid(format!("port {port} out of range")))?;
        c.set_source_address(host, port);
        Ok(())
    })
}

/// The source address set by `smtp_set_source_address` (smtplib's
/// `source_address` attribute): writes the host (NULL when none was set, or
/// when only a port was) and the port (0 when none) and returns SMTP_OK.
/// Either out-pointer may be NULL. The host is borrowed from the handle
/// until the next call on it.
#[no_mangle]
pub extern "C" fn smtp_source_address(
    h: *mut smtp_handle,
    host: *mut *const c_char,
    port: *mut c_uint,
) -> smtp_status {
    // SAFETY: as in `run`.
    let Some(h) = (unsafe { h.as_mut() }) else {
        return SMTP_ERR_INVALID;
    };
    if let Some(busy) = h.refuse_while_pending() {
        return busy;
    }
    guard(SMTP_ERR_INTERNAL, || {
        let (name, number) = h.client.source_address().unwrap_or(("", 0));
        h.view.source_host = (!name.is_empty()).then(|| to_cstring(name.as_bytes()));
        let name = h
            .view
            .source_host
            .as_ref()
            .map_or(std::ptr::null(), |s| s.as_ptr());
        // SAFETY: each out-pointer is NULL or writable by contract.
        unsafe {
            if let Some(out) = host.as_mut() {
                *out = name;
            }
            if let Some(out) = port.as_mut() {
                *out = c_uint::from(number);
            }
        }
        SMTP_OK
    })
}

/// TLS 1.0, for `smtp_set_tls_min_version`.
pub const SMTP_TLS1_0: c_int = 10;
/// TLS 1.1.
pub const SMTP_TLS1_1: c_int = 11;
/// TLS 1.2 (the default minimum).
pub const SMTP_TLS1_2: c_int = 12;
/// TLS 1.3.
pub const SMTP_TLS1_3: c_int = 13;

/// Turns certificate verification on (1, the default) or off (0). When on,
/// the server's chain must lead to a trusted anchor (the system store plus
/// any `smtp_set_tls_cafile`/`smtp_set_tls_cadir`) and its certificate must
/// name the host given to connect (or `smtp_set_tls_server_name`); SNI is
/// sent. Turning it off is the only way to skip these checks.
#[no_mangle]
pub extern "C" fn smtp_set_tls_verify(h: *mut smtp_handle, verify: c_int) -> smtp_status {
    run(h, |c| {
        c.tls_config().verify = verify != 0;
        Ok(())
    })
}

/// Adds the PEM trust anchors in `path` (NULL removes a file set before).
/// The file is checked at once: missing, unreadable, a directory, or
/// without a PEM certificate gives SMTP_ERR_TLS with one sentence naming
/// the file and the reason (`smtp_error_errno` the OS error, when one),
/// nothing sent, and the previous setting kept.
///
/// `path` is copied; the caller's memory need not outlive the call.
#[no_mangle]
pub extern "C" fn smtp_set_tls_cafile(h: *mut smtp_handle, path: *const c_char) -> smtp_status {
    run(h, |c| {
        // SAFETY: NULL or a C string by contract.
        let path = unsafe { opt_cstr(path, "path") }?;
        c.set_tls_ca_file(path)
    })
}

/// Adds a hashed directory of trust anchors (NULL removes it). Checked at
/// once: a path that is not a directory that can be listed gives
/// SMTP_ERR_TLS naming it and the OS reason; the previous setting is kept.
///
/// `path` is copied; the caller's memory need not outlive the call.
#[no_mangle]
pub extern "C" fn smtp_set_tls_cadir(h: *mut smtp_handle, path: *const c_char) -> smtp_status {
    run(h, |c| {
        // SAFETY: NULL or a C string by contract.
        let path = unsafe { opt_cstr(path, "path") }?;
        c.set_tls_ca_dir(path)
    })
}

/// Presents a client certificate: PEM chain in `cert`, PEM key in `key`
/// (NULL: the key is in `cert`). NULL `cert` removes it. Both files are
/// checked at once: missing or unreadable, no certificate, or a key that
/// does not match gives SMTP_ERR_TLS naming the file and the reason; the
/// previous setting is kept.
///
/// `cert` and `key` are copied; the caller's memory need not outlive the call.
#[no_mangle]
pub extern "C" fn smtp_set_tls_client_cert(
    h: *mut smtp_handle,
    cert: *const c_char,
    key: *const c_char,
) -> smtp_status {
    run(h, |c| {
        // SAFETY: NULL or C strings by contract.
        let (cert, key) = unsafe { (opt_cstr(cert, "cert")?, opt_cstr(key, "key")?) };
        c.set_tls_client_cert(cert, key)
    })
}

/// The lowest TLS version accepted: SMTP_TLS1_0 .. SMTP_TLS1_3 (default
/// SMTP_TLS1_2).
#[no_mangle]
pub extern "C" fn smtp_set_tls_min_version(h: *mut smtp_handle, version: c_int) -> smtp_status {
    run(h, |c| {
        c.tls_config().min_version = match version {
            SMTP_TLS1_0 => TlsVersion::Tls10,
            SMTP_TLS1_1 => TlsVersion::Tls11,
            SMTP_TLS1_2 => TlsVersion::Tls12,
            SMTP_TLS1_3 => TlsVersion::Tls13,
            v => return Err(Error::invalid(format!("unknown TLS version {v}"))),
        };
        Ok(())
    })
}

/// The name to verify and send as SNI instead of the host connected to
/// (for connecting by address); NULL goes back to the host.
///
/// `name` is copied; the caller's memory need not outlive the call.
#[no_mangle]
pub extern "C" fn smtp_set_tls_server_name(
    h: *mut smtp_handle,
    name: *const c_char,
) -> smtp_status {
    run(h, |c| {
        // SAFETY: NULL or a C string by contract.
        c.tls_config().server_name = unsafe { opt_cstr(name, "name") }?.map(str::to_string);
        Ok(())
    })
}
