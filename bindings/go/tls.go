package smtp

/*
#include <stdlib.h>
#include "smtp.h"
*/
import "C"

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
)

// StartTLS sends STARTTLS and encrypts the rest of the session (net/smtp
// StartTLS); EHLO is sent again at once. It never falls back to
// plaintext: a server that does not offer STARTTLS gives
// ErrNotSupported.
//
// libsmtp runs the handshake with OpenSSL, verifying the chain against
// the system store (plus Dialer.CAFile and CADir) and the host name, and
// honours these tls.Config fields: ServerName (the name verified and sent
// as SNI; default the host dialed), InsecureSkipVerify, MinVersion (TLS
// 1.0 to 1.3; default 1.2) and Certificates (one client certificate,
// written for OpenSSL to a private temporary file removed after the
// handshake). SessionTicketsDisabled and DynamicRecordSizingDisabled
// hold already: libsmtp never resumes a session (each handshake has a
// fresh OpenSSL context), and OpenSSL always writes full-size records. The
// fields
// only a server uses (ClientAuth, ClientCAs, GetCertificate,
// GetConfigForClient, PreferServerCipherSuites, SessionTicketKey,
// NameToCertificate) are not read, as crypto/tls does not read them in a
// client. Every other field that is set — RootCAs (use Dialer.CAFile, a
// PEM file, instead), MaxVersion, CipherSuites, CurvePreferences,
// NextProtos, GetClientCertificate, VerifyPeerCertificate,
// VerifyConnection, ClientSessionCache, KeyLogWriter, Renegotiation,
// Rand, Time, more than one certificate — makes StartTLS return an
// ErrInvalid error with nothing sent.
func (c *Client) StartTLS(config *tls.Config) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return disconnected()
	}
	if c.dialTLS != nil {
		cleanup, err := c.applyTLSLocked(c.dialTLS)
		if err != nil {
			return err
		}
		defer cleanup()
	}
	cleanup, err := c.applyTLSLocked(config)
	if err != nil {
		return err
	}
	defer cleanup()
	return c.locked(func(h *C.smtp_handle) C.smtp_status { return C.smtp_starttls(h) })
}

// applyTLS is applyTLSLocked taking the lock.
func (c *Client) applyTLS(config *tls.Config) (func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.applyTLSLocked(config)
}

// applyTLSLocked hands config's fields to the handle for the next
// handshake; cleanup removes the temporary client-certificate file once
// the handshake has read it.
func (c *Client) applyTLSLocked(config *tls.Config) (cleanup func(), err error) {
	cleanup = func() {}
	if config == nil {
		return cleanup, nil
	}
	if err := unsupportedTLS(config); err != nil {
		return cleanup, err
	}
	var minVersion C.int
	switch config.MinVersion {
	case 0:
	case tls.VersionTLS10:
		minVersion = C.SMTP_TLS1_0
	case tls.VersionTLS11:
		minVersion = C.SMTP_TLS1_1
	case tls.VersionTLS12:
		minVersion = C.SMTP_TLS1_2
	case tls.VersionTLS13:
		minVersion = C.SMTP_TLS1_3
	default:
		return cleanup, invalid("tls.Config.MinVersion: libsmtp accepts TLS 1.0 to 1.3")
	}
	var certFile string
	if len(config.Certificates) == 1 {
		if certFile, err = writeClientCert(config.Certificates[0]); err != nil {
			return cleanup, err
		}
		cleanup = func() { os.Remove(certFile) }
	}
	err = c.locked(func(h *C.smtp_handle) C.smtp_status {
		if minVersion != 0 {
			if st := C.smtp_set_tls_min_version(h, minVersion); st != C.SMTP_OK {
				return st
			}
		}
		if config.InsecureSkipVerify {
			if st := C.smtp_set_tls_verify(h, 0); st != C.SMTP_OK {
				return st
			}
			c.verify = false
		}
		// The host dialed is verified by default; naming it again would
		// only turn an address into a name to match.
		if config.ServerName != "" && config.ServerName != c.serverName {
			st := withCString(config.ServerName, func(s *C.char) C.smtp_status { return C.smtp_set_tls_server_name(h, s) })
			if st != C.SMTP_OK {
				return st
			}
			c.tlsName = config.ServerName
		}
		if certFile != "" {
			return withCString(certFile, func(s *C.char) C.smtp_status { return C.smtp_set_tls_client_cert(h, s, nil) })
		}
		return C.SMTP_OK
	})
	if err != nil {
		cleanup()
		return func() {}, err
	}
	return cleanup, nil
}

// unsupportedTLS names the first field set that OpenSSL, through
// libsmtp, cannot honour.
func unsupportedTLS(cfg *tls.Config) error {
	var bad []string
	check := func(set bool, name string) {
		if set {
			bad = append(bad, name)
		}
	}
	check(cfg.RootCAs != nil, "RootCAs (give the anchors as a PEM file: Dialer.CAFile or WithTLSCAFile)")
	check(cfg.MaxVersion != 0, "MaxVersion")
	check(len(cfg.CipherSuites) > 0, "CipherSuites")
	check(len(cfg.CurvePreferences) > 0, "CurvePreferences")
	check(len(cfg.NextProtos) > 0, "NextProtos")
	check(cfg.GetClientCertificate != nil, "GetClientCertificate (use Certificates)")
	check(cfg.VerifyPeerCertificate != nil, "VerifyPeerCertificate")
	check(cfg.VerifyConnection != nil, "VerifyConnection")
	check(cfg.ClientSessionCache != nil, "ClientSessionCache")
	check(cfg.KeyLogWriter != nil, "KeyLogWriter")
	check(cfg.Renegotiation != tls.RenegotiateNever, "Renegotiation")
	check(cfg.Rand != nil, "Rand")
	check(cfg.Time != nil, "Time")
	check(len(cfg.Certificates) > 1, "more than one of Certificates")
	if len(bad) == 0 {
		return nil
	}
	return invalid("tls.Config field not supported by libsmtp: " + strings.Join(bad, ", "))
}

// writeClientCert writes a certificate chain and its key as PEM into a
// new file only its owner can read, for OpenSSL to load.
func writeClientCert(cert tls.Certificate) (string, error) {
	if len(cert.Certificate) == 0 || cert.PrivateKey == nil {
		return "", invalid("tls.Config.Certificates[0] has no certificate or no private key")
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return "", invalid("tls.Config.Certificates[0]: the private key cannot be given to OpenSSL: " + err.Error())
	}
	f, err := os.CreateTemp("", "libsmtp-client-cert-*.pem")
	if err != nil {
		return "", &Error{Status: StatusIO, Class: className(StatusIO), Code: -1,
			Message: "client certificate file: " + err.Error(), err: err}
	}
	var werr error
	for _, der := range cert.Certificate {
		werr = firstErr(werr, pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	werr = firstErr(werr, pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: key}))
	werr = firstErr(werr, f.Close())
	if werr != nil {
		os.Remove(f.Name())
		return "", &Error{Status: StatusIO, Class: className(StatusIO), Code: -1,
			Message: "client certificate file: " + werr.Error(), err: werr}
	}
	return f.Name(), nil
}

// TLSConnectionState returns the TLS state after StartTLS, or after
// connecting with implicit TLS; ok is false when the session is not
// encrypted. libsmtp reports the version, the cipher suite's name and the
// peer's subject, so Version, HandshakeComplete, ServerName and
// CipherSuite (when Go knows the suite) are filled; PeerCertificates,
// VerifiedChains, NegotiatedProtocol, OCSP and SCT data, TLSUnique and
// the resumption flag are left zero.
func (c *Client) TLSConnectionState() (state tls.ConnectionState, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return state, false
	}
	v := C.smtp_tls_version(c.h)
	if v == nil {
		return state, false
	}
	state.HandshakeComplete = true
	state.ServerName = c.tlsName
	state.Version = map[string]uint16{
		"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11,
		"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
	}[C.GoString(v)]
	state.CipherSuite = cipherSuiteID(goString(C.smtp_tls_cipher(c.h)))
	return state, true
}

// openSSLSuites are OpenSSL's names of the TLS 1.2 suites crypto/tls
// knows; TLS 1.3 suites have the same name in both.
var openSSLSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}

func cipherSuiteID(name string) uint16 {
	if id, ok := openSSLSuites[name]; ok {
		return id
	}
	for _, s := range tls.CipherSuites() {
		if s.Name == name {
			return s.ID
		}
	}
	return 0
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
