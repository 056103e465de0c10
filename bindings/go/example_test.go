package smtp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"os"
	"time"

	"libsmtp.org/smtp"
)

// net/smtp's SendMail, unchanged but for the import path.
func ExampleSendMail() {
	auth := smtp.PlainAuth("", "user@example.com", "password", "mail.example.com")
	msg := []byte("To: recipient@example.net\r\nSubject: hello\r\n\r\nThe body.\r\n")
	err := smtp.SendMail("mail.example.com:587", auth, "sender@example.org", []string{"recipient@example.net"}, msg)
	if err != nil {
		log.Fatal(err)
	}
}

// A large message streamed from a file, with a deadline for the whole
// exchange and smtplib's error classes.
func ExampleClient_SendReader() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := smtp.DialContext(ctx, "mail.example.com:587", smtp.WithTimeout(30*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(&tls.Config{MinVersion: tls.VersionTLS12}); err != nil {
		log.Fatal(err)
	}
	if err := c.Login("user@example.com", "password"); err != nil {
		log.Fatal(err)
	}
	f, err := os.Open("message.eml")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	refused, err := c.SendReader(ctx, "sender@example.org", []string{"a@example.net", "b@example.net"}, f)
	switch {
	case errors.Is(err, smtp.ErrRecipientsRefused):
		log.Fatal("every recipient was refused: ", err)
	case err != nil:
		log.Fatal(err)
	}
	for _, r := range refused {
		log.Printf("refused %s: %d %s", r.Address, r.Code, r.Text)
	}
	if err := c.Quit(); err != nil {
		log.Fatal(err)
	}
}

// Implicit TLS (port 465) with a private CA, and a Dialer option written
// by the caller.
func ExampleDialer() {
	useProxyName := func(d *smtp.Dialer) { d.LocalName = "relay.example.org" }
	d := smtp.Dialer{ImplicitTLS: true, CAFile: "/etc/ssl/private-ca.pem", Timeout: 20 * time.Second}
	useProxyName(&d)
	c, err := d.Dial("mail.example.com:465")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.SendMessage([]byte("From: a@example.org\r\nTo: b@example.net\r\n\r\nHi\r\n"), "", nil); err != nil {
		log.Fatal(err)
	}
}
