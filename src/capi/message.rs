//! smtplib's send_message(): the envelope taken from the message's headers;
//! and the address-list reading it uses, for callers splitting a list.

use std::ffi::c_char;

use super::handle::smtp_handle;
use super::{
    bytes, cstr, guard, op, opt_cstr, options, owned, run, smtp_status, str_array, strs,
    to_cstring, SMTP_ERR_INTERNAL, SMTP_OK,
};
use crate::error::Error;

/// Sends one message whose envelope comes from its own headers (smtplib
/// `send_message()`), then as `smtp_sendmail`.
///
/// `msg` is the whole message, `len` bytes (NULL only when `len` is 0); it
/// is read, never modified, and not kept after the call. `from` NULL means
/// the sender is read from the headers: the first mailbox of Sender if that
/// field holds one, else of From. `to` NULL with `n_to` 0 means the
/// recipients are read from the headers: To, then Bcc, then Cc, every field
/// of each name, duplicates kept (a non-NULL `to` with `n_to` 0 is
/// SMTP_ERR_INVALID). When exactly one Resent-Date field is
/// present, Resent-Sender, Resent-From, Resent-To, Resent-Bcc and
/// Resent-Cc are read instead; more than one Resent-Date is
/// SMTP_ERR_INVALID ("message has more than one 'Resent-' header block").
/// The header section ends at the first empty line (CRLF or bare LF), or
/// at the end of the message when there is none.
///
/// What is sent is the message without its Bcc and Resent-Bcc fields
/// (continuation lines included), otherwise byte for byte, with line
/// endings made CRLF and dot-stuffed as by `smtp_sendmail`.
///
/// Mail options sent: SIZE= when offered, the `n_mail_options` given, then,
/// when an envelope address is not ASCII, "SMTPUTF8" and "BODY=8BITMIME"
/// (SMTP_ERR_NOT_SUPPORTED, with nothing sent after EHLO, when the server
/// does not offer SMTPUTF8); or, when the message has a byte above 0x7F and
/// the server offers 8BITMIME, "BODY=8BITMIME". An option already given
/// (SMTPUTF8, or any BODY=) is not added twice.
///
/// Returns as `smtp_sendmail`; also SMTP_ERR_INVALID, with nothing sent
/// after EHLO, when no sender or no recipient is found. Strings and arrays
/// are borrowed for the call only; option arrays may be NULL when their
/// count is 0.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn smtp_send_message(
    h: *mut smtp_handle,
    msg: *const u8,
    len: usize,
    from: *const c_char,
    to: *const *const c_char,
    n_to: usize,
    mail_options: *const *const c_char,
    n_mail_options: usize,
    rcpt_options: *const *const c_char,
    n_rcpt_options: usize,
) -> smtp_status {
    op(h, |s| {
        // SAFETY: `len` bytes (valid until the operation completes: for a
        // blocking handle, the call), NULL or a C string, and arrays of the
        // counts given, by the caller's contract.
        let (msg, from, to, (mopts, ropts)): (&'static [u8], _, _, _) = unsafe {
            (
                bytes(msg, len, "msg")?,
                opt_cstr(from, "from")?,
                if to.is_null() && n_to == 0 {
                    None
                } else {
                    Some(str_array(to, n_to, "to")?)
                },
                options(mail_options, n_mail_options, rcpt_options, n_rcpt_options)?,
            )
        };
        let from = from.map(str::to_string);
        let to = to.map(|to| owned(&to));
        let (mopts, ropts) = (owned(&mopts), owned(&ropts));
        Ok(async move {
            let to = to.as_deref().map(strs);
            s.send_message(
                msg,
                from.as_deref(),
                to.as_deref(),
                &strs(&mopts),
                &strs(&ropts),
            )
            .await
            .map(drop)
        })
    })
}

/// Splits an RFC 5322 address list (RFC 5322 §3.4: "a@x, \"Doe, John\"
/// <j@y>, Team: c@z;") into its addresses, in order, as
/// `smtp_send_message` reads To and Cc: commas inside quoted strings,
/// comments, angle brackets and domain literals separate nothing; display
/// names and comments are dropped; a group's members count and its name
/// does not. What cannot be read as a mailbox contributes nothing.
///
/// `*n` receives the number of addresses, and the first `min(*n, cap)` of
/// them are written to `addresses` (NULL allowed when `cap` is 0, to learn
/// the count). The addresses are borrowed from the handle until the next
/// call on it that takes a non-const handle (or `smtp_free`); `list` is
/// read during the call only. SMTP_ERR_INVALID for NULL `list` or `n`, bad
/// UTF-8, or NULL `addresses` with a non-zero `cap`; `*n` is then not
/// written.
#[no_mangle]
pub extern "C" fn smtp_parse_address_list(
    h: *mut smtp_handle,
    list: *const c_char,
    addresses: *mut *const c_char,
    cap: usize,
    n: *mut usize,
) -> smtp_status {
    let mut parsed = Vec::new();
    let status = run(h, |_| {
        // SAFETY: a C string by contract.
        let list = unsafe { cstr(list, "list") }?;
        if n.is_null() {
            return Err(Error::invalid("n is NULL"));
        }
        if addresses.is_null() && cap > 0 {
            return Err(Error::invalid(format!(
                "addresses is NULL with a capacity of {cap}"
            )));
        }
        parsed = crate::message::mailbox_addresses(list)
            .iter()
            .map(|a| to_cstring(a.as_bytes()))
            .collect();
        Ok(())
    });
    if status != SMTP_OK {
        return status;
    }
    guard(SMTP_ERR_INTERNAL, || {
        // SAFETY: `run` succeeded, so `h` is a live handle (the header's
        // contract), used by this thread only.
        let h = unsafe { &mut *h };
        h.addresses = parsed;
        let shown = cap.min(h.addresses.len());
        if shown > 0 {
            // SAFETY: `addresses` has room for `cap` pointers by contract,
            // and is non-NULL since `cap` > 0 (checked above).
            let out = unsafe { std::slice::from_raw_parts_mut(addresses, shown) };
            for (slot, a) in out.iter_mut().zip(&h.addresses) {
                *slot = a.as_ptr();
            }
        }
        // SAFETY: `n` is non-NULL (checked above) and writable by contract.
        unsafe { *n = h.addresses.len() };
        SMTP_OK
    })
}
