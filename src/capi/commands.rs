//! Commands: one C function per smtplib method. Those that return
//! `(code, message)` in smtplib return SMTP_OK once a reply arrived, whatever
//! its code; read it with `smtp_reply_code` and `smtp_reply_text`.

use std::ffi::c_char;

use super::handle::smtp_handle;
use super::{bytes, cstr, envelope, op, opt_cstr, options, owned, smtp_status, str_array, strs};

/// HELO (smtplib `helo()`); `name` NULL or "" means the local hostname.
/// The reply text is kept as `smtp_helo_resp`.
///
/// `name` is read during the call only and not kept.
#[no_mangle]
pub extern "C" fn smtp_helo(h: *mut smtp_handle, name: *const c_char) -> smtp_status {
    op(h, |s| {
        // SAFETY: NULL or a C string by contract.
        let name = unsafe { opt_cstr(name, "name") }?.unwrap_or("").to_string();
        Ok(async move { s.helo(&name).await.map(drop) })
    })
}

/// EHLO, or LHLO for LMTP (smtplib `ehlo()`); `name` NULL or "" means the
/// local hostname. On 250 the extensions are parsed (`smtp_has_extn`);
/// other replies are returned as they are, with SMTP_OK.
///
/// `name` is read during the call only and not kept.
#[no_mangle]
pub extern "C" fn smtp_ehlo(h: *mut smtp_handle, name: *const c_char) -> smtp_status {
    op(h, |s| {
        // SAFETY: NULL or a C string by contract.
        let name = unsafe { opt_cstr(name, "name") }?.unwrap_or("").to_string();
        Ok(async move { s.ehlo(&name).await.map(drop) })
    })
}

/// EHLO, then HELO if EHLO is refused, unless either already succeeded
/// (smtplib `ehlo_or_helo_if_needed()`). SMTP_ERR_HELO when HELO is refused.
#[no_mangle]
pub extern "C" fn smtp_ehlo_or_helo_if_needed(h: *mut smtp_handle) -> smtp_status {
    op(h, |s| Ok(s.ehlo_or_helo_if_needed()))
}

/// Sends `cmd`, a space and `args` (NULL or "" for none), and reads the
/// reply (smtplib `docmd()`). SMTP_ERR_INVALID, with nothing sent, when
/// either contains CR, LF or NUL.
///
/// `cmd` and `args` are read during the call only and not kept.
#[no_mangle]
pub extern "C" fn smtp_docmd(
    h: *mut smtp_handle,
    cmd: *const c_char,
    args: *const c_char,
) -> smtp_status {
    op(h, |s| {
        // SAFETY: C strings (args may be NULL) by contract.
        let (cmd, args) = unsafe { (cstr(cmd, "cmd")?, opt_cstr(args, "args")?.unwrap_or("")) };
        let (cmd, args) = (cmd.to_string(), args.to_string());
        Ok(async move { s.docmd(&cmd, &args).await.map(drop) })
    })
}

/// Sends `cmd`, a space and `args` (NULL or "" for none) without reading
/// the reply (smtplib `putcmd()`); read it with `smtp_getreply`.
/// SMTP_ERR_INVALID, with nothing sent, when either contains CR, LF or NUL.
#[no_mangle]
pub extern "C" fn smtp_putcmd(
    h: *mut smtp_handle,
    cmd: *const c_char,
    args: *const c_char,
) -> smtp_status {
    op(h, |s| {
        // SAFETY: C strings (args may be NULL) by contract.
        let (cmd, args) = unsafe { (cstr(cmd, "cmd")?, opt_cstr(args, "args")?.unwrap_or("")) };
        let (cmd, args) = (cmd.to_string(), args.to_string());
        Ok(async move { s.putcmd(&cmd, &args).await })
    })
}

/// Reads one reply from the server (smtplib `getreply()`): SMTP_OK once a
/// reply arrived, whatever its code; read it with `smtp_reply_code` and
/// `smtp_reply_text`. A lost, timed-out or garbled connection is an error
/// and is closed.
#[no_mangle]
pub extern "C" fn smtp_getreply(h: *mut smtp_handle) -> smtp_status {
    op(h, |s| Ok(async move { s.getreply().await.map(drop) }))
}

/// NOOP (smtplib `noop()`).
#[no_mangle]
pub extern "C" fn smtp_noop(h: *mut smtp_handle) -> smtp_status {
    op(h, |s| Ok(async move { s.noop().await.map(drop) }))
}

/// RSET (smtplib `rset()`).
#[no_mangle]
pub extern "C" fn smtp_rset(h: *mut smtp_handle) -> smtp_status {
    op(h, |s| Ok(async move { s.rset().await.map(drop) }))
}

/// VRFY with the bare address (smtplib `verify()`).
///
/// `address` is read during the call only and not kept.
#[no_mangle]
pub extern "C" fn smtp_verify(h: *mut smtp_handle, address: *const c_char) -> smtp_status {
    op(h, |s| {
        // SAFETY: a C string by contract.
        let address = unsafe { cstr(address, "address") }?.to_string();
        Ok(async move { s.verify(&address).await.map(drop) })
    })
}

/// EXPN with the bare address (smtplib `expn()`).
///
/// `address` is read during the call only and not kept.
#[no_mangle]
pub extern "C" fn smtp_expn(h: *mut smtp_handle, address: *const c_char) -> smtp_status {
    op(h, |s| {
        // SAFETY: a C string by contract.
        let address = unsafe { cstr(address, "address") }?.to_string();
        Ok(async move { s.expn(&address).await.map(drop) })
    })
}

/// HELP with an optional argument (smtplib `help()`); the text is
/// `smtp_reply_text`.
///
/// `args` (NULL for none) is read during the call only and not kept.
#[no_mangle]
pub extern "C" fn smtp_help(h: *mut smtp_handle, args: *const c_char) -> smtp_status {
    op(h, |s| {
        // SAFETY: NULL or a C string by contract.
        let args = unsafe { opt_cstr(args, "args") }?.unwrap_or("").to_string();
        Ok(async move { s.help(&args).await.map(drop) })
    })
}

/// MAIL FROM:<sender> with ESMTP options (smtplib `mail()`); the options are
/// sent only to an ESMTP server. "SMTPUTF8" among them needs the extension
/// (SMTP_ERR_NOT_SUPPORTED otherwise). `options` may be NULL when `n_options`
/// is 0. `sender` must be an address (RFC 5321 path; "a@b", "<a@b>",
/// "Name <a@b>", "<>"): a space, '<' or '>' outside a quoted local part, or
/// text after the '>', is SMTP_ERR_INVALID with nothing sent -- parameters
/// go only in `options`.
///
/// `sender` and `options` are read during the call only and not kept.
#[no_mangle]
pub extern "C" fn smtp_mail(
    h: *mut smtp_handle,
    sender: *const c_char,
    options: *const *const c_char,
    n_options: usize,
) -> smtp_status {
    op(h, |s| {
        // SAFETY: a C string and an array of n_options C strings, by contract.
        let (sender, options) = unsafe {
            (
                cstr(sender, "sender")?.to_string(),
                owned(&str_array(options, n_options, "options")?),
            )
        };
        Ok(async move { s.mail(&sender, &strs(&options)).await.map(drop) })
    })
}

/// RCPT TO:<recipient> with options (smtplib `rcpt()`). `recipient` is
/// checked as `smtp_mail`'s sender is, and may not be "<>".
///
/// `recipient` and `options` (NULL when `n_options` is 0) are read during the
/// call only and not kept.
#[no_mangle]
pub extern "C" fn smtp_rcpt(
    h: *mut smtp_handle,
    recipient: *const c_char,
    options: *const *const c_char,
    n_options: usize,
) -> smtp_status {
    op(h, |s| {
        // SAFETY: a C string and an array of n_options C strings, by contract.
        let (rcpt, options) = unsafe {
            (
                cstr(recipient, "recipient")?.to_string(),
                owned(&str_array(options, n_options, "options")?),
            )
        };
        Ok(async move { s.rcpt(&rcpt, &strs(&options)).await.map(drop) })
    })
}

/// DATA and the message (smtplib `data()`): SMTP_ERR_DATA when DATA is not
/// answered with 354; otherwise the reply to the end of data. The message
/// is sent with every line ending made CRLF (bare CR and LF included) and
/// dot-stuffed; `msg` may be NULL when `len` is 0.
///
/// `msg` is read during the call only and not kept.
#[no_mangle]
pub extern "C" fn smtp_data(h: *mut smtp_handle, msg: *const u8, len: usize) -> smtp_status {
    op(h, |s| {
        // SAFETY: `len` readable bytes, valid until the operation completes
        // (for a blocking handle, the call), by contract.
        let msg: &'static [u8] = unsafe { bytes(msg, len, "msg") }?;
        Ok(async move { s.data(msg).await.map(drop) })
    })
}

/// Sends one message (smtplib `sendmail()`): EHLO/HELO if needed, MAIL FROM
/// (with SIZE= when the server offers SIZE, then `mail_options`), RCPT TO
/// for each of the `n_to` recipients (with `rcpt_options`), DATA and the
/// message, whose line endings are all made CRLF and whose lines starting
/// with "." are dot-stuffed.
///
/// SMTP_OK when at least one recipient was accepted; the refused ones are
/// then `smtp_refused_*`, and every recipient's outcome `smtp_recipient_*`.
/// Otherwise SMTP_ERR_SENDER_REFUSED (`smtp_error_sender`),
/// SMTP_ERR_RECIPIENTS_REFUSED (all refused), SMTP_ERR_DATA,
/// SMTP_ERR_HELO, SMTP_ERR_NOT_SUPPORTED (SMTPUTF8 not offered), with RSET
/// sent after a refusal, except after a 421, which closes the connection.
/// For LMTP, each accepted recipient's result is its own reply to the end
/// of data. Option arrays may be NULL when their count is 0. Every address
/// is checked as in `smtp_mail` and `smtp_rcpt` before anything is sent.
///
/// `from`, `to`, `msg` and the option arrays are read during the call only and
/// not kept (the addresses in the per-recipient results are copies).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn smtp_sendmail(
    h: *mut smtp_handle,
    from: *const c_char,
    to: *const *const c_char,
    n_to: usize,
    msg: *const u8,
    len: usize,
    mail_options: *const *const c_char,
    n_mail_options: usize,
    rcpt_options: *const *const c_char,
    n_rcpt_options: usize,
) -> smtp_status {
    op(h, |s| {
        // SAFETY: C strings, arrays of the counts given and `len` bytes, by
        // the caller's contract; the bytes stay valid until the operation
        // completes (for a blocking handle, the call).
        let ((from, to), msg, (mopts, ropts)): (_, &'static [u8], _) = unsafe {
            (
                envelope(from, to, n_to)?,
                bytes(msg, len, "msg")?,
                options(mail_options, n_mail_options, rcpt_options, n_rcpt_options)?,
            )
        };
        let (from, to, mopts, ropts) = (from.to_string(), owned(&to), owned(&mopts), owned(&ropts));
        Ok(async move {
            s.sendmail(&from, &strs(&to), msg, &strs(&mopts), &strs(&ropts))
                .await
                .map(drop)
        })
    })
}

/// QUIT, then close whatever the reply (smtplib `quit()`).
#[no_mangle]
pub extern "C" fn smtp_quit(h: *mut smtp_handle) -> smtp_status {
    op(h, |s| Ok(async move { s.quit().await.map(drop) }))
}

/// STARTTLS (smtplib `starttls()`, hardened per RFC 3207): EHLO if needed;
/// SMTP_ERR_NOT_SUPPORTED, with nothing sent, when STARTTLS is not offered;
/// SMTP_ERR_RESPONSE for a reply other than 220; SMTP_ERR_TLS, with the
/// connection closed, when the handshake or verification fails or when the
/// server sent anything after its 220 before the handshake (response
/// injection). Never falls back to plaintext. On success everything EHLO
/// taught is forgotten and EHLO is sent again at once. Verification follows
/// the `smtp_set_tls_*` settings (on by default).
#[no_mangle]
pub extern "C" fn smtp_starttls(h: *mut smtp_handle) -> smtp_status {
    op(h, |s| Ok(async move { s.starttls().await.map(drop) }))
}
