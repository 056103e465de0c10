package smtp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"libsmtp.org/smtp"
)

// The test server and its certificates come from tests/callers.rs, which
// makes them once (tests/common/certs.rs) and passes their paths here:
//
//	LIBSMTP_TEST_AIOSMTPD  tests/servers/aiosmtpd_server.py
//	LIBSMTP_TEST_CA        the CA certificate (PEM) the client trusts
//	LIBSMTP_TEST_CERT      the server certificate for 127.0.0.1 and localhost
//	LIBSMTP_TEST_KEY       its key
const (
	aioUser     = "user"
	aioPassword = "s3cr3t-pw"
)

func mustEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run these tests with `cargo test --test callers`, "+
			"which makes the test certificates and sets it", name)
	}
	return v
}

// aiosmtpd is tests/servers/aiosmtpd_server.py on a free loopback port,
// writing each message it receives as JSON into dir.
type aiosmtpd struct {
	port int
	dir  string
}

// startAiosmtpdStartTLS starts aiosmtpd requiring STARTTLS, with AUTH
// (offered over TLS only) for aioUser/aioPassword; a missing python3 or
// aiosmtpd fails the test.
func startAiosmtpdStartTLS(t *testing.T) *aiosmtpd {
	t.Helper()
	return startAiosmtpd(t, "--tls", "starttls", "--require-starttls",
		"--auth-user", aioUser, "--auth-password", aioPassword)
}

// startAiosmtpd starts aiosmtpd with the test certificate and these
// arguments.
func startAiosmtpd(t *testing.T, args ...string) *aiosmtpd {
	t.Helper()
	s := &aiosmtpd{port: freePort(t), dir: t.TempDir()}
	args = append([]string{mustEnv(t, "LIBSMTP_TEST_AIOSMTPD"),
		"--port", strconv.Itoa(s.port), "--outdir", s.dir,
		"--cert", mustEnv(t, "LIBSMTP_TEST_CERT"), "--key", mustEnv(t, "LIBSMTP_TEST_KEY")}, args...)
	cmd := exec.Command("python3", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot run python3 (%v): install python3 and pip install aiosmtpd", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// The script prints "ready" once it accepts connections.
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("aiosmtpd_server.py did not start (pip install aiosmtpd):\n%s", stderr.String())
	}
	return s
}

// received is one message as the server wrote it.
type received struct {
	MailFrom string   `json:"mail_from"`
	RcptTos  []string `json:"rcpt_tos"`
	Content  string   `json:"content"`
}

// messages waits for n received messages and returns them.
func (s *aiosmtpd) messages(t *testing.T, n int) []received {
	t.Helper()
	for i := 0; i < 500; i++ {
		files, _ := filepath.Glob(filepath.Join(s.dir, "*.json"))
		if len(files) >= n {
			var out []received
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				var r received
				if err := json.Unmarshal(b, &r); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				out = append(out, r)
			}
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("expected %d messages in %s", n, s.dir)
	return nil
}

func dialTLS(t *testing.T, s *aiosmtpd) *smtp.Client {
	t.Helper()
	c, err := smtp.DialContext(context.Background(), addr(s.port), smtp.WithLocalHostname("client.example"),
		smtp.WithTimeout(10*time.Second), smtp.WithTLSCAFile(mustEnv(t, "LIBSMTP_TEST_CA")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.StartTLS(nil); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	return c
}

func TestStartTLSLoginAndSendMailDeliverThroughAiosmtpd(t *testing.T) {
	s := startAiosmtpdStartTLS(t)
	c := dialTLS(t, s)
	if err := c.Login(aioUser, aioPassword); err != nil {
		t.Fatalf("Login: %v", err)
	}
	msg := []byte("Subject: from Go\r\n\r\nover TLS, after AUTH\r\n")
	refused, err := c.SendMail("alice@example.org", []string{"bob@example.net"}, msg)
	if err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	if len(refused) != 0 {
		t.Fatalf("refused: %v", refused)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	got := s.messages(t, 1)
	if len(got) != 1 || got[0].MailFrom != "alice@example.org" ||
		len(got[0].RcptTos) != 1 || got[0].RcptTos[0] != "bob@example.net" {
		t.Fatalf("received %+v", got)
	}
	content, err := base64.StdEncoding.DecodeString(got[0].Content)
	if err != nil || !bytes.Equal(content, msg) {
		t.Fatalf("content %q (%v)", content, err)
	}
}

// smtplib: SMTPAuthenticationError "Authentication failed", with the
// server's reply: 535 5.7.8 from aiosmtpd.
func TestWrongPasswordIsAnAuthenticationError(t *testing.T) {
	s := startAiosmtpdStartTLS(t)
	c := dialTLS(t, s)
	err := c.Login(aioUser, "not-the-password")
	if !errors.Is(err, smtp.ErrAuthentication) || !errors.Is(err, smtp.ErrResponse) {
		t.Fatalf("want an SMTPAuthenticationError, got %v", err)
	}
	var e *smtp.Error
	if !errors.As(err, &e) || e.Class != "SMTPAuthenticationError" || e.Code != 535 {
		t.Fatalf("class %s code %d: %v", e.Class, e.Code, err)
	}
	if err := c.Noop(); err != nil {
		t.Fatalf("the session should go on: %v", err)
	}
	if got := s.messages(t, 0); len(got) != 0 {
		t.Fatalf("received %+v", got)
	}
}
