# frozen_string_literal: true

# LibSMTP::SMTP against aiosmtpd with STARTTLS and AUTH, over a CA and
# certificates made for the test run.
require_relative 'test_helper'

class AiosmtpdTest < Minitest::Test
  include ServerHelpers

  USER = 'user'
  PASSWORD = 's3cr3t-pw'
  MSG = "Subject: from Ruby\r\n\r\nover TLS, after AUTH\r\n"

  def start_tls(port, **opts, &block)
    LibSMTP::SMTP.start('127.0.0.1', port, helo: 'client.example', ca_file: env('LIBSMTP_TEST_CA'),
                                           tls_hostname: 'localhost', **opts, &block)
  end

  # net-smtp: starttls: :auto uses "STARTTLS when the server supports it";
  # then user: and secret: log in.
  def test_start_upgrades_with_starttls_logs_in_and_sends
    port = start_aiosmtpd(auth: [USER, PASSWORD])
    start_tls(port, user: USER, secret: PASSWORD) do |smtp|
      assert_match(/\ATLSv1\.[23]\z/, smtp.tls_version)
      smtp.send_message(MSG, 'alice@example.org', 'bob@example.net')
    end
    got = aio_messages(1)
    assert_equal 'alice@example.org', got[0]['mail_from']
    assert_equal ['bob@example.net'], got[0]['rcpt_tos']
    assert_equal MSG, got[0]['content'].unpack1('m0')
  end

  def test_authtype_login_pins_the_mechanism
    port = start_aiosmtpd(auth: [USER, PASSWORD])
    start_tls(port, user: USER, password: PASSWORD, authtype: :login) do |smtp|
      assert_includes smtp.capable_auth_types, 'LOGIN'
      smtp.send_message(MSG, 'alice@example.org', 'bob@example.net')
    end
    assert_equal 1, aio_messages(1).size
  end

  # smtplib: SMTPAuthenticationError, with the server's 535.
  def test_wrong_password_raises_authentication_error_with_535
    port = start_aiosmtpd(auth: [USER, PASSWORD])
    err = assert_raises(LibSMTP::SMTPAuthenticationError) { start_tls(port, user: USER, secret: 'nope') { flunk } }
    assert_equal 535, err.smtp_code
    assert_kind_of LibSMTP::SMTPResponseException, err
    start_tls(port) do |smtp|
      assert_raises(LibSMTP::SMTPAuthenticationError) { smtp.authenticate(USER, 'nope') }
      assert_equal 250, smtp.noop.first
    end
    assert_empty Dir[File.join(@aio_dir, '*.json')]
  end

  # A certificate that does not chain to a trusted anchor is refused: an
  # OpenSSL::SSL::SSLError, as Net::SMTP raises, and smtplib's OSError.
  def test_an_untrusted_certificate_is_an_ssl_error
    port = start_aiosmtpd
    err = assert_raises(OpenSSL::SSL::SSLError) do
      LibSMTP::SMTP.start('127.0.0.1', port, tls_hostname: 'localhost') { flunk 'TLS accepted' }
    end
    assert_kind_of LibSMTP::SSLError, err
    assert_kind_of LibSMTP::OSError, err
  end

  def test_ssl_context_params_ca_file_is_honoured_and_unknown_keys_refused
    port = start_aiosmtpd
    LibSMTP::SMTP.start('127.0.0.1', port, tls_hostname: 'localhost',
                                           ssl_context_params: { ca_file: env('LIBSMTP_TEST_CA') }) do |smtp|
      smtp.send_message(MSG, 'alice@example.org', 'bob@example.net')
    end
    assert_equal 1, aio_messages(1).size
    assert_raises(ArgumentError) { LibSMTP::SMTP.new('127.0.0.1', port, ssl_context_params: { ciphers: 'ALL' }) }
  end

  # net-smtp: "If +tls+ is true, enable TLS" (SMTPS, from the first byte).
  def test_tls_true_connects_over_implicit_tls
    port = start_aiosmtpd(tls: 'implicit')
    smtp = LibSMTP::SMTP.new('127.0.0.1', port, tls: true, tls_hostname: 'localhost', ca_file: env('LIBSMTP_TEST_CA'))
    assert smtp.tls?
    smtp.start do |s|
      assert_match(/\ATLSv1\.[23]\z/, s.tls_version)
      s.send_message(MSG, 'alice@example.org', 'bob@example.net')
    end
    assert_equal 1, aio_messages(1).size
    assert_raises(ArgumentError) { LibSMTP::SMTP.new('127.0.0.1', port, tls: true, starttls: :always) }
  end

  def test_authtype_xoauth2_logs_in_with_the_token_as_secret
    port = start_aiosmtpd(oauth: [USER, 'ya29.token'])
    start_tls(port, user: USER, secret: 'ya29.token', authtype: :xoauth2) do |smtp|
      smtp.send_message(MSG, 'alice@example.org', 'bob@example.net')
    end
    assert_equal 1, aio_messages(1).size
    assert_raises(ArgumentError) { start_tls(port, user: USER, secret: 'x', authtype: :kerberos) }
  end

  def test_starttls_false_stays_in_plaintext_and_the_server_refuses_mail
    port = start_aiosmtpd
    LibSMTP::SMTP.start('127.0.0.1', port, starttls: false) do |smtp|
      assert smtp.capable_starttls?
      assert_nil smtp.tls_version
      err = assert_raises(LibSMTP::SMTPSenderRefused) { smtp.send_message(MSG, 'alice@example.org', 'bob@example.net') }
      assert_equal 530, err.smtp_code
    end
  end
end
