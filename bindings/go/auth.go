package smtp

/*
#include <stdint.h>
#include <stdlib.h>
#include "smtp.h"

extern int libsmtpGoAuth(void *userdata, uint8_t *challenge, size_t n, smtp_buffer *resp);

// The Go callback, with the handle passed as an integer (a
// runtime/cgo.Handle), so that no Go pointer reaches C.
static smtp_status libsmtp_auth_go(smtp_handle *h, const char *mechanism, uintptr_t state) {
	return smtp_auth(h, mechanism, (smtp_auth_callback)libsmtpGoAuth, (void *)state, 1);
}
*/
import "C"

import (
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"runtime/cgo"
	"strings"
	"unsafe"
)

// Auth is implemented by an SMTP authentication mechanism (net/smtp's
// Auth). Client.Auth runs it through libsmtp's smtp_auth: Start's
// toServer is the initial response, Next receives each 334 challenge
// decoded, and, after a 235, the reply's text with more false.
type Auth interface {
	// Start begins an authentication with a server. It returns the name
	// of the mechanism and optionally data to include in the initial AUTH
	// command. If it returns a non-nil error, the client aborts the
	// authentication attempt and closes the connection.
	Start(server *ServerInfo) (proto string, toServer []byte, err error)

	// Next continues the authentication. The server has just sent the
	// fromServer data. If more is true, the server expects a response,
	// which Next should return as toServer; otherwise Next should return
	// toServer == nil. If Next returns a non-nil error, the client aborts
	// the authentication attempt (AUTH is cancelled with "*") and closes
	// the connection.
	Next(fromServer []byte, more bool) (toServer []byte, err error)
}

// ServerInfo records information about an SMTP server.
type ServerInfo struct {
	Name string   // SMTP server name
	TLS  bool     // using TLS, with valid certificate for Name
	Auth []string // advertised authentication mechanisms
}

type plainAuth struct {
	identity, username, password string
	host                         string
}

// PlainAuth returns an Auth that implements the PLAIN authentication
// mechanism as defined in RFC 4616. The returned Auth uses the given
// username and password to authenticate to host and act as identity.
// Usually identity should be the empty string, to act as username.
//
// PlainAuth will only send the credentials if the connection is using TLS
// or is connected to localhost. Otherwise authentication will fail with an
// error, without sending the credentials.
func PlainAuth(identity, username, password, host string) Auth {
	return &plainAuth{identity, username, password, host}
}

func isLocalhost(name string) bool {
	return name == "localhost" || name == "127.0.0.1" || name == "::1"
}

func (a *plainAuth) Start(server *ServerInfo) (string, []byte, error) {
	// As net/smtp: the advertised mechanisms are worthless without TLS;
	// only TLS, or this machine, may see the password.
	if !server.TLS && !isLocalhost(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	resp := []byte(a.identity + "\x00" + a.username + "\x00" + a.password)
	return "PLAIN", resp, nil
}

func (a *plainAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if more {
		// Everything was sent already.
		return nil, errors.New("unexpected server challenge")
	}
	return nil, nil
}

type cramMD5Auth struct {
	username, secret string
}

// CRAMMD5Auth returns an Auth that implements the CRAM-MD5 authentication
// mechanism as defined in RFC 2195. The returned Auth uses the given
// username and secret to authenticate to the server using the
// challenge-response mechanism.
func CRAMMD5Auth(username, secret string) Auth {
	return &cramMD5Auth{username, secret}
}

func (a *cramMD5Auth) Start(server *ServerInfo) (string, []byte, error) {
	return "CRAM-MD5", nil, nil
}

func (a *cramMD5Auth) Next(fromServer []byte, more bool) ([]byte, error) {
	if more {
		d := hmac.New(md5.New, []byte(a.secret))
		d.Write(fromServer)
		s := make([]byte, 0, d.Size())
		return []byte(fmt.Sprintf("%s %x", a.username, d.Sum(s))), nil
	}
	return nil, nil
}

// Auth authenticates with the mechanism a (net/smtp Auth): EHLO if
// needed, then a.Start, the AUTH command and a.Next for each challenge.
// As in net/smtp, a failed authentication closes the connection (QUIT);
// Login keeps it open instead, as smtplib does. A mechanism that sends
// its secret is refused over a connection neither TLS nor local unless
// the Dialer allowed it (AllowCleartextAuth).
func (c *Client) Auth(a Auth) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.locked(c.hello); err != nil {
		return err
	}
	info := &ServerInfo{Name: c.serverName, TLS: C.smtp_tls_version(c.h) != nil && c.verify}
	if p := C.smtp_esmtp_feature(c.h, cAuth); p != nil {
		info.Auth = strings.Fields(C.GoString(p))
	}
	mech, resp, err := a.Start(info)
	if err != nil {
		c.quitQuietly()
		return err
	}
	if hasNUL(mech) {
		c.quitQuietly()
		return invalid("mechanism name contains NUL")
	}
	state := &authState{auth: a, initial: resp}
	handle := cgo.NewHandle(state)
	defer handle.Delete()
	cm := C.CString(mech)
	defer C.free(unsafe.Pointer(cm))
	if C.libsmtp_auth_go(c.h, cm, C.uintptr_t(handle)) != C.SMTP_OK {
		var err error = lastError(c.h)
		if state.err != nil {
			err = callbackError(c.h, state.err)
		}
		c.quitQuietly()
		return err
	}
	// As net/smtp, the 235 reply's text goes to Next with more false.
	if _, err := a.Next([]byte(goString(C.smtp_reply_text(c.h))), false); err != nil {
		c.quitQuietly()
		return err
	}
	return nil
}

var cAuth = C.CString("auth")

// quitQuietly sends QUIT and closes, for a failed Auth; its own outcome
// does not hide the error being reported.
func (c *Client) quitQuietly() {
	if c.h != nil && C.smtp_is_connected(c.h) == 1 {
		C.smtp_quit(c.h)
	}
}
