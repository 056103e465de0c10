package smtp_test

import (
	"crypto/tls"
	"io"
	"testing"

	"libsmtp.org/smtp"
)

// net/smtp's exported API, signature by signature: this file compiles only
// while every one of them is the same here, so that a program written for
// net/smtp builds with its import path changed.
var (
	_ func(string) (*smtp.Client, error)                      = smtp.Dial
	_ func(string, smtp.Auth, string, []string, []byte) error = smtp.SendMail
	_ func(string, string, string, string) smtp.Auth          = smtp.PlainAuth
	_ func(string, string) smtp.Auth                          = smtp.CRAMMD5Auth
	_ func(*smtp.Client, string) error                        = (*smtp.Client).Hello
	_ func(*smtp.Client, *tls.Config) error                   = (*smtp.Client).StartTLS
	_ func(*smtp.Client) (tls.ConnectionState, bool)          = (*smtp.Client).TLSConnectionState
	_ func(*smtp.Client, string) error                        = (*smtp.Client).Verify
	_ func(*smtp.Client, smtp.Auth) error                     = (*smtp.Client).Auth
	_ func(*smtp.Client, string) error                        = (*smtp.Client).Mail
	_ func(*smtp.Client, string) error                        = (*smtp.Client).Rcpt
	_ func(*smtp.Client) (io.WriteCloser, error)              = (*smtp.Client).Data
	_ func(*smtp.Client, string) (bool, string)               = (*smtp.Client).Extension
	_ func(*smtp.Client) error                                = (*smtp.Client).Reset
	_ func(*smtp.Client) error                                = (*smtp.Client).Noop
	_ func(*smtp.Client) error                                = (*smtp.Client).Quit
	_ func(*smtp.Client) error                                = (*smtp.Client).Close
	_                                                         = smtp.ServerInfo{Name: "", TLS: false, Auth: []string(nil)}
)

// The Auth interface has net/smtp's two methods: an implementation
// written for net/smtp, with the import path changed, satisfies it.
type netSMTPStyleAuth struct{}

func (netSMTPStyleAuth) Start(server *smtp.ServerInfo) (string, []byte, error) { return "X", nil, nil }
func (netSMTPStyleAuth) Next(fromServer []byte, more bool) ([]byte, error)     { return nil, nil }

func TestAuthInterfaceIsNetSMTPs(t *testing.T) {
	var a smtp.Auth = netSMTPStyleAuth{}
	if proto, _, err := a.Start(&smtp.ServerInfo{}); proto != "X" || err != nil {
		t.Fatal(proto, err)
	}
}
