// Package smtp is a Go client for libsmtp, an SMTP and LMTP client engine
// that follows Python's smtplib, through its C API (include/smtp.h).
//
// The package links target/debug/libsmtp.so of this repository: run
// `cargo build`, and `ln -sf libsmtp.so target/debug/libsmtp.so.0` (the
// soname; `cargo test` makes this link itself) before `go test`. To link an installed libsmtp instead, put its
// directory first with CGO_LDFLAGS, whose flags come before the ones
// below, e.g. CGO_LDFLAGS="$(pkg-config --libs-only-L smtp)
// -Wl,-rpath,$(pkg-config --variable=libdir smtp)", and CGO_CFLAGS with
// `pkg-config --cflags smtp`.
package smtp

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/debug -lsmtp -Wl,-rpath,${SRCDIR}/../../target/debug
#include <stdlib.h>
#include "smtp.h"
*/
import "C"

import (
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Version is the version of the libsmtp library linked in.
func Version() string { return C.GoString(C.smtp_version()) }

// Client is one SMTP session (smtplib's SMTP object). Its methods may be
// called from several goroutines; they run one at a time.
type Client struct {
	mu sync.Mutex
	h  *C.smtp_handle
}

// Option changes a Client before it connects.
type Option func(h *C.smtp_handle) C.smtp_status

// WithLocalHostname sets the name sent in EHLO/HELO (smtplib
// local_hostname).
func WithLocalHostname(name string) Option {
	return func(h *C.smtp_handle) C.smtp_status {
		return withCString(name, func(s *C.char) C.smtp_status { return C.smtp_set_local_hostname(h, s) })
	}
}

// WithTimeout sets the deadline of each connect, read, write and TLS
// handshake (default 60 s).
func WithTimeout(d time.Duration) Option {
	return func(h *C.smtp_handle) C.smtp_status {
		return C.smtp_set_timeout(h, C.double(d.Seconds()))
	}
}

// WithTLSCAFile adds the PEM trust anchors in path to the system store.
func WithTLSCAFile(path string) Option {
	return func(h *C.smtp_handle) C.smtp_status {
		return withCString(path, func(s *C.char) C.smtp_status { return C.smtp_set_tls_cafile(h, s) })
	}
}

// WithInsecureSkipVerify turns certificate and host name verification off.
func WithInsecureSkipVerify() Option {
	return func(h *C.smtp_handle) C.smtp_status { return C.smtp_set_tls_verify(h, 0) }
}

// Dial connects to an SMTP server and reads its greeting (smtplib
// SMTP(host, port)).
func Dial(host string, port int, opts ...Option) (*Client, error) {
	if port < 0 || port > 65535 {
		return nil, invalid("port out of range")
	}
	h := C.smtp_new()
	if h == nil {
		return nil, &Error{Status: StatusInternal, Class: className(StatusInternal), Code: -1, Message: "out of memory"}
	}
	for _, opt := range opts {
		if opt(h) != C.SMTP_OK {
			err := lastError(h)
			C.smtp_free(h)
			return nil, err
		}
	}
	st := withCString(host, func(s *C.char) C.smtp_status { return C.smtp_connect(h, s, C.uint(port)) })
	if st != C.SMTP_OK {
		err := lastError(h)
		C.smtp_free(h)
		return nil, err
	}
	c := &Client{h: h}
	runtime.SetFinalizer(c, (*Client).Close)
	return c, nil
}

// do runs f on the handle, holding the lock; a closed Client gives
// SMTPServerDisconnected, as smtplib does after close().
func (c *Client) do(f func(h *C.smtp_handle) C.smtp_status) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return &Error{Status: StatusServerDisconnected, Class: className(StatusServerDisconnected), Code: -1,
			Message: "SMTPServerDisconnected: please run connect() first"}
	}
	if f(c.h) != C.SMTP_OK {
		return lastError(c.h)
	}
	return nil
}

// StartTLS upgrades the connection (smtplib starttls()); it never falls
// back to plaintext.
func (c *Client) StartTLS() error {
	return c.do(func(h *C.smtp_handle) C.smtp_status { return C.smtp_starttls(h) })
}

// Login authenticates with user and password (smtplib login()): the
// mechanisms offered are tried in smtplib's order; a password-revealing
// mechanism over a connection that is neither TLS nor loopback is refused.
func (c *Client) Login(user, password string) error {
	if hasNUL(user) || hasNUL(password) {
		return invalid("user or password contains NUL")
	}
	u := C.CString(user)
	defer C.free(unsafe.Pointer(u))
	p := C.CString(password)
	defer C.free(unsafe.Pointer(p))
	return c.do(func(h *C.smtp_handle) C.smtp_status { return C.smtp_login(h, u, p) })
}

// Noop sends NOOP.
func (c *Client) Noop() error {
	return c.do(func(h *C.smtp_handle) C.smtp_status { return C.smtp_noop(h) })
}

// Quit sends QUIT and closes the connection; the Client must still be
// closed to free it.
func (c *Client) Quit() error {
	return c.do(func(h *C.smtp_handle) C.smtp_status { return C.smtp_quit(h) })
}

// Reply is the code and text of the last reply read (-1, "" before any).
func (c *Client) Reply() (code int, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return -1, ""
	}
	return int(C.smtp_reply_code(c.h)), goString(C.smtp_reply_text(c.h))
}

// Close closes the connection without QUIT and frees the session. Calling
// it again does nothing.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil {
		C.smtp_free(c.h)
		c.h = nil
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

// SendMail sends one message (smtplib sendmail()): it succeeds when at
// least one recipient was accepted and returns the refused ones. When all
// are refused the error's Recipients lists them.
func (c *Client) SendMail(from string, to []string, msg []byte) (refused []Refused, err error) {
	if hasNUL(from) {
		return nil, invalid("from contains NUL")
	}
	for _, r := range to {
		if hasNUL(r) {
			return nil, invalid("recipient contains NUL")
		}
	}
	err = c.do(func(h *C.smtp_handle) C.smtp_status {
		cfrom := C.CString(from)
		defer C.free(unsafe.Pointer(cfrom))
		// The array and its strings live in C memory, as cgo requires.
		var arr **C.char
		if len(to) > 0 {
			arr = (**C.char)(C.malloc(C.size_t(len(to)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
			defer C.free(unsafe.Pointer(arr))
			elems := unsafe.Slice(arr, len(to))
			for i, r := range to {
				elems[i] = C.CString(r)
				defer C.free(unsafe.Pointer(elems[i]))
			}
		}
		var p *C.uint8_t
		if len(msg) > 0 {
			p = (*C.uint8_t)(unsafe.Pointer(&msg[0]))
		}
		st := C.smtp_sendmail(h, cfrom, arr, C.size_t(len(to)), p, C.size_t(len(msg)), nil, 0, nil, 0)
		if st == C.SMTP_OK {
			refused = refusedList(h)
		}
		return st
	})
	return refused, err
}

// Refused is a recipient the server refused, with its reply.
type Refused struct {
	Address string
	Code    int
	Text    string
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

func withCString(s string, f func(*C.char) C.smtp_status) C.smtp_status {
	if hasNUL(s) {
		return C.SMTP_ERR_INVALID
	}
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	return f(cs)
}

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

func goString(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}
