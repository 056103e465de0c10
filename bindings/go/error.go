package smtp

/*
#include "smtp.h"
*/
import "C"

import (
	"context"
	"strings"
)

// Status values, fixed by the C API; each mirrors an smtplib exception.
const (
	StatusOK                 = 0
	StatusException          = 1
	StatusServerDisconnected = 2
	StatusResponse           = 3
	StatusSenderRefused      = 4
	StatusRecipientsRefused  = 5
	StatusData               = 6
	StatusConnect            = 7
	StatusHelo               = 8
	StatusNotSupported       = 9
	StatusAuthentication     = 10
	StatusIO                 = 20
	StatusTimeout            = 21
	StatusTLS                = 22
	StatusInvalid            = 23
	StatusInternal           = 24
	// StatusNotAttempted is the status SendBatch gives a message the
	// server never judged: the session ended before its turn (a 421, a
	// 452 4.5.3 "too many messages" to MAIL, a lost connection) and the
	// connection is closed. Not an smtplib class; it derives from
	// StatusServerDisconnected.
	StatusNotAttempted = 25
)

// Error is a failed call: its status, smtplib class name, the reply code
// and text it carries (Code -1 and Text "" when none), a readable
// message, and for a refused sender or refused recipients what was
// refused.
type Error struct {
	Status     int
	Class      string
	Code       int
	Text       string
	Message    string
	Sender     string
	Recipients []Refused

	// err is what Unwrap gives: the context's error when a context ended
	// the call, or the error of a Go callback (an Auth, a body reader).
	err error
}

// Error reads "Class: message", as Python prints an exception; the
// library's message never repeats the class.
func (e *Error) Error() string {
	msg := e.Message
	if e.err != nil && !strings.Contains(msg, e.err.Error()) {
		if msg == "" {
			msg = e.err.Error()
		} else {
			msg += " (" + e.err.Error() + ")"
		}
	}
	if msg == "" {
		return e.Class
	}
	return e.Class + ": " + msg
}

// Unwrap gives the cause from Go's side, when there is one: the
// context's error (so errors.Is(err, context.DeadlineExceeded) holds
// when a context's deadline ended the call), or the error an Auth or a
// body reader returned.
func (e *Error) Unwrap() error { return e.err }

// Is makes errors.Is follow smtplib's hierarchy: an error is one of the
// sentinels below when its class is that class or derives from it, e.g.
// errors.Is(err, ErrResponse) for a refused sender.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t == nil {
		return false
	}
	return C.smtp_error_is(C.int(e.Status), C.int(t.Status)) == 1
}

func sentinel(status int) *Error {
	return &Error{Status: status, Class: className(status), Code: -1, Message: ""}
}

// Sentinels for errors.Is, one per smtplib class.
var (
	ErrException          = sentinel(StatusException)
	ErrServerDisconnected = sentinel(StatusServerDisconnected)
	ErrResponse           = sentinel(StatusResponse)
	ErrSenderRefused      = sentinel(StatusSenderRefused)
	ErrRecipientsRefused  = sentinel(StatusRecipientsRefused)
	ErrData               = sentinel(StatusData)
	ErrConnect            = sentinel(StatusConnect)
	ErrHelo               = sentinel(StatusHelo)
	ErrNotSupported       = sentinel(StatusNotSupported)
	ErrAuthentication     = sentinel(StatusAuthentication)
	ErrIO                 = sentinel(StatusIO)
	ErrTimeout            = sentinel(StatusTimeout)
	ErrTLS                = sentinel(StatusTLS)
	ErrInvalid            = sentinel(StatusInvalid)
	ErrInternal           = sentinel(StatusInternal)
	// ErrNotAttempted: a message of a batch that was never sent. Such an
	// error also matches ErrServerDisconnected (its connection is closed).
	ErrNotAttempted = sentinel(StatusNotAttempted)
)

func className(status int) string { return C.GoString(C.smtp_error_name(C.int(status))) }

func invalid(msg string) *Error {
	return &Error{Status: StatusInvalid, Class: className(StatusInvalid), Code: -1,
		Message: msg}
}

// lastError reads the handle's last error.
func lastError(h *C.smtp_handle) *Error {
	st := int(C.smtp_error_code(h))
	e := &Error{
		Status:  st,
		Class:   className(st),
		Code:    int(C.smtp_error_reply_code(h)),
		Text:    goString(C.smtp_error_reply_text(h)),
		Message: goString(C.smtp_error_message(h)),
		Sender:  goString(C.smtp_error_sender(h)),
	}
	if st == StatusRecipientsRefused {
		e.Recipients = refusedList(h)
	}
	return e
}

// contextError is the error of a call not made because ctx was done: a
// TimeoutError for a passed deadline, an OSError otherwise, either one
// matching ctx.Err() with errors.Is.
func contextError(err error) *Error {
	st := StatusIO
	if err == context.DeadlineExceeded {
		st = StatusTimeout
	}
	return &Error{Status: st, Class: className(st), Code: -1,
		Message: err.Error(), err: err}
}

func disconnected() *Error {
	return &Error{Status: StatusServerDisconnected, Class: className(StatusServerDisconnected), Code: -1,
		Message: "please run connect() first"}
}

// callbackError is the handle's error after a Go callback failed, with
// the callback's error as its cause.
func callbackError(h *C.smtp_handle, cause error) *Error {
	e := lastError(h)
	e.err = cause
	return e
}
