package smtp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"libsmtp.org/smtp"
)

func dialSink(t *testing.T, s *sink, opts ...smtp.Option) *smtp.Client {
	t.Helper()
	c, err := smtp.DialContext(context.Background(), addr(s.port), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// net/smtp's sequence: Mail, Rcpt, Data, writes, Close, Quit. The body is
// written in pieces split inside a CRLF and before a leading dot, which
// must still be stuffed.
func TestMailRcptDataStreamTheBodyInPieces(t *testing.T) {
	s := startSink(t)
	c, err := smtp.Dial(addr(s.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("alice@example.org"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"bob@example.net", "carol@example.net"} {
		if err := c.Rcpt(r); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	for _, piece := range []string{"Subject: pieces\r", "\n\r\nfirst line\r\n", ".dot line\r\n", "last\r\n"} {
		if _, err := io.WriteString(w, piece); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	d := s.dumps(t, 1)[0]
	for _, want := range []string{"X-Helo-Args: client.example", "X-Mail-Args: <alice@example.org>",
		"X-Rcpt-Args: <bob@example.net>", "X-Rcpt-Args: <carol@example.net>",
		"Subject: pieces\n\nfirst line\n.dot line\nlast\n"} {
		if !bytes.Contains(d, []byte(want)) {
			t.Errorf("dump lacks %q:\n%s", want, d)
		}
	}
}

// net/smtp: "If Hello is called, it must be called before any of the
// other methods."
func TestHelloAfterOtherMethodsIsAnError(t *testing.T) {
	s := startSink(t)
	c := dialSink(t, s)
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("late.example"); err == nil || !strings.Contains(err.Error(), "Hello called after other methods") {
		t.Fatalf("want the net/smtp error, got %v", err)
	}
}

func TestExtensionReportsOfferedExtensionsAndTheirParameters(t *testing.T) {
	s := startSink(t)
	c := dialSink(t, s)
	if ok, _ := c.Extension("pipelining"); !ok {
		t.Fatal("smtp-sink offers PIPELINING")
	}
	// As net/smtp: the parameters, without the keyword.
	if ok, param := c.Extension("auth"); !ok || param != "PLAIN LOGIN" {
		t.Fatalf("AUTH: %v %q", ok, param)
	}
	if ok, _ := c.Extension("NO-SUCH-EXTENSION"); ok {
		t.Fatal("an extension not offered is reported")
	}
}

// smtp-sink answers VRFY with 250.
func TestVerifyIsNilOn250(t *testing.T) {
	s := startSink(t)
	c := dialSink(t, s)
	if err := c.Verify("bob@example.net"); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify("bob@example.net\r\nRSET"); !errors.Is(err, smtp.ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
}

func TestResetForgetsTheEnvelope(t *testing.T) {
	s := startSink(t)
	c := dialSink(t, s)
	if err := c.Mail("alice@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("bob@example.net"); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Data(); !errors.Is(err, smtp.ErrException) {
		t.Fatalf("Data after Reset: want an SMTPException, got %v", err)
	}
	if err := c.Rcpt("bob@example.net"); !errors.Is(err, smtp.ErrException) {
		t.Fatalf("Rcpt without Mail: want an SMTPException, got %v", err)
	}
}

// Data reports a refused sender, as the MAIL command goes with it.
func TestDataReportsARefusedSender(t *testing.T) {
	s := startSink(t, "-f", "MAIL")
	c := dialSink(t, s)
	if err := c.Mail("alice@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("bob@example.net"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Data()
	var e *smtp.Error
	if !errors.As(err, &e) || e.Status != smtp.StatusSenderRefused || e.Sender != "alice@example.org" {
		t.Fatalf("want SMTPSenderRefused, got %v", err)
	}
	if err := c.Noop(); err != nil {
		t.Fatalf("the session should go on: %v", err)
	}
}

func TestMailRefusesALineBreakBeforeSendingAnything(t *testing.T) {
	s := startSink(t)
	c := dialSink(t, s)
	if err := c.Mail("a@example.org\r\nRCPT TO:<x@example.net>"); !errors.Is(err, smtp.ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
	if err := smtp.SendMail(addr(s.port), nil, "a@example.org", []string{"b@example.net\n"}, []byte("x")); !errors.Is(err, smtp.ErrInvalid) {
		t.Fatalf("SendMail: want ErrInvalid, got %v", err)
	}
}

// net/smtp's SendMail, without AUTH and without STARTTLS on offer.
func TestPackageSendMailDelivers(t *testing.T) {
	s := startSink(t)
	msg := []byte("To: bob@example.net\r\nSubject: SendMail\r\n\r\nbody\r\n")
	if err := smtp.SendMail(addr(s.port), nil, "alice@example.org", []string{"bob@example.net"}, msg); err != nil {
		t.Fatal(err)
	}
	d := s.dumps(t, 1)[0]
	if !bytes.Contains(d, []byte("Subject: SendMail\n\nbody\n")) {
		t.Fatalf("dump:\n%s", d)
	}
}

// countingReader yields n bytes of numbered lines, never holding more
// than one line.
type countingReader struct {
	left int
	line int
	buf  []byte
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if len(r.buf) == 0 {
		r.line++
		r.buf = []byte(fmt.Sprintf("line %08d of a body streamed from an io.Reader\r\n", r.line))
	}
	n := copy(p, r.buf)
	if n > r.left {
		n = r.left
	}
	r.buf = r.buf[n:]
	r.left -= n
	return n, nil
}

func TestSendReaderStreamsABodyFromAReader(t *testing.T) {
	s := startSink(t)
	c := dialSink(t, s)
	const size = 4 << 20
	body := io.MultiReader(strings.NewReader("Subject: big\r\n\r\n"), &countingReader{left: size})
	refused, err := c.SendReader(context.Background(), "alice@example.org", []string{"bob@example.net"}, body)
	if err != nil || len(refused) != 0 {
		t.Fatalf("SendReader: %v %v", refused, err)
	}
	d := s.dumps(t, 1)[0]
	want := strings.Replace(fmt.Sprintf("line %08d of a body streamed from an io.Reader\r\n", 1), "\r\n", "\n", 1)
	if !bytes.Contains(d, []byte("Subject: big\n\n"+want)) || len(d) < size-size/40 {
		t.Fatalf("dump of %d bytes:\n%.300s", len(d), d)
	}
}

type failingReader struct{ sent bool }

var errBodySource = errors.New("the body's source failed")

func (r *failingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, "Subject: cut short\r\n\r\nhalf a body"), nil
	}
	return 0, errBodySource
}

// A body that cannot be read to its end must never be delivered cut
// short: the connection is dropped, and the reader's error is the cause.
func TestSendReaderErrorDropsTheMessageAndIsTheCause(t *testing.T) {
	s := startSink(t)
	c := dialSink(t, s)
	_, err := c.SendReader(context.Background(), "alice@example.org", []string{"bob@example.net"}, &failingReader{})
	if !errors.Is(err, errBodySource) {
		t.Fatalf("want the reader's error as the cause, got %v", err)
	}
	var e *smtp.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *smtp.Error, got %T", err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(s.files(t)); n != 0 {
		t.Fatalf("%d messages delivered", n)
	}
}

func TestDialContextAlreadyCancelledDialsNothing(t *testing.T) {
	s := startSink(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := smtp.DialContext(ctx, addr(s.port))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, smtp.ErrIO) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

// A server that accepts and never greets: the context's deadline, shorter
// than the Dialer's timeout, ends the wait.
func TestDialContextDeadlineEndsAStalledGreeting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = smtp.DialContext(ctx, l.Addr().String(), smtp.WithTimeout(30*time.Second))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, smtp.ErrTimeout) {
		t.Fatalf("want a TimeoutError matching context.DeadlineExceeded, got %v", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("waited %v: the context's deadline was not applied", waited)
	}
}

// smtplib send_message: the envelope from the headers; Bcc is a
// recipient but is not transmitted.
func TestSendMessageTakesTheEnvelopeFromTheHeaders(t *testing.T) {
	s := startSink(t)
	c := dialSink(t, s)
	msg := []byte("From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nBcc: hidden@example.net\r\n" +
		"Subject: headers\r\n\r\nbody\r\n")
	if _, err := c.SendMessage(msg, "", nil); err != nil {
		t.Fatal(err)
	}
	d := s.dumps(t, 1)[0]
	for _, want := range []string{"X-Mail-Args: <alice@example.org>", "X-Rcpt-Args: <bob@example.net>",
		"X-Rcpt-Args: <hidden@example.net>"} {
		if !bytes.Contains(d, []byte(want)) {
			t.Errorf("dump lacks %q:\n%s", want, d)
		}
	}
	if bytes.Contains(d, []byte("Bcc:")) {
		t.Errorf("Bcc transmitted:\n%s", d)
	}
}

func TestSendBatchSendsEveryMessage(t *testing.T) {
	s := startSink(t)
	c := dialSink(t, s)
	var msgs []smtp.Message
	for i := 0; i < 3; i++ {
		msgs = append(msgs, smtp.Message{From: "alice@example.org", To: []string{"bob@example.net"},
			Body: []byte("Subject: batch " + strconv.Itoa(i) + "\r\n\r\nbody\r\n")})
	}
	errs, err := c.SendBatch(msgs)
	if err != nil || len(errs) != 3 || errs[0] != nil || errs[1] != nil || errs[2] != nil {
		t.Fatalf("SendBatch: %v %v", errs, err)
	}
	all := bytes.Join(s.dumps(t, 3), nil)
	for i := 0; i < 3; i++ {
		if !bytes.Contains(all, []byte("Subject: batch "+strconv.Itoa(i))) {
			t.Errorf("message %d missing", i)
		}
	}
}

func TestSendBatchGivesEachMessagesError(t *testing.T) {
	s := startSink(t, "-r", "RCPT")
	c := dialSink(t, s)
	errs, err := c.SendBatch([]smtp.Message{
		{From: "alice@example.org", To: []string{"bob@example.net"}, Body: []byte("x\r\n")},
		{From: "alice@example.org", To: []string{"carol@example.net"}, Body: []byte("y\r\n")},
	})
	if !errors.Is(err, smtp.ErrRecipientsRefused) || len(errs) != 2 {
		t.Fatalf("want SMTPRecipientsRefused, got %v %v", errs, err)
	}
	for i, e := range errs {
		if !errors.Is(e, smtp.ErrRecipientsRefused) {
			t.Errorf("message %d: %v", i, e)
		}
	}
}

// Every recipient's outcome, not only the refused ones.
func TestRecipientsGivesEveryRecipientsReply(t *testing.T) {
	s := startSink(t)
	c := dialSink(t, s)
	if _, err := c.SendMail("alice@example.org", []string{"bob@example.net", "carol@example.net"}, []byte("x\r\n")); err != nil {
		t.Fatal(err)
	}
	rs := c.Recipients()
	if len(rs) != 2 || rs[0].Address != "bob@example.net" || !rs[0].Accepted || rs[0].Code != 250 ||
		rs[1].Address != "carol@example.net" || !rs[1].Accepted {
		t.Fatalf("recipients %+v", rs)
	}
}

// LMTP: LHLO, and one reply per recipient after the data.
func TestLMTPDeliversWithOneReplyPerRecipient(t *testing.T) {
	s := startSink(t, "-L")
	c := dialSink(t, s, smtp.WithLMTP(), smtp.WithLocalHostname("client.example"))
	if _, err := c.SendMail("alice@example.org", []string{"bob@example.net", "carol@example.net"}, []byte("Subject: lmtp\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	rs := c.Recipients()
	if len(rs) != 2 || !rs[0].Accepted || !rs[1].Accepted {
		t.Fatalf("recipients %+v", rs)
	}
	if d := s.dumps(t, 1)[0]; !bytes.Contains(d, []byte("X-Helo-Args: client.example")) {
		t.Fatalf("dump:\n%s", d)
	}
}

// smtplib putcmd/getreply/docmd: a raw command and its reply.
func TestPutCmdAndGetReplyExchangeARawCommand(t *testing.T) {
	s := startSink(t)
	c := dialSink(t, s)
	if err := c.PutCmd("NOOP", ""); err != nil {
		t.Fatal(err)
	}
	code, text, err := c.GetReply()
	if err != nil || code != 250 || text == "" {
		t.Fatalf("GetReply: %d %q %v", code, text, err)
	}
	if code, _, err := c.DoCmd("HELO", "client.example"); err != nil || code != 250 {
		t.Fatalf("DoCmd: %d %v", code, err)
	}
	if err := c.PutCmd("NOOP", "x\r\nRSET"); !errors.Is(err, smtp.ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
}

// smtplib's source_address: what the connection is bound to.
func TestSourceAddressIsTheOneDialedFrom(t *testing.T) {
	s := startSink(t)
	c := dialSink(t, s)
	if host, port := c.SourceAddress(); host != "" || port != 0 {
		t.Fatalf("none set, got %q %d", host, port)
	}
	c2 := dialSink(t, s, smtp.WithLocalAddr("127.0.0.1:0"))
	if host, port := c2.SourceAddress(); host != "127.0.0.1" || port != 0 {
		t.Fatalf("got %q %d", host, port)
	}
	if err := c2.Noop(); err != nil {
		t.Fatal(err)
	}
}

// An Option is an ordinary func(*Dialer): callers can write their own.
func TestAnOptionWrittenOutsideThePackage(t *testing.T) {
	s := startSink(t)
	mine := func(d *smtp.Dialer) { d.LocalName = "mine.example" }
	c := dialSink(t, s, mine)
	if _, err := c.SendMail("alice@example.org", []string{"bob@example.net"}, []byte("x\r\n")); err != nil {
		t.Fatal(err)
	}
	if d := s.dumps(t, 1)[0]; !bytes.Contains(d, []byte("X-Helo-Args: mine.example")) {
		t.Fatalf("dump:\n%s", d)
	}
}

// smtplib's LMTP: a host starting with "/" is a Unix socket.
func TestLMTPOverAUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "lmtp.sock")
	s := &sink{dir: t.TempDir()}
	cmd := exec.Command(smtpSink, "-u", "root", "-L", "-d", filepath.Join(s.dir, "%Y%m%d%H%M%S."), "unix:"+sock, "64")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start smtp-sink: %v (install Debian's postfix package)", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var c *smtp.Client
	var err error
	for i := 0; i < 250; i++ {
		if c, err = smtp.DialContext(context.Background(), sock, smtp.WithLMTP()); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.SendMail("alice@example.org", []string{"bob@example.net"}, []byte("Subject: unix\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if d := s.dumps(t, 1)[0]; !bytes.Contains(d, []byte("Subject: unix")) {
		t.Fatalf("dump:\n%s", d)
	}
}

// smtplib set_debuglevel: the transcript, one line a Write.
func TestDebugWriterGetsTheTranscript(t *testing.T) {
	s := startSink(t)
	var transcript bytes.Buffer
	c := dialSink(t, s, smtp.WithDebug(&transcript, 1))
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	got := transcript.String()
	if !strings.Contains(got, "NOOP") || !strings.Contains(got, "220") || !strings.HasSuffix(got, "\n") {
		t.Fatalf("transcript:\n%s", got)
	}
}
