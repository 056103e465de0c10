# frozen_string_literal: true

# LibSMTP against aiosmtpd (tests/servers/aiosmtpd_server.py) with STARTTLS
# and AUTH. tests/callers.rs makes the certificates once
# (tests/common/certs.rs) and passes the paths: LIBSMTP_TEST_AIOSMTPD (the
# script), LIBSMTP_TEST_CA, LIBSMTP_TEST_CERT and LIBSMTP_TEST_KEY.
require 'minitest/autorun'
require 'fileutils'
require 'json'
require 'socket'
require 'tmpdir'
require 'libsmtp'

class AiosmtpdTest < Minitest::Test
  USER = 'user'
  PASSWORD = 's3cr3t-pw'

  def env(name)
    value = ENV.fetch(name, '')
    flunk "#{name} is not set: run these tests with `cargo test --test callers`, which sets it" if value.empty?
    value
  end

  def free_port
    server = TCPServer.new('127.0.0.1', 0)
    server.addr[1]
  ensure
    server&.close
  end

  # aiosmtpd requiring STARTTLS, AUTH (over TLS only) for USER/PASSWORD;
  # a missing python3 or aiosmtpd fails the test.
  def start_aiosmtpd
    @dir = Dir.mktmpdir
    @port = free_port
    @out, writer = IO.pipe
    @pid = Process.spawn('python3', env('LIBSMTP_TEST_AIOSMTPD'), '--port', @port.to_s, '--outdir', @dir,
                         '--tls', 'starttls', '--require-starttls',
                         '--cert', env('LIBSMTP_TEST_CERT'), '--key', env('LIBSMTP_TEST_KEY'),
                         '--auth-user', USER, '--auth-password', PASSWORD,
                         out: writer, err: File.join(@dir, 'stderr.log'))
    writer.close
    # The script prints "ready" once it accepts connections.
    line = @out.gets
    return if line&.strip == 'ready'

    flunk "aiosmtpd_server.py did not start (pip install aiosmtpd):\n#{File.read(File.join(@dir, 'stderr.log'))}"
  end

  def teardown
    if @pid
      Process.kill('KILL', @pid)
      Process.wait(@pid)
    end
    @out&.close
    FileUtils.remove_entry(@dir) if @dir
  end

  def messages(count)
    500.times do
      files = Dir[File.join(@dir, '*.json')].sort
      return files.map { |f| JSON.parse(File.read(f)) } if files.size >= count

      sleep 0.02
    end
    flunk "expected #{count} messages"
  end

  def open_tls(&block)
    LibSMTP::SMTP.open('127.0.0.1', @port, local_hostname: 'client.example', timeout: 10,
                                           ca_file: env('LIBSMTP_TEST_CA')) do |smtp|
      smtp.starttls
      block.call(smtp)
    end
  end

  def test_starttls_login_and_sendmail_deliver_through_aiosmtpd
    start_aiosmtpd
    msg = "Subject: from Ruby\r\n\r\nover TLS, after AUTH\r\n"
    refused = open_tls do |smtp|
      smtp.login(USER, PASSWORD)
      smtp.sendmail('alice@example.org', ['bob@example.net'], msg)
    end
    assert_equal({}, refused)
    got = messages(1)
    assert_equal 1, got.size
    assert_equal 'alice@example.org', got[0]['mail_from']
    assert_equal ['bob@example.net'], got[0]['rcpt_tos']
    assert_equal msg, got[0]['content'].unpack1('m0')
  end

  # smtplib: SMTPAuthenticationError, with the server's 535.
  def test_wrong_password_raises_authentication_error_with_535
    start_aiosmtpd
    open_tls do |smtp|
      err = assert_raises(LibSMTP::SMTPAuthenticationError) { smtp.login(USER, 'not-the-password') }
      assert_equal 535, err.smtp_code
      assert_kind_of LibSMTP::SMTPResponseException, err
      assert_equal 250, smtp.noop.first
    end
    assert_empty messages(0)
  end
end
