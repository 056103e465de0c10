package smtp_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"libsmtp.org/smtp"
)

const smtpSink = "/usr/sbin/smtp-sink"

// sink is Postfix smtp-sink on a free loopback port, dumping each
// message into dir.
type sink struct {
	port int
	dir  string
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSink starts smtp-sink with extra flags; a missing smtp-sink fails
// the test.
func startSink(t *testing.T, extra ...string) *sink {
	t.Helper()
	if _, err := os.Stat(smtpSink); err != nil {
		t.Fatalf("%s not found: install Debian's postfix package", smtpSink)
	}
	s := &sink{port: freePort(t), dir: t.TempDir()}
	args := append([]string{"-u", "root", "-d", filepath.Join(s.dir, "%Y%m%d%H%M%S.")}, extra...)
	args = append(args, "127.0.0.1:"+strconv.Itoa(s.port), "64")
	cmd := exec.Command(smtpSink, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start smtp-sink: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 500; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.port)); err == nil {
			c.Close()
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("smtp-sink did not listen on port %d", s.port)
	return nil
}

// files lists the messages dumped so far.
func (s *sink) files(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(s.dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// dumps waits for n dumped messages and returns their contents.
func (s *sink) dumps(t *testing.T, n int) [][]byte {
	t.Helper()
	for i := 0; i < 500; i++ {
		files, _ := filepath.Glob(filepath.Join(s.dir, "*"))
		if len(files) >= n {
			var out [][]byte
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("expected %d dumped messages in %s", n, s.dir)
	return nil
}

func TestSendMailDeliversTheMessage(t *testing.T) {
	s := startSink(t)
	c, err := smtp.DialContext(context.Background(), addr(s.port), smtp.WithLocalHostname("client.example"), smtp.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := []byte("Subject: from Go\r\n\r\nHello from Go.\r\n.leading dot\r\n")
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
	d := s.dumps(t, 1)[0]
	for _, want := range []string{"X-Helo-Args: client.example", "X-Mail-Args: <alice@example.org>",
		"X-Rcpt-Args: <bob@example.net>", "Subject: from Go\n\nHello from Go.\n.leading dot\n"} {
		if !bytes.Contains(d, []byte(want)) {
			t.Errorf("dump lacks %q:\n%s", want, d)
		}
	}
}

func TestNoopIsAnsweredWith250(t *testing.T) {
	s := startSink(t)
	c, err := smtp.Dial(addr(s.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if code, _ := c.Reply(); code != 250 {
		t.Fatalf("NOOP reply %d", code)
	}
}

// smtplib: "If all recipients were refused ... SMTPRecipientsRefused",
// with each refused recipient's code and text.
func TestAllRecipientsRefusedIsARecipientsRefusedError(t *testing.T) {
	s := startSink(t, "-r", "RCPT")
	c, err := smtp.Dial(addr(s.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.SendMail("alice@example.org", []string{"bob@example.net", "carol@example.net"}, []byte("x\r\n"))
	var e *smtp.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *smtp.Error, got %v", err)
	}
	if e.Status != smtp.StatusRecipientsRefused || e.Class != "SMTPRecipientsRefused" {
		t.Fatalf("status %d class %s", e.Status, e.Class)
	}
	if len(e.Recipients) != 2 || e.Recipients[0].Address != "bob@example.net" || e.Recipients[0].Code/100 != 4 {
		t.Fatalf("recipients %+v", e.Recipients)
	}
	// SMTPRecipientsRefused is an SMTPException but not an
	// SMTPResponseException.
	if !errors.Is(err, smtp.ErrException) || errors.Is(err, smtp.ErrResponse) {
		t.Fatalf("hierarchy wrong for %v", err)
	}
}

func TestRefusedSenderCarriesCodeTextAndSender(t *testing.T) {
	s := startSink(t, "-f", "MAIL")
	c, err := smtp.Dial(addr(s.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.SendMail("alice@example.org", []string{"bob@example.net"}, []byte("x\r\n"))
	var e *smtp.Error
	if !errors.As(err, &e) || e.Status != smtp.StatusSenderRefused {
		t.Fatalf("want SMTPSenderRefused, got %v", err)
	}
	if e.Sender != "alice@example.org" || e.Code/100 != 5 || e.Text == "" {
		t.Fatalf("error %+v", e)
	}
	if !errors.Is(err, smtp.ErrResponse) || !errors.Is(err, smtp.ErrSenderRefused) {
		t.Fatalf("SMTPSenderRefused should be an SMTPResponseException: %v", err)
	}
}

func TestNothingListeningIsAnIOError(t *testing.T) {
	port := freePort(t)
	_, err := smtp.Dial(addr(port))
	var e *smtp.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *smtp.Error, got %v", err)
	}
	if e.Status != smtp.StatusIO || !errors.Is(err, smtp.ErrIO) || errors.Is(err, smtp.ErrException) {
		t.Fatalf("want an OSError, got %+v", e)
	}
	if e.Code != -1 || e.Message == "" {
		t.Fatalf("error %+v", e)
	}
}

func TestLineBreakOrNULInAnAddressIsInvalidAndTheSessionGoesOn(t *testing.T) {
	s := startSink(t)
	c, err := smtp.Dial(addr(s.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, from := range []string{"a@example.org\r\nRSET", "a@example.org\x00"} {
		_, err = c.SendMail(from, []string{"bob@example.net"}, []byte("x\r\n"))
		if !errors.Is(err, smtp.ErrInvalid) {
			t.Fatalf("want ErrInvalid for %q, got %v", from, err)
		}
	}
	if err := c.Noop(); err != nil {
		t.Fatalf("session unusable after a refused argument: %v", err)
	}
}

func TestCloseIsIdempotentAndLaterCallsAreDisconnected(t *testing.T) {
	s := startSink(t)
	c, err := smtp.Dial(addr(s.port))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(); !errors.Is(err, smtp.ErrServerDisconnected) {
		t.Fatalf("want SMTPServerDisconnected, got %v", err)
	}
}

func TestStartTLSWithoutTheExtensionIsNotSupported(t *testing.T) {
	s := startSink(t)
	c, err := smtp.Dial(addr(s.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// smtp-sink does not offer STARTTLS unless asked to.
	if err := c.StartTLS(nil); !errors.Is(err, smtp.ErrNotSupported) {
		t.Fatalf("want SMTPNotSupportedError, got %v", err)
	}
}

func TestVersionIsTheLibrarys(t *testing.T) {
	if smtp.Version() == "" {
		t.Fatal("empty version")
	}
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
