# frozen_string_literal: true

# LibSMTP against Postfix smtp-sink, started on a free loopback port.
require 'minitest/autorun'
require 'socket'
require 'tmpdir'
require 'libsmtp'

SMTP_SINK = '/usr/sbin/smtp-sink'

class SinkTest < Minitest::Test
  def free_port
    server = TCPServer.new('127.0.0.1', 0)
    server.addr[1]
  ensure
    server&.close
  end

  # Starts smtp-sink with extra flags; a missing smtp-sink fails the test.
  def start_sink(*extra)
    assert File.exist?(SMTP_SINK), "#{SMTP_SINK} not found: install Debian's postfix package"
    @dir = Dir.mktmpdir
    @port = free_port
    @pid = Process.spawn(SMTP_SINK, '-u', 'root', '-d', File.join(@dir, '%Y%m%d%H%M%S.'), *extra,
                         "127.0.0.1:#{@port}", '64', %i[out err] => File::NULL)
    500.times do
      TCPSocket.new('127.0.0.1', @port).close
      return
    rescue Errno::ECONNREFUSED
      sleep 0.02
    end
    flunk "smtp-sink did not listen on port #{@port}"
  end

  def teardown
    if @pid
      Process.kill('KILL', @pid)
      Process.wait(@pid)
    end
    FileUtils.remove_entry(@dir) if @dir
  end

  def dumps(count)
    500.times do
      files = Dir[File.join(@dir, '*')].sort
      return files.map { |f| File.binread(f) } if files.size >= count

      sleep 0.02
    end
    flunk "expected #{count} dumped messages"
  end

  def test_sendmail_delivers_the_message_and_returns_no_refusals
    start_sink
    refused = LibSMTP::SMTP.open('127.0.0.1', @port, local_hostname: 'client.example', timeout: 10) do |smtp|
      smtp.sendmail('alice@example.org', ['bob@example.net'], "Subject: from Ruby\r\n\r\nHello.\r\n.dot\r\n")
    end
    assert_equal({}, refused)
    dump = dumps(1).first
    assert_includes dump, 'X-Helo-Args: client.example'
    assert_includes dump, 'X-Mail-Args: <alice@example.org>'
    assert_includes dump, 'X-Rcpt-Args: <bob@example.net>'
    assert_includes dump, "Subject: from Ruby\n\nHello.\n.dot\n"
  end

  def test_noop_returns_code_and_text
    start_sink
    code, = LibSMTP::SMTP.open('127.0.0.1', @port, &:noop)
    assert_equal 250, code
  end

  # smtplib: SMTPRecipientsRefused "All recipient addresses refused. The
  # errors for each recipient are accessible through the attribute
  # 'recipients', which is a dictionary".
  def test_all_recipients_refused_raises_recipients_refused_with_each_one
    start_sink('-r', 'RCPT')
    err = assert_raises(LibSMTP::SMTPRecipientsRefused) do
      LibSMTP::SMTP.open('127.0.0.1', @port) do |smtp|
        smtp.sendmail('alice@example.org', ['bob@example.net', 'carol@example.net'], "x\r\n")
      end
    end
    assert_equal ['bob@example.net', 'carol@example.net'], err.recipients.keys
    code, text = err.recipients['bob@example.net']
    assert_equal 4, code / 100
    refute_empty text
    assert_kind_of LibSMTP::SMTPException, err
    refute_kind_of LibSMTP::SMTPResponseException, err
  end

  def test_refused_sender_raises_sender_refused_with_code_text_and_sender
    start_sink('-f', 'MAIL')
    err = assert_raises(LibSMTP::SMTPSenderRefused) do
      LibSMTP::SMTP.open('127.0.0.1', @port) { |smtp| smtp.sendmail('alice@example.org', 'bob@example.net', "x\r\n") }
    end
    assert_equal 'alice@example.org', err.sender
    assert_equal 5, err.smtp_code / 100
    refute_empty err.smtp_error
    assert_kind_of LibSMTP::SMTPResponseException, err
  end

  def test_nothing_listening_raises_os_error
    port = free_port
    err = assert_raises(LibSMTP::OSError) { LibSMTP::SMTP.open('127.0.0.1', port) { flunk 'connected' } }
    refute_equal 0, err.errno
    refute_kind_of LibSMTP::SMTPException, err
  end

  def test_line_break_in_an_address_raises_argument_error_and_the_session_goes_on
    start_sink
    LibSMTP::SMTP.open('127.0.0.1', @port) do |smtp|
      assert_raises(ArgumentError) { smtp.sendmail("alice@example.org\r\nRSET", ['bob@example.net'], "x\r\n") }
      assert_raises(ArgumentError) { smtp.sendmail("alice@example.org\0", ['bob@example.net'], "x\r\n") }
      assert_equal 250, smtp.noop.first
    end
  end

  def test_starttls_without_the_extension_raises_not_supported
    start_sink
    LibSMTP::SMTP.open('127.0.0.1', @port) do |smtp|
      assert_raises(LibSMTP::SMTPNotSupportedError) { smtp.starttls }
    end
  end

  def test_block_form_frees_the_session_even_when_the_block_raises
    start_sink
    kept = nil
    assert_raises(RuntimeError) do
      LibSMTP::SMTP.open('127.0.0.1', @port) do |smtp|
        kept = smtp
        raise 'boom'
      end
    end
    assert kept.closed?
    assert_raises(LibSMTP::SMTPServerDisconnected) { kept.noop }
  end

  def test_close_twice_is_harmless
    start_sink
    smtp = LibSMTP::SMTP.open('127.0.0.1', @port)
    smtp.quit
    smtp.close
    smtp.close
    assert smtp.closed?
  end

  def test_version_is_the_librarys
    assert_match(/\A\d+\.\d+\.\d+\z/, LibSMTP.version)
  end
end
