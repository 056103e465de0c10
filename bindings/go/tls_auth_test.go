package smtp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"libsmtp.org/smtp"
)

// dialCA dials aiosmtpd trusting the test CA.
func dialCA(t *testing.T, s *aiosmtpd, opts ...smtp.Option) *smtp.Client {
	t.Helper()
	opts = append([]smtp.Option{smtp.WithTLSCAFile(mustEnv(t, "LIBSMTP_TEST_CA")),
		smtp.WithTimeout(10 * time.Second)}, opts...)
	c, err := smtp.DialContext(context.Background(), addr(s.port), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sendOne(t *testing.T, c *smtp.Client, body string) {
	t.Helper()
	if err := c.Mail("alice@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("bob@example.net"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, body); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func content(t *testing.T, r received) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(r.Content)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// net/smtp's way: StartTLS with a tls.Config, then Auth(PlainAuth(...)),
// which checks ServerInfo.TLS and the host name itself.
func TestStartTLSWithAConfigThenPlainAuthDeliver(t *testing.T) {
	s := startAiosmtpdStartTLS(t)
	c := dialCA(t, s)
	if _, ok := c.TLSConnectionState(); ok {
		t.Fatal("TLS state before StartTLS")
	}
	if err := c.StartTLS(&tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS12}); err != nil {
		t.Fatal(err)
	}
	st, ok := c.TLSConnectionState()
	if !ok || !st.HandshakeComplete || st.Version < tls.VersionTLS12 || st.ServerName != "localhost" || st.CipherSuite == 0 {
		t.Fatalf("TLS state %+v %v", st, ok)
	}
	if err := c.Auth(smtp.PlainAuth("", aioUser, aioPassword, "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	sendOne(t, c, "Subject: plain\r\n\r\nafter PLAIN\r\n")
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	if got := s.messages(t, 1); content(t, got[0]) != "Subject: plain\r\n\r\nafter PLAIN\r\n" {
		t.Fatalf("received %+v", got)
	}
}

// A certificate verified against the wrong name fails the handshake.
func TestStartTLSServerNameIsVerified(t *testing.T) {
	s := startAiosmtpdStartTLS(t)
	c := dialCA(t, s)
	if err := c.StartTLS(&tls.Config{ServerName: "wrong.example"}); !errors.Is(err, smtp.ErrTLS) {
		t.Fatalf("want an ssl.SSLError, got %v", err)
	}
}

func TestStartTLSInsecureSkipVerifyAcceptsAnUntrustedCertificate(t *testing.T) {
	s := startAiosmtpdStartTLS(t)
	c, err := smtp.Dial(addr(s.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
}

// What OpenSSL cannot take is an error, with nothing sent; never ignored.
func TestStartTLSRefusesConfigFieldsItCannotHonour(t *testing.T) {
	s := startAiosmtpdStartTLS(t)
	c := dialCA(t, s)
	for name, cfg := range map[string]*tls.Config{
		"RootCAs":      {RootCAs: x509.NewCertPool()},
		"MaxVersion":   {MaxVersion: tls.VersionTLS12},
		"CipherSuites": {CipherSuites: []uint16{tls.TLS_AES_128_GCM_SHA256}},
		"NextProtos":   {NextProtos: []string{"smtp"}},
	} {
		err := c.StartTLS(cfg)
		if !errors.Is(err, smtp.ErrInvalid) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: want ErrInvalid naming it, got %v", name, err)
		}
	}
	if err := c.StartTLS(&tls.Config{RootCAs: x509.NewCertPool()}); !strings.Contains(err.Error(), "CAFile") {
		t.Errorf("RootCAs should point to the CA-file option: %v", err)
	}
	if _, ok := c.TLSConnectionState(); ok {
		t.Fatal("encrypted after refused configurations")
	}
	if err := c.StartTLS(nil); err != nil {
		t.Fatalf("the session should still upgrade: %v", err)
	}
}

func TestCRAMMD5AuthThroughTheCallback(t *testing.T) {
	s := startAiosmtpdStartTLS(t)
	c := dialCA(t, s)
	if err := c.StartTLS(nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.CRAMMD5Auth(aioUser, aioPassword)); err != nil {
		t.Fatal(err)
	}
	sendOne(t, c, "Subject: cram\r\n\r\nx\r\n")
	s.messages(t, 1)
}

// loginAuth is the kind of Auth users write themselves for LOGIN, which
// net/smtp does not ship: two challenges, "Username:" and "Password:".
type loginAuth struct {
	user, password string
	challenges     []string
	done           bool
}

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS || server.Name != "127.0.0.1" {
		return "", nil, errors.New("refusing LOGIN without verified TLS")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		a.done = true
		return nil, nil
	}
	a.challenges = append(a.challenges, string(fromServer))
	// "Username:" in the drafts; aiosmtpd says "User Name".
	switch p := strings.ToLower(string(fromServer)); {
	case strings.HasPrefix(p, "user"):
		return []byte(a.user), nil
	case strings.HasPrefix(p, "password"):
		return []byte(a.password), nil
	}
	return nil, errors.New("unexpected challenge " + string(fromServer))
}

func TestAUsersOwnAuthImplementationRuns(t *testing.T) {
	s := startAiosmtpdStartTLS(t)
	c := dialCA(t, s)
	if err := c.StartTLS(nil); err != nil {
		t.Fatal(err)
	}
	a := &loginAuth{user: aioUser, password: aioPassword}
	if err := c.Auth(a); err != nil {
		t.Fatal(err)
	}
	if len(a.challenges) != 2 || !a.done {
		t.Fatalf("challenges %q, done %v", a.challenges, a.done)
	}
	sendOne(t, c, "Subject: login\r\n\r\nx\r\n")
	s.messages(t, 1)
}

type failingAuth struct{}

var errMechanism = errors.New("the mechanism gave up")

func (failingAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }
func (failingAuth) Next([]byte, bool) ([]byte, error)              { return nil, errMechanism }

// net/smtp: "If Next returns a non-nil error, the SMTP client aborts the
// authentication attempt and closes the connection."
func TestAnAuthErrorAbortsAndClosesTheConnection(t *testing.T) {
	s := startAiosmtpdStartTLS(t)
	c := dialCA(t, s)
	if err := c.StartTLS(nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(failingAuth{}); !errors.Is(err, errMechanism) {
		t.Fatalf("want the mechanism's error, got %v", err)
	}
	if err := c.Noop(); !errors.Is(err, smtp.ErrServerDisconnected) {
		t.Fatalf("want the connection closed, got %v", err)
	}
}

// PlainAuth, as in net/smtp, refuses itself when the host it was given is
// not the one dialed.
func TestPlainAuthRefusesAnotherHost(t *testing.T) {
	s := startAiosmtpdStartTLS(t)
	c := dialCA(t, s)
	if err := c.StartTLS(nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", aioUser, aioPassword, "mail.example.com")); err == nil || err.Error() != "wrong host name" {
		t.Fatalf("want net/smtp's error, got %v", err)
	}
}

func TestImplicitTLSDeliversAndReportsItsState(t *testing.T) {
	s := startAiosmtpd(t, "--tls", "implicit", "--auth-user", aioUser, "--auth-password", aioPassword)
	c := dialCA(t, s, smtp.WithImplicitTLS(&tls.Config{MinVersion: tls.VersionTLS12}))
	if st, ok := c.TLSConnectionState(); !ok || st.Version < tls.VersionTLS12 {
		t.Fatalf("TLS state %+v %v", st, ok)
	}
	if err := c.Login(aioUser, aioPassword); err != nil {
		t.Fatal(err)
	}
	sendOne(t, c, "Subject: implicit\r\n\r\nx\r\n")
	if got := s.messages(t, 1); !strings.Contains(content(t, got[0]), "implicit") {
		t.Fatalf("received %+v", got)
	}
}

func TestLoginOAuth2WithABearerToken(t *testing.T) {
	s := startAiosmtpd(t, "--tls", "starttls", "--oauth-user", aioUser, "--oauth-token", "tok-123")
	c := dialCA(t, s)
	if err := c.StartTLS(nil); err != nil {
		t.Fatal(err)
	}
	if err := c.LoginOAuth2(aioUser, "not-the-token"); !errors.Is(err, smtp.ErrAuthentication) {
		t.Fatalf("want SMTPAuthenticationError, got %v", err)
	}
	if err := c.LoginOAuth2(aioUser, "tok-123"); err != nil {
		t.Fatal(err)
	}
	sendOne(t, c, "Subject: oauth\r\n\r\nx\r\n")
	s.messages(t, 1)
}

// A client certificate from tls.Config.Certificates reaches OpenSSL (the
// server does not ask for one; the handshake must still succeed with it).
func TestStartTLSTakesAClientCertificate(t *testing.T) {
	s := startAiosmtpdStartTLS(t)
	cert, err := tls.LoadX509KeyPair(mustEnv(t, "LIBSMTP_TEST_CERT"), mustEnv(t, "LIBSMTP_TEST_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	c := dialCA(t, s)
	if err := c.StartTLS(&tls.Config{Certificates: []tls.Certificate{cert}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	bad := tls.Certificate{Certificate: cert.Certificate}
	c2 := dialCA(t, s)
	if err := c2.StartTLS(&tls.Config{Certificates: []tls.Certificate{bad}}); !errors.Is(err, smtp.ErrInvalid) {
		t.Fatalf("a certificate without its key: want ErrInvalid, got %v", err)
	}
}

// Dialer.TLSConfig holds for STARTTLS too: checked when dialing, applied
// by StartTLS.
func TestDialerTLSConfigAppliesToStartTLS(t *testing.T) {
	s := startAiosmtpdStartTLS(t)
	c, err := smtp.DialContext(context.Background(), addr(s.port), smtp.WithInsecureSkipVerify())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(nil); err != nil {
		t.Fatalf("verification should be off: %v", err)
	}
	d := smtp.Dialer{TLSConfig: &tls.Config{RootCAs: x509.NewCertPool()}}
	if _, err := d.Dial(addr(s.port)); !errors.Is(err, smtp.ErrInvalid) {
		t.Fatalf("want ErrInvalid when dialing, got %v", err)
	}
}

// The transcript never shows the credentials.
func TestDebugTranscriptHidesTheCredentials(t *testing.T) {
	s := startAiosmtpd(t, "--tls", "implicit", "--auth-user", aioUser, "--auth-password", aioPassword)
	var transcript strings.Builder
	c := dialCA(t, s, smtp.WithImplicitTLS(nil), smtp.WithDebug(&transcript, 2),
		smtp.WithAuthMechanisms("PLAIN"))
	if err := c.Login(aioUser, aioPassword); err != nil {
		t.Fatal(err)
	}
	got := transcript.String()
	if !strings.Contains(got, "AUTH PLAIN") {
		t.Fatalf("transcript:\n%s", got)
	}
	for _, secret := range []string{aioPassword, base64.StdEncoding.EncodeToString([]byte("\x00" + aioUser + "\x00" + aioPassword))} {
		if strings.Contains(got, secret) {
			t.Fatalf("transcript shows the password:\n%s", got)
		}
	}
}
