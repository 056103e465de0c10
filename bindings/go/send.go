package smtp

/*
#include <stdint.h>
#include <stdlib.h>
#include "smtp.h"

extern ptrdiff_t libsmtpGoRead(void *userdata, uint8_t *buf, size_t cap);

// smtp_sendmail_callback with the Go reader, its state passed as an
// integer (a runtime/cgo.Handle), so that no Go pointer reaches C.
static smtp_status libsmtp_sendmail_go(smtp_handle *h, const char *from, const char *const *to,
                                       size_t n_to, uintptr_t state, uint64_t size) {
	return smtp_sendmail_callback(h, from, to, n_to, libsmtpGoRead, (void *)state, size,
	                              NULL, 0, NULL, 0);
}
*/
import "C"

import (
	"context"
	"crypto/tls"
	"io"
	"runtime/cgo"
	"unsafe"
)

// Mail starts a mail transaction from the address from (net/smtp Mail):
// it checks the address and says hello if needed, and records it; the
// MAIL command goes with Data, which adds BODY=8BITMIME and SMTPUTF8 when
// the server offers them, as net/smtp does.
func (c *Client) Mail(from string) error {
	if err := validateLine(from); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sending {
		return sequenceError("Mail called while a Data writer is open")
	}
	if err := c.locked(c.hello); err != nil {
		return err
	}
	c.from, c.rcpts = &from, nil
	return nil
}

// Rcpt adds the recipient to, after Mail (net/smtp Rcpt). The RCPT
// command goes with Data.
func (c *Client) Rcpt(to string) error {
	if err := validateLine(to); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.from == nil {
		return sequenceError("Rcpt called before Mail")
	}
	c.rcpts = append(c.rcpts, to)
	return nil
}

func sequenceError(msg string) *Error {
	return &Error{Status: StatusException, Class: className(StatusException), Code: -1,
		Message: "SMTPException: smtp: " + msg}
}

// Data sends MAIL, RCPT for each recipient and DATA (or BDAT), and
// returns a writer for the message's headers and body, streamed to the
// server as it is written, in constant memory (net/smtp Data). Close the
// writer to end the message; its error is the server's verdict. A refused
// sender is ErrSenderRefused and every recipient refused
// ErrRecipientsRefused, from Data; when some recipients were accepted
// Data goes on, and Recipients tells which were refused.
func (c *Client) Data() (io.WriteCloser, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sending {
		return nil, sequenceError("Data called while a Data writer is open")
	}
	if c.from == nil || len(c.rcpts) == 0 {
		return nil, sequenceError("Data called before Mail and Rcpt")
	}
	from, rcpts := *c.from, c.rcpts
	c.from, c.rcpts = nil, nil
	err := c.locked(func(h *C.smtp_handle) C.smtp_status {
		var opts []string
		if C.smtp_has_extn(h, c8bitmime) == 1 {
			opts = append(opts, "BODY=8BITMIME")
		}
		if C.smtp_has_extn(h, cSMTPUTF8) == 1 {
			opts = append(opts, "SMTPUTF8")
		}
		return withEnvelope(from, rcpts, func(cf *C.char, to **C.char, n C.size_t) C.smtp_status {
			mo, free, _ := cStrings(opts)
			defer free()
			return C.smtp_send_begin(h, cf, to, n, 0, mo, C.size_t(len(opts)), nil, 0)
		})
	})
	if err != nil {
		return nil, err
	}
	c.sending = true
	return &dataWriter{c: c}, nil
}

var (
	c8bitmime = C.CString("8bitmime")
	cSMTPUTF8 = C.CString("smtputf8")
)

// dataWriter streams a message body through smtp_send_write; Close ends
// it with smtp_send_end.
type dataWriter struct {
	c      *Client
	closed bool
}

func (w *dataWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	if w.closed {
		return 0, sequenceError("write after Close")
	}
	if len(p) == 0 {
		return 0, nil
	}
	err := w.c.locked(func(h *C.smtp_handle) C.smtp_status {
		return C.smtp_send_write(h, (*C.uint8_t)(unsafe.Pointer(&p[0])), C.size_t(len(p)))
	})
	if err != nil {
		w.closed, w.c.sending = true, false
		return 0, err
	}
	return len(p), nil
}

func (w *dataWriter) Close() error {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed, w.c.sending = true, false
	return w.c.locked(func(h *C.smtp_handle) C.smtp_status { return C.smtp_send_end(h) })
}

// SendMail connects to the server at addr, switches to TLS if possible,
// authenticates with the optional mechanism a if possible, and then sends
// an email from address from, to addresses to, with message msg
// (net/smtp SendMail). The addr must include a port, as in
// "mail.example.com:smtp". The addresses in to are the RCPT addresses;
// msg should be an RFC 822-style email with headers first, a blank line,
// and then the body.
func SendMail(addr string, a Auth, from string, to []string, msg []byte) error {
	if err := validateLine(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := validateLine(r); err != nil {
			return err
		}
	}
	c, err := Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.do(c.hello); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: c.serverName}); err != nil {
			return err
		}
	}
	if a != nil && c.esmtp() {
		if ok, _ := c.Extension("AUTH"); !ok {
			return &Error{Status: StatusNotSupported, Class: className(StatusNotSupported), Code: -1,
				Message: "smtp: server doesn't support AUTH"}
		}
		if err := c.Auth(a); err != nil {
			return err
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func (c *Client) esmtp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.h != nil && C.smtp_does_esmtp(c.h) == 1
}

// Refused is a recipient the server refused, with its reply.
type Refused struct {
	Address string
	Code    int
	Text    string
}

// Recipient is one recipient's outcome in the last transaction: the
// reply to its RCPT (for LMTP, to the end of the data when RCPT was
// accepted), its enhanced status code ("2.1.5", or ""), and whether the
// message was accepted for it.
type Recipient struct {
	Address  string
	Code     int
	Text     string
	Enhanced string
	Accepted bool
}

// Recipients returns every recipient's outcome in the last transaction
// (smtp_recipient_*).
func (c *Client) Recipients() []Recipient {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return nil
	}
	n := int(C.smtp_recipient_count(c.h))
	out := make([]Recipient, 0, n)
	for i := 0; i < n; i++ {
		var addr, text *C.char
		var code, accepted C.int
		if C.smtp_recipient_get(c.h, C.size_t(i), &addr, &code, &text, &accepted) == C.SMTP_OK {
			out = append(out, Recipient{Address: goString(addr), Code: int(code), Text: goString(text),
				Enhanced: goString(C.smtp_recipient_enhanced(c.h, C.size_t(i))), Accepted: accepted == 1})
		}
	}
	return out
}

// SendMail sends one message (smtplib sendmail()): EHLO if needed, MAIL,
// RCPT for each recipient, DATA, pipelined when offered. It succeeds
// when at least one recipient was accepted and returns the refused ones;
// when all are refused the error's Recipients lists them.
func (c *Client) SendMail(from string, to []string, msg []byte) (refused []Refused, err error) {
	err = c.do(func(h *C.smtp_handle) C.smtp_status {
		return withEnvelope(from, to, func(cf *C.char, arr **C.char, n C.size_t) C.smtp_status {
			var p *C.uint8_t
			if len(msg) > 0 {
				p = (*C.uint8_t)(unsafe.Pointer(&msg[0]))
			}
			st := C.smtp_sendmail(h, cf, arr, n, p, C.size_t(len(msg)), nil, 0, nil, 0)
			if st == C.SMTP_OK {
				refused = refusedList(h)
			}
			return st
		})
	})
	return refused, err
}

// SendReader is SendMail with the body read from r until io.EOF and
// streamed in constant memory, whatever its size. ctx's deadline bounds
// each network operation, and once ctx is done no more of the body is
// read: the connection is dropped so that a truncated message is never
// delivered, and the error matches ctx.Err() with errors.Is. An error
// from r does the same, and is the returned error's cause (errors.Is and
// errors.As reach it).
func (c *Client) SendReader(ctx context.Context, from string, to []string, r io.Reader) (refused []Refused, err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	state := &readState{done: ctx.Err, r: r}
	handle := cgo.NewHandle(state)
	defer handle.Delete()
	c.mu.Lock()
	defer c.mu.Unlock()
	err = c.lockedCtx(ctx, func(h *C.smtp_handle) C.smtp_status {
		return withEnvelope(from, to, func(cf *C.char, arr **C.char, n C.size_t) C.smtp_status {
			st := C.libsmtp_sendmail_go(h, cf, arr, n, C.uintptr_t(handle), 0)
			if st == C.SMTP_OK {
				refused = refusedList(h)
			}
			return st
		})
	})
	if e, ok := err.(*Error); ok && state.err != nil {
		e.err = state.err
	}
	return refused, err
}

// SendMessage sends msg with its envelope taken from its headers, as
// smtplib's send_message(): from "" means the Sender or From field, to nil
// the To, Cc and Bcc fields (or the Resent- ones of a single resent
// block). Bcc and Resent-Bcc are not transmitted.
func (c *Client) SendMessage(msg []byte, from string, to []string) (refused []Refused, err error) {
	if hasNUL(from) {
		return nil, invalid("from contains NUL")
	}
	arr, free, ok := cStrings(to)
	if !ok {
		return nil, invalid("a recipient contains NUL")
	}
	defer free()
	err = c.do(func(h *C.smtp_handle) C.smtp_status {
		var cf *C.char
		if from != "" {
			cf = C.CString(from)
			defer C.free(unsafe.Pointer(cf))
		}
		var p *C.uint8_t
		if len(msg) > 0 {
			p = (*C.uint8_t)(unsafe.Pointer(&msg[0]))
		}
		st := C.smtp_send_message(h, p, C.size_t(len(msg)), cf, arr, C.size_t(len(to)), nil, 0, nil, 0)
		if st == C.SMTP_OK {
			refused = refusedList(h)
		}
		return st
	})
	return refused, err
}

// Message is one message of a batch.
type Message struct {
	From string
	To   []string
	Body []byte
}

// SendBatch sends msgs over the connection, with one round trip a
// message when the server offers PIPELINING (smtp_sendmail_batch). errs
// has one entry a message: nil when it was accepted for at least one
// recipient, otherwise an *Error of its status. err is nil when every
// message was accepted, otherwise the first failed message's full error.
// Per-recipient results (Recipients) are those of the last message.
//
// A refused message does not stop the others, but the end of the session
// does: after a 421, a 4xx with enhanced code 4.5.3 to MAIL (a
// per-session message limit, e.g. "452 4.5.3 Too many messages sent") or
// a lost connection, the connection is closed and every message from
// BatchAttempted() on was never sent: its errs entry matches
// ErrNotAttempted (and ErrServerDisconnected). When that message is the
// first failure, err is it, carrying the server's reply that ended the
// session. The caller reconnects (Dial, and StartTLS and Auth again) and
// sends msgs[c.BatchAttempted():] on the new connection.
func (c *Client) SendBatch(msgs []Message) (errs []error, err error) {
	for _, m := range msgs {
		if hasNUL(m.From) {
			return nil, invalid("a sender contains NUL")
		}
		for _, r := range m.To {
			if hasNUL(r) {
				return nil, invalid("a recipient contains NUL")
			}
		}
	}
	n := len(msgs)
	statuses := make([]C.smtp_status, n+1)
	err = c.do(func(h *C.smtp_handle) C.smtp_status {
		if n == 0 {
			return C.smtp_sendmail_batch(h, nil, 0, nil, 0, nil, 0, nil)
		}
		// The array lives in C memory as it holds pointers; so do the
		// bodies, which cgo forbids storing in C memory as Go pointers.
		arr := (*C.smtp_message)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.smtp_message{}))))
		defer C.free(unsafe.Pointer(arr))
		cm := unsafe.Slice(arr, n)
		for i, m := range msgs {
			cm[i].from = C.CString(m.From)
			defer C.free(unsafe.Pointer(cm[i].from))
			to, free, _ := cStrings(m.To)
			defer free()
			cm[i].to, cm[i].n_to = to, C.size_t(len(m.To))
			if len(m.Body) > 0 {
				cm[i].data = (*C.uint8_t)(C.CBytes(m.Body))
				defer C.free(unsafe.Pointer(cm[i].data))
			}
			cm[i].len = C.size_t(len(m.Body))
		}
		return C.smtp_sendmail_batch(h, arr, C.size_t(n), nil, 0, nil, 0, &statuses[0])
	})
	errs = make([]error, n)
	first := true
	for i := 0; i < n; i++ {
		st := int(statuses[i])
		if st == StatusOK {
			continue
		}
		if first && err != nil {
			errs[i], first = err, false
			continue
		}
		msg := ""
		if st == StatusNotAttempted {
			msg = "not attempted: the session ended before this message; send it on a new connection"
		}
		errs[i] = &Error{Status: st, Class: className(st), Code: -1, Message: msg}
	}
	return errs, err
}

// BatchAttempted is how many messages of the last SendBatch, counted from
// the first, the server judged (accepted or refused); len(msgs) when the
// session lasted the whole batch, 0 before any batch
// (smtp_batch_attempted). The messages from this index on were not
// attempted: send them again on a new connection.
func (c *Client) BatchAttempted() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return 0
	}
	return int(C.smtp_batch_attempted(c.h))
}

// withEnvelope hands from and to to f as C strings.
func withEnvelope(from string, to []string, f func(*C.char, **C.char, C.size_t) C.smtp_status) C.smtp_status {
	arr, free, ok := cStrings(to)
	if !ok || hasNUL(from) {
		free()
		return badArg
	}
	defer free()
	cf := C.CString(from)
	defer C.free(unsafe.Pointer(cf))
	return f(cf, arr, C.size_t(len(to)))
}

func refusedList(h *C.smtp_handle) []Refused {
	n := int(C.smtp_refused_count(h))
	out := make([]Refused, 0, n)
	for i := 0; i < n; i++ {
		var addr, text *C.char
		var code C.int
		if C.smtp_refused_get(h, C.size_t(i), &addr, &code, &text) == C.SMTP_OK {
			out = append(out, Refused{Address: goString(addr), Code: int(code), Text: goString(text)})
		}
	}
	return out
}
