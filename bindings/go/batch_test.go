package smtp_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"libsmtp.org/smtp"
)

// limitServer is a one-connection SMTP server offering PIPELINING that
// accepts the first message and answers the MAIL of the second with
// `limit` (a reply ending the session), then answers what the client had
// already pipelined as a server without a transaction does, until QUIT
// or the end of the connection. It records every command line.
type limitServer struct {
	l     net.Listener
	done  chan struct{}
	mu    sync.Mutex
	lines []string
}

func startLimitServer(t *testing.T, limit string, hangUp bool) *limitServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &limitServer{l: l, done: make(chan struct{})}
	t.Cleanup(func() { l.Close() })
	go func() {
		defer close(s.done)
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		s.serve(conn, limit, hangUp)
	}()
	return s
}

func (s *limitServer) serve(conn net.Conn, limit string, hangUp bool) {
	r := bufio.NewReader(conn)
	say := func(line string) { io.WriteString(conn, line+"\r\n") }
	say("220 limit ESMTP")
	mails := 0
	inTransaction := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.lines = append(s.lines, line)
		s.mu.Unlock()
		switch strings.ToUpper(strings.SplitN(line, " ", 2)[0]) {
		case "EHLO":
			say("250-limit")
			say("250 PIPELINING")
		case "MAIL":
			mails++
			if mails > 1 {
				say(limit)
				if hangUp {
					return
				}
				continue
			}
			inTransaction = true
			say("250 2.1.0 ok")
		case "RCPT":
			if !inTransaction {
				say("503 5.5.1 Error: need MAIL command")
				continue
			}
			say("250 2.1.5 ok")
		case "DATA":
			if !inTransaction {
				say("503 5.5.1 Error: need RCPT command")
				continue
			}
			say("354 go on")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			inTransaction = false
			say("250 2.0.0 queued")
		case "QUIT":
			say("221 2.0.0 bye")
			return
		default:
			say("250 ok")
		}
	}
}

// The commands the client sent, once the connection is over.
func (s *limitServer) sent(t *testing.T) []string {
	t.Helper()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func threeMessages() []smtp.Message {
	var msgs []smtp.Message
	for _, subject := range []string{"one", "two", "three"} {
		msgs = append(msgs, smtp.Message{From: "alice@example.org", To: []string{"bob@example.net"},
			Body: []byte("Subject: " + subject + "\r\n\r\nbody\r\n")})
	}
	return msgs
}

func countPrefix(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// OpenSMTPD limits the messages of a session with "452 4.5.3 Too many
// recipients: Too many messages sent" to MAIL. The first message is
// accepted; the second and third are not attempted (a distinct status, an
// ErrServerDisconnected too, since the connection is closed after QUIT),
// and BatchAttempted tells where to start again on a new connection.
func TestSendBatchReportsMessagesASessionLimitLeftUnsent(t *testing.T) {
	s := startLimitServer(t, "452 4.5.3 Too many messages sent", false)
	c, err := smtp.Dial(s.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errs, err := c.SendBatch(threeMessages())
	if len(errs) != 3 || errs[0] != nil {
		t.Fatalf("message 1 should be accepted: %v", errs)
	}
	for i := 1; i < 3; i++ {
		var e *smtp.Error
		if !errors.As(errs[i], &e) || e.Status != smtp.StatusNotAttempted ||
			!errors.Is(errs[i], smtp.ErrNotAttempted) || !errors.Is(errs[i], smtp.ErrServerDisconnected) {
			t.Errorf("message %d: want not attempted, got %v", i+1, errs[i])
		}
	}
	// The call's error is the first failure, with the reply that ended the
	// session.
	var e *smtp.Error
	if !errors.As(err, &e) || !errors.Is(err, smtp.ErrNotAttempted) || e.Code != 452 ||
		!strings.Contains(e.Text, "Too many messages sent") {
		t.Fatalf("want NotAttempted with the 452, got %#v", err)
	}
	if got := c.BatchAttempted(); got != 1 {
		t.Fatalf("BatchAttempted() = %d, want 1", got)
	}
	lines := s.sent(t)
	if n := countPrefix(lines, "MAIL FROM:"); n != 2 {
		t.Errorf("want MAIL twice (the third message not sent), got %q", lines)
	}
	if lines[len(lines)-1] != "QUIT" {
		t.Errorf("want QUIT last after the 4.5.3, got %q", lines)
	}
}

// RFC 5321 4.2.2: 421 "Service not available, closing transmission
// channel". A server hanging up with 421 mid-batch leaves the rest
// unsent, as a session limit does.
func TestSendBatchAfterA421LeavesTheRestNotAttempted(t *testing.T) {
	s := startLimitServer(t, "421 4.3.2 Shutting down", true)
	c, err := smtp.Dial(s.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errs, err := c.SendBatch(threeMessages())
	if len(errs) != 3 || errs[0] != nil || !errors.Is(errs[1], smtp.ErrNotAttempted) ||
		!errors.Is(errs[2], smtp.ErrNotAttempted) {
		t.Fatalf("want OK, not attempted, not attempted; got %v", errs)
	}
	var e *smtp.Error
	if !errors.As(err, &e) || e.Status != smtp.StatusNotAttempted || e.Code != 421 {
		t.Fatalf("want NotAttempted with the 421, got %#v", err)
	}
	if got := c.BatchAttempted(); got != 1 {
		t.Fatalf("BatchAttempted() = %d, want 1", got)
	}
	if n := countPrefix(s.sent(t), "MAIL FROM:"); n != 2 {
		t.Errorf("want MAIL twice, got %d", n)
	}
}

// The status's name and place in the hierarchy come from the C library.
func TestNotAttemptedIsAServerDisconnected(t *testing.T) {
	if smtp.ErrNotAttempted.Class != "NotAttempted" {
		t.Errorf("class %q", smtp.ErrNotAttempted.Class)
	}
	if !errors.Is(smtp.ErrNotAttempted, smtp.ErrServerDisconnected) ||
		!errors.Is(smtp.ErrNotAttempted, smtp.ErrException) ||
		errors.Is(smtp.ErrServerDisconnected, smtp.ErrNotAttempted) {
		t.Error("NotAttempted should derive from SMTPServerDisconnected, not the reverse")
	}
}
