// Package smtp is an SMTP and LMTP client for Go backed by libsmtp, the
// C library whose behaviour follows Python's smtplib. It offers the
// exported API of the standard library's net/smtp — Dial, SendMail,
// Client and its methods, Auth, ServerInfo, PlainAuth, CRAMMD5Auth — with
// the same names and signatures, so that a program written for net/smtp
// builds with only its import path changed, and goes further: contexts,
// implicit TLS, LMTP, send_message, bodies streamed from an io.Reader,
// pipelined batches, per-recipient results, OAuth 2.0 and errors that
// follow smtplib's exception hierarchy through errors.Is.
//
// The package links the installed libsmtp found by pkg-config (smtp.pc);
// nothing else is needed at build time, and the binary names no path
// besides the library's soname, libsmtp.so.0.
//
// # Differences from net/smtp
//
//   - There is no NewClient(conn net.Conn, host string): libsmtp owns its
//     socket (it is a C library and cannot read or write a Go net.Conn).
//     The nearest equivalent is a Dialer: its LocalAddr binds the source
//     address, ImplicitTLS wraps the connection in TLS from the first byte
//     (as a tls.Conn handed to NewClient would), LMTP speaks LMTP, a
//     Unix-socket path as address is accepted for LMTP, and DialContext
//     takes a context.
//   - Client has no Text field (a *textproto.Conn): PutCmd, GetReply and
//     DoCmd send raw commands and read raw replies instead.
//   - Mail and Rcpt check their argument, say hello if needed and record
//     the envelope; Data sends MAIL, RCPT and DATA together (pipelined
//     when the server offers PIPELINING, BDAT when it offers CHUNKING) and
//     streams what is written to its io.WriteCloser. A refused sender or
//     recipients are therefore reported by Data, as *Error values; as with
//     smtplib's sendmail, Data succeeds when at least one recipient was
//     accepted, and Recipients tells which were refused.
//   - Errors are *Error values carrying smtplib's class, the reply code and
//     text, rather than *textproto.Error.
//   - The local name sent in EHLO defaults to this machine's fully
//     qualified name (smtplib's choice), not "localhost".
//   - StartTLS honours the tls.Config fields OpenSSL can take and returns
//     an error for the others; see StartTLS. TLSConnectionState fills only
//     what libsmtp reports; see TLSConnectionState.
//   - libsmtp refuses, before sending anything, an AUTH mechanism that
//     would reveal a secret on a connection that is neither TLS nor to
//     this machine (net/smtp leaves that check to each Auth); opt in with
//     Dialer.AllowCleartextAuth.
//   - Every line ending of a message body is sent as CRLF, a bare CR
//     included (net/smtp's writer converts only LF).
//
// A Client's methods may be called from several goroutines; they run one
// at a time. The deadline of each network operation is Dialer.Timeout
// (60 s by default), shortened to a context's deadline where a context is
// given.
package smtp

/*
#cgo pkg-config: smtp
#include <stdint.h>
#include <stdlib.h>
#include "smtp.h"

extern void libsmtpGoDebug(void *userdata, char *line, size_t len);

// The Go transcript callback, its writer passed as an integer (a
// runtime/cgo.Handle), so that no Go pointer reaches C.
static smtp_status libsmtp_debug_go(smtp_handle *h, uintptr_t state) {
	return smtp_set_debug_callback(h, (smtp_debug_callback)libsmtpGoDebug, (void *)state);
}
*/
import "C"

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"runtime/cgo"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Version is the version of the libsmtp library linked in.
func Version() string { return C.GoString(C.smtp_version()) }

// Client is one SMTP or LMTP session (net/smtp's Client, smtplib's SMTP
// object). Its methods may be called from several goroutines; they run
// one at a time.
type Client struct {
	mu         sync.Mutex
	h          *C.smtp_handle
	serverName string        // the host dialed: ServerInfo.Name, the TLS name
	tlsName    string        // the name verified in TLS
	verify     bool          // certificate verification on
	timeout    time.Duration // the per-operation deadline without a context
	dialTLS    *tls.Config   // the Dialer's TLSConfig, for StartTLS
	debug      cgo.Handle    // the transcript's writer, while set

	// The envelope recorded by Mail and Rcpt, sent by Data.
	from    *string
	rcpts   []string
	sending bool // a Data writer is open
}

// A Dialer holds what a connection is made with. Its zero value dials
// plain SMTP with libsmtp's defaults. An Option sets one of its fields.
type Dialer struct {
	// LocalName is sent in EHLO, HELO and LHLO (smtplib local_hostname);
	// empty means this machine's fully qualified name.
	LocalName string
	// Timeout is the deadline of each connect, read, write and TLS
	// handshake; zero means 60 seconds.
	Timeout time.Duration
	// LocalAddr binds the connection to this source "host", "host:port"
	// or ":port" (smtplib source_address); empty means the system's choice.
	LocalAddr string
	// LMTP speaks LMTP (LHLO; one reply per recipient after the data).
	// With LMTP an address starting with "/" is a Unix socket's path.
	LMTP bool
	// ImplicitTLS starts TLS before the greeting (smtplib SMTP_SSL, port
	// 465), configured by TLSConfig as StartTLS would be.
	ImplicitTLS bool
	// TLSConfig configures every TLS handshake of the connection: implicit
	// TLS, or StartTLS, whose own config is then applied over it. Its
	// fields are honoured or refused as StartTLS describes.
	TLSConfig *tls.Config
	// CAFile and CADir add PEM trust anchors (a file, or a hashed
	// directory) to the system store for every TLS handshake of the
	// connection; this is where tls.Config.RootCAs goes.
	CAFile, CADir string
	// AllowCleartextAuth lets AUTH mechanisms that send the secret itself
	// (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER, and any mechanism libsmtp does
	// not know) run over a connection that is neither TLS nor to this
	// machine.
	AllowCleartextAuth bool
	// AuthMechanisms restricts the mechanisms Login and LoginOAuth2 try
	// (e.g. "XOAUTH2"); empty means smtplib's default.
	AuthMechanisms []string
	// Debug receives the transcript (smtplib set_debuglevel), one line a
	// Write ending in "\n": commands and replies, credentials never shown.
	// DebugLevel 2 adds timestamps (UTC); 0 means 1 when Debug is set.
	Debug      io.Writer
	DebugLevel int
	// DisablePipelining and DisableChunking keep libsmtp from using
	// PIPELINING and CHUNKING even when the server offers them.
	DisablePipelining, DisableChunking bool
}

// Option sets a field of a Dialer, for DialContext. Any
// func(*Dialer) is an Option.
type Option func(*Dialer)

// WithLocalHostname sets Dialer.LocalName.
func WithLocalHostname(name string) Option { return func(d *Dialer) { d.LocalName = name } }

// WithTimeout sets Dialer.Timeout.
func WithTimeout(t time.Duration) Option { return func(d *Dialer) { d.Timeout = t } }

// WithTLSCAFile sets Dialer.CAFile.
func WithTLSCAFile(path string) Option { return func(d *Dialer) { d.CAFile = path } }

// WithTLSCADir sets Dialer.CADir.
func WithTLSCADir(path string) Option { return func(d *Dialer) { d.CADir = path } }

// WithInsecureSkipVerify turns certificate and host name verification off
// for every TLS handshake of the connection (InsecureSkipVerify in
// Dialer.TLSConfig).
func WithInsecureSkipVerify() Option {
	return func(d *Dialer) {
		cfg := cloneTLS(d.TLSConfig)
		cfg.InsecureSkipVerify = true
		d.TLSConfig = cfg
	}
}

// WithImplicitTLS sets Dialer.ImplicitTLS and Dialer.TLSConfig (nil: the
// defaults, verified against the host dialed).
func WithImplicitTLS(config *tls.Config) Option {
	return func(d *Dialer) { d.ImplicitTLS = true; d.TLSConfig = config }
}

// WithLMTP sets Dialer.LMTP.
func WithLMTP() Option { return func(d *Dialer) { d.LMTP = true } }

// WithLocalAddr sets Dialer.LocalAddr.
func WithLocalAddr(addr string) Option { return func(d *Dialer) { d.LocalAddr = addr } }

// WithAllowCleartextAuth sets Dialer.AllowCleartextAuth.
func WithAllowCleartextAuth() Option { return func(d *Dialer) { d.AllowCleartextAuth = true } }

// WithDebug sets Dialer.Debug and Dialer.DebugLevel.
func WithDebug(w io.Writer, level int) Option {
	return func(d *Dialer) { d.Debug = w; d.DebugLevel = level }
}

// WithAuthMechanisms sets Dialer.AuthMechanisms.
func WithAuthMechanisms(mechs ...string) Option {
	return func(d *Dialer) { d.AuthMechanisms = mechs }
}

func cloneTLS(c *tls.Config) *tls.Config {
	if c == nil {
		return &tls.Config{}
	}
	return c.Clone()
}

// Dial returns a new Client connected to an SMTP server at addr, which
// must include a port, as in "mail.example.com:smtp" (net/smtp Dial).
func Dial(addr string) (*Client, error) {
	var d Dialer
	return d.DialContext(context.Background(), addr)
}

// DialContext is Dial with a context, whose deadline bounds the connection
// and greeting, and with options.
func DialContext(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	var d Dialer
	for _, o := range opts {
		o(&d)
	}
	return d.DialContext(ctx, addr)
}

// Dial connects to addr ("host:port"; for LMTP also a Unix socket's path)
// and reads the greeting.
func (d *Dialer) Dial(addr string) (*Client, error) {
	return d.DialContext(context.Background(), addr)
}

// DialContext connects to addr and reads the greeting; ctx's deadline
// shortens Timeout for the connection, the TLS handshake and the greeting,
// and a ctx already done is not dialed.
func (d *Dialer) DialContext(ctx context.Context, addr string) (*Client, error) {
	host, port, err := splitAddr(addr, d.LMTP)
	if err != nil {
		return nil, err
	}
	var h *C.smtp_handle
	switch {
	case d.LMTP && d.ImplicitTLS:
		return nil, invalid("LMTP over implicit TLS is not offered by libsmtp")
	case d.LMTP:
		h = C.smtp_new_lmtp()
	case d.ImplicitTLS:
		h = C.smtp_new_ssl()
	default:
		h = C.smtp_new()
	}
	if h == nil {
		return nil, &Error{Status: StatusInternal, Class: className(StatusInternal), Code: -1,
			Message: "SMTP_ERR_INTERNAL: no handle"}
	}
	c := &Client{h: h, serverName: host, tlsName: host, verify: true, timeout: d.Timeout}
	runtime.SetFinalizer(c, (*Client).Close)
	if err := c.configure(d); err != nil {
		c.Close()
		return nil, err
	}
	var cleanup func()
	if d.ImplicitTLS {
		if cleanup, err = c.applyTLS(d.TLSConfig); err != nil {
			c.Close()
			return nil, err
		}
	} else if d.TLSConfig != nil {
		// Checked now, applied by StartTLS.
		if err := unsupportedTLS(d.TLSConfig); err != nil {
			c.Close()
			return nil, err
		}
		c.dialTLS = d.TLSConfig
	}
	err = c.doCtx(ctx, func(h *C.smtp_handle) C.smtp_status {
		return withCString(host, func(s *C.char) C.smtp_status { return C.smtp_connect(h, s, C.uint(port)) })
	})
	if cleanup != nil {
		cleanup()
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// splitAddr splits "host:port" (a service name allowed); an address
// without a port gets libsmtp's default port for the kind of session.
func splitAddr(addr string, lmtp bool) (string, int, error) {
	if lmtp && strings.HasPrefix(addr, "/") {
		return addr, 0, nil
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return strings.Trim(addr, "[]"), 0, nil
		}
		return "", 0, invalid("address " + strconv.Quote(addr) + ": " + err.Error())
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		port, err = net.LookupPort("tcp", p)
		if err != nil {
			return "", 0, invalid("address " + strconv.Quote(addr) + ": unknown port " + strconv.Quote(p))
		}
	}
	if port < 0 || port > 65535 {
		return "", 0, invalid("port out of range")
	}
	return host, port, nil
}

// configure applies a Dialer's settings to the unconnected handle.
func (c *Client) configure(d *Dialer) error {
	return c.do(func(h *C.smtp_handle) C.smtp_status {
		if d.LocalName != "" {
			if st := withCString(d.LocalName, func(s *C.char) C.smtp_status { return C.smtp_set_local_hostname(h, s) }); st != C.SMTP_OK {
				return st
			}
		}
		if d.Timeout != 0 {
			if st := C.smtp_set_timeout(h, C.double(d.Timeout.Seconds())); st != C.SMTP_OK {
				return st
			}
		}
		if d.LocalAddr != "" {
			host, port := d.LocalAddr, 0
			if hh, pp, err := net.SplitHostPort(d.LocalAddr); err == nil {
				n, err := strconv.Atoi(pp)
				if err != nil || n < 0 || n > 65535 {
					return badArg
				}
				host, port = hh, n
			}
			if st := withCString(host, func(s *C.char) C.smtp_status { return C.smtp_set_source_address(h, s, C.uint(port)) }); st != C.SMTP_OK {
				return st
			}
		}
		if d.CAFile != "" {
			if st := withCString(d.CAFile, func(s *C.char) C.smtp_status { return C.smtp_set_tls_cafile(h, s) }); st != C.SMTP_OK {
				return st
			}
		}
		if d.CADir != "" {
			if st := withCString(d.CADir, func(s *C.char) C.smtp_status { return C.smtp_set_tls_cadir(h, s) }); st != C.SMTP_OK {
				return st
			}
		}
		if d.AllowCleartextAuth {
			if st := C.smtp_set_allow_cleartext_auth(h, 1); st != C.SMTP_OK {
				return st
			}
		}
		if len(d.AuthMechanisms) > 0 {
			arr, free, ok := cStrings(d.AuthMechanisms)
			if !ok {
				return badArg
			}
			defer free()
			if st := C.smtp_set_auth_mechanisms(h, arr, C.size_t(len(d.AuthMechanisms))); st != C.SMTP_OK {
				return st
			}
		}
		if d.Debug != nil {
			level := d.DebugLevel
			if level == 0 {
				level = 1
			}
			c.debug = cgo.NewHandle(&debugState{w: d.Debug})
			if st := C.libsmtp_debug_go(h, C.uintptr_t(c.debug)); st != C.SMTP_OK {
				return st
			}
			if st := C.smtp_set_debuglevel(h, C.int(level)); st != C.SMTP_OK {
				return st
			}
		}
		if d.DisablePipelining {
			if st := C.smtp_set_pipelining(h, 0); st != C.SMTP_OK {
				return st
			}
		}
		if d.DisableChunking {
			if st := C.smtp_set_chunking(h, 0); st != C.SMTP_OK {
				return st
			}
		}
		return C.SMTP_OK
	})
}

// do runs f on the handle, holding the lock; a closed Client gives
// SMTPServerDisconnected, as smtplib does after close().
func (c *Client) do(f func(h *C.smtp_handle) C.smtp_status) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.locked(f)
}

// locked is do for a caller already holding the lock.
func (c *Client) locked(f func(h *C.smtp_handle) C.smtp_status) error {
	if c.h == nil {
		return disconnected()
	}
	switch st := f(c.h); st {
	case C.SMTP_OK:
		return nil
	case badArg:
		return invalid("an argument holds a NUL byte or is out of range")
	default:
		return lastError(c.h)
	}
}

// doCtx is do with the per-operation deadline shortened to ctx's
// deadline; a ctx already done is not called, and an error after ctx is
// done also matches ctx.Err() with errors.Is.
func (c *Client) doCtx(ctx context.Context, f func(h *C.smtp_handle) C.smtp_status) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lockedCtx(ctx, f)
}

func (c *Client) lockedCtx(ctx context.Context, f func(h *C.smtp_handle) C.smtp_status) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return contextError(err)
	}
	if c.h == nil {
		return disconnected()
	}
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return contextError(context.DeadlineExceeded)
		}
		base := c.timeout
		if base == 0 {
			base = 60 * time.Second
		}
		if left < base {
			C.smtp_set_timeout(c.h, C.double(left.Seconds()))
			defer C.smtp_set_timeout(c.h, C.double(base.Seconds()))
		}
	}
	err := c.locked(f)
	if e, ok := err.(*Error); ok && ctx.Err() != nil && e.err == nil {
		e.err = ctx.Err()
	}
	return err
}

// hello says EHLO (or HELO) unless done.
func (c *Client) hello(h *C.smtp_handle) C.smtp_status { return C.smtp_ehlo_or_helo_if_needed(h) }

func (c *Client) helloDone() bool {
	return C.smtp_ehlo_resp(c.h) != nil || C.smtp_helo_resp(c.h) != nil
}

// Hello sends EHLO (HELO if refused) with localName as the client's name.
// Calling it is only needed to choose the name; if called, it must come
// before the other methods (net/smtp Hello).
func (c *Client) Hello(localName string) error {
	if err := validateLine(localName); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil && c.helloDone() {
		return &Error{Status: StatusException, Class: className(StatusException), Code: -1,
			Message: "smtp: Hello called after other methods"}
	}
	return c.locked(func(h *C.smtp_handle) C.smtp_status {
		st := withCString(localName, func(s *C.char) C.smtp_status { return C.smtp_set_local_hostname(h, s) })
		if st != C.SMTP_OK {
			return st
		}
		return c.hello(h)
	})
}

// Verify checks an address with VRFY; nil means the server answered 250
// or 251. Many servers do not verify addresses for security reasons.
func (c *Client) Verify(addr string) error {
	if err := validateLine(addr); err != nil {
		return err
	}
	return c.expect([]int{250, 251}, func(h *C.smtp_handle) C.smtp_status {
		if st := c.hello(h); st != C.SMTP_OK {
			return st
		}
		return withCString(addr, func(s *C.char) C.smtp_status { return C.smtp_verify(h, s) })
	})
}

// expect runs f and turns a reply whose code is not among codes into an
// SMTPResponseException carrying it.
func (c *Client) expect(codes []int, f func(h *C.smtp_handle) C.smtp_status) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.locked(f); err != nil {
		return err
	}
	return replyCheck(c.h, codes)
}

func replyCheck(h *C.smtp_handle, codes []int) error {
	code := int(C.smtp_reply_code(h))
	for _, want := range codes {
		if code == want {
			return nil
		}
	}
	text := goString(C.smtp_reply_text(h))
	return &Error{Status: StatusResponse, Class: className(StatusResponse), Code: code, Text: text,
		Message: strconv.Itoa(code) + " " + text}
}

// Extension reports whether the server offers an extension (the name is
// case-insensitive) and, if so, its parameters.
func (c *Client) Extension(ext string) (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil || hasNUL(ext) || c.hello(c.h) != C.SMTP_OK || C.smtp_does_esmtp(c.h) != 1 {
		return false, ""
	}
	cs := C.CString(ext)
	defer C.free(unsafe.Pointer(cs))
	p := C.smtp_esmtp_feature(c.h, cs)
	if p == nil {
		return false, ""
	}
	return true, strings.TrimSpace(C.GoString(p))
}

// Reset sends RSET, aborting the mail transaction and forgetting the
// envelope given to Mail and Rcpt.
func (c *Client) Reset() error {
	c.mu.Lock()
	c.from, c.rcpts = nil, nil
	c.mu.Unlock()
	return c.expect([]int{250}, func(h *C.smtp_handle) C.smtp_status {
		if st := c.hello(h); st != C.SMTP_OK {
			return st
		}
		return C.smtp_rset(h)
	})
}

// Noop sends NOOP, checking that the connection is alive.
func (c *Client) Noop() error {
	return c.expect([]int{250}, func(h *C.smtp_handle) C.smtp_status {
		if st := c.hello(h); st != C.SMTP_OK {
			return st
		}
		return C.smtp_noop(h)
	})
}

// Quit sends QUIT and closes the connection; an answer other than 221 is
// an error, the connection being closed all the same. Close must still
// be called (or deferred) to free the session.
func (c *Client) Quit() error {
	return c.expect([]int{221}, func(h *C.smtp_handle) C.smtp_status {
		if st := c.hello(h); st != C.SMTP_OK {
			return st
		}
		return C.smtp_quit(h)
	})
}

// Close closes the connection without QUIT and frees the session. Calling
// it again does nothing; later calls give ErrServerDisconnected.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil {
		C.smtp_free(c.h)
		c.h = nil
		runtime.SetFinalizer(c, nil)
		if c.debug != 0 {
			c.debug.Delete()
			c.debug = 0
		}
	}
	return nil
}

// Login authenticates with user and password as smtplib's login() does:
// the mechanisms offered among CRAM-MD5, PLAIN and LOGIN, in that order.
// A failure leaves the session open.
func (c *Client) Login(user, password string) error {
	if hasNUL(user) || hasNUL(password) {
		return invalid("user or password contains NUL")
	}
	u := C.CString(user)
	defer C.free(unsafe.Pointer(u))
	p := C.CString(password)
	defer C.free(unsafe.Pointer(p))
	defer wipeC(p, len(password))
	return c.do(func(h *C.smtp_handle) C.smtp_status { return C.smtp_login(h, u, p) })
}

// LoginOAuth2 authenticates with an OAuth 2.0 bearer token: OAUTHBEARER
// (RFC 7628) when offered, else XOAUTH2 (pin one with AuthMechanisms).
func (c *Client) LoginOAuth2(user, token string) error {
	if hasNUL(user) || hasNUL(token) {
		return invalid("user or token contains NUL")
	}
	u := C.CString(user)
	defer C.free(unsafe.Pointer(u))
	t := C.CString(token)
	defer C.free(unsafe.Pointer(t))
	defer wipeC(t, len(token))
	return c.do(func(h *C.smtp_handle) C.smtp_status { return C.smtp_login_oauth2(h, u, t) })
}

func wipeC(p *C.char, n int) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(p)), n)
	for i := range b {
		b[i] = 0
	}
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

// DoCmd sends cmd with args ("" for none) and reads the reply (smtplib
// docmd()); any reply is returned, an error only when none could be read.
func (c *Client) DoCmd(cmd, args string) (code int, text string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err = c.locked(func(h *C.smtp_handle) C.smtp_status {
		return withCString(cmd, func(cc *C.char) C.smtp_status {
			return withCString(args, func(ca *C.char) C.smtp_status { return C.smtp_docmd(h, cc, ca) })
		})
	})
	if err != nil {
		return -1, "", err
	}
	return int(C.smtp_reply_code(c.h)), goString(C.smtp_reply_text(c.h)), nil
}

// PutCmd sends cmd with args ("" for none) without reading the reply
// (smtplib putcmd()); read it with GetReply. A CR, LF or NUL in either is
// ErrInvalid, with nothing sent.
func (c *Client) PutCmd(cmd, args string) error {
	return c.do(func(h *C.smtp_handle) C.smtp_status {
		return withCString(cmd, func(cc *C.char) C.smtp_status {
			return withCString(args, func(ca *C.char) C.smtp_status { return C.smtp_putcmd(h, cc, ca) })
		})
	})
}

// GetReply reads one reply (smtplib getreply()) and returns it whatever
// its code; err is set only when no reply could be read (the connection
// is then closed).
func (c *Client) GetReply() (code int, text string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.locked(func(h *C.smtp_handle) C.smtp_status { return C.smtp_getreply(h) }); err != nil {
		return -1, "", err
	}
	return int(C.smtp_reply_code(c.h)), goString(C.smtp_reply_text(c.h)), nil
}

// SourceAddress is the source address connections are bound to
// (smtplib's source_address, set by Dialer.LocalAddr): host "" when none
// was set or only a port was, port 0 when none.
func (c *Client) SourceAddress() (host string, port int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return "", 0
	}
	var ch *C.char
	var cp C.uint
	if C.smtp_source_address(c.h, &ch, &cp) != C.SMTP_OK {
		return "", 0
	}
	return goString(ch), int(cp)
}

// validateLine refuses CR, LF and NUL in what goes on a command line.
func validateLine(line string) error {
	if strings.ContainsAny(line, "\r\n\x00") {
		return invalid("smtp: A line must not contain CR, LF or NUL")
	}
	return nil
}

// badArg is the status of a check made here, before libsmtp is called
// (a NUL byte cannot cross into C); it is no libsmtp status.
const badArg C.smtp_status = -1

func withCString(s string, f func(*C.char) C.smtp_status) C.smtp_status {
	if hasNUL(s) {
		return badArg
	}
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	return f(cs)
}

// cStrings copies ss into a C array of C strings; ok is false when one
// holds a NUL. free releases them.
func cStrings(ss []string) (arr **C.char, free func(), ok bool) {
	for _, s := range ss {
		if hasNUL(s) {
			return nil, func() {}, false
		}
	}
	if len(ss) == 0 {
		return nil, func() {}, true
	}
	arr = (**C.char)(C.malloc(C.size_t(len(ss)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	elems := unsafe.Slice(arr, len(ss))
	for i, s := range ss {
		elems[i] = C.CString(s)
	}
	return arr, func() {
		for _, e := range elems {
			C.free(unsafe.Pointer(e))
		}
		C.free(unsafe.Pointer(arr))
	}, true
}

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

func goString(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}
