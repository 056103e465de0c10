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

// scripted is a minimal SMTP server on a loopback port that refuses RCPT
// for any address starting with "nobody", and records every line the
// client sent.
type scripted struct {
	l     net.Listener
	mu    sync.Mutex
	lines []string
	body  strings.Builder
}

func startScripted(t *testing.T) *scripted {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{l: l}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *scripted) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	say := func(line string) { io.WriteString(conn, line+"\r\n") }
	say("220 scripted ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.lines = append(s.lines, line)
		s.mu.Unlock()
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch {
		case verb == "EHLO":
			say("250-scripted")
			say("250 8BITMIME")
		case verb == "RCPT" && strings.Contains(line, "<nobody"):
			say("550 5.1.1 no such user")
		case verb == "DATA":
			say("354 go on")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				s.mu.Lock()
				s.body.WriteString(l)
				s.mu.Unlock()
			}
			say("250 2.0.0 queued")
		case verb == "VRFY":
			say("252 2.1.5 cannot verify, will try")
		case verb == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func (s *scripted) sent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// As smtplib's sendmail: one refused recipient among others does not stop
// the message; Recipients tells which one, with its reply.
func TestDataGoesOnWhenSomeRecipientsAreRefused(t *testing.T) {
	s := startScripted(t)
	c, err := smtp.Dial(s.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("alice@example.org"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"bob@example.net", "nobody@example.net"} {
		if err := c.Rcpt(r); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: partly\r\n\r\nbody\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rs := c.Recipients()
	if len(rs) != 2 || !rs[0].Accepted || rs[1].Accepted || rs[1].Code != 550 || rs[1].Enhanced != "5.1.1" {
		t.Fatalf("recipients %+v", rs)
	}
	s.mu.Lock()
	body := s.body.String()
	s.mu.Unlock()
	if body != "Subject: partly\r\n\r\nbody\r\n" {
		t.Fatalf("body %q", body)
	}
	// net/smtp's Mail adds BODY=8BITMIME when the server offers it.
	if got := s.sent(); !contains(got, "MAIL FROM:<alice@example.org> BODY=8BITMIME") {
		t.Fatalf("sent %q", got)
	}
}

// net/smtp's Verify wants 250: a 252 ("cannot verify") is an error
// carrying the reply.
func TestVerifyAnswered252IsAnErrorWithTheReply(t *testing.T) {
	s := startScripted(t)
	c, err := smtp.Dial(s.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Verify("bob@example.net")
	var e *smtp.Error
	if !errors.As(err, &e) || e.Code != 252 || !errors.Is(err, smtp.ErrResponse) {
		t.Fatalf("want an SMTPResponseException with 252, got %v", err)
	}
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}
