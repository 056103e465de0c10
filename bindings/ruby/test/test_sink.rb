# frozen_string_literal: true

# LibSMTP::SMTP, shaped like Net::SMTP, against Postfix smtp-sink.
require_relative 'test_helper'
require 'stringio'

class SinkTest < Minitest::Test
  include ServerHelpers

  MSG = "From: alice@example.org\r\nSubject: from Ruby\r\n\r\nHello.\r\n.dot\r\n"

  def test_start_block_sends_the_message_with_helo_envelope_and_body
    port = start_sink
    res = LibSMTP::SMTP.start('127.0.0.1', port, helo: 'client.example') do |smtp|
      smtp.send_message(MSG, 'alice@example.org', 'bob@example.net')
    end
    assert res.success?
    assert_equal({}, res.refused)
    dump = dumps(1).first
    assert_includes dump, 'X-Helo-Args: client.example'
    assert_includes dump, 'X-Mail-Args: <alice@example.org>'
    assert_includes dump, 'X-Rcpt-Args: <bob@example.net>'
    assert_includes dump, "Subject: from Ruby\n\nHello.\n.dot\n"
  end

  # net-smtp: "+to_addr+ is a String or ... Array of them".
  def test_recipients_may_be_several_arguments_or_an_array_and_the_aliases_send_the_same
    port = start_sink
    LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      smtp.send_message(MSG, 'alice@example.org', 'bob@example.net', 'carol@example.net')
      smtp.send_mail(MSG, 'alice@example.org', ['dave@example.net'])
      smtp.sendmail(MSG, 'alice@example.org', ['erin@example.net', 'frank@example.net'])
    end
    rcpts = dumps(3).map { |d| d.scan(/^X-Rcpt-Args: <(.*)>$/).flatten }
    assert_equal [%w[bob@example.net carol@example.net], %w[dave@example.net],
                  %w[erin@example.net frank@example.net]], rcpts.sort
  end

  def test_no_recipient_is_an_argument_error_before_anything_is_sent
    port = start_sink
    LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      assert_raises(ArgumentError) { smtp.send_message(MSG, 'alice@example.org') }
      assert_equal 250, smtp.noop.first
    end
  end

  def test_new_then_start_without_a_block_returns_the_started_session_until_finish
    port = start_sink
    smtp = LibSMTP::SMTP.new('127.0.0.1', port)
    refute smtp.started?
    assert_same smtp, smtp.start(helo: 'client.example')
    assert smtp.started?
    smtp.send_message(MSG, 'alice@example.org', 'bob@example.net')
    smtp.finish
    refute smtp.started?
    # net-smtp: "Raises IOError if not started."
    assert_raises(IOError) { smtp.finish }
    assert_equal 1, dumps(1).size
  end

  def test_open_message_stream_sends_what_the_block_writes
    port = start_sink
    LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      smtp.open_message_stream('alice@example.org', ['bob@example.net']) do |f|
        f.puts 'Subject: streamed'
        f.puts
        f.print 'a', 'b'
        f.printf("%<n>03d\n", n: 7)
        f.write("line\n", ".dot\r\n")
        f << 'last' << "\n"
      end
    end
    assert_includes dumps(1).first, "Subject: streamed\n\nab007\nline\n.dot\nlast\n"
  end

  def test_a_large_streamed_message_arrives_whole
    port = start_sink
    line = "#{'x' * 99}\n"
    LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      smtp.open_message_stream('alice@example.org', 'bob@example.net') do |f|
        f.puts 'Subject: big'
        f.puts
        50_000.times { f.write(line) }
      end
    end
    # smtp-sink stores the message, CRLF as LF, and one more LF.
    body = dumps(1).first.split("\n\n", 2).last
    assert_equal "#{line * 50_000}\n", body
  end

  # A message cut short must not be delivered: the connection is dropped.
  def test_an_exception_in_the_stream_block_drops_the_message_and_propagates
    port = start_sink
    LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      err = assert_raises(RuntimeError) do
        smtp.open_message_stream('alice@example.org', 'bob@example.net') do |f|
          f.puts 'Subject: never'
          f.puts
          raise 'boom'
        end
      end
      assert_equal 'boom', err.message
    end
    LibSMTP::SMTP.start('127.0.0.1', port) { |smtp| smtp.send_message(MSG, 'alice@example.org', 'bob@example.net') }
    got = dumps(1)
    assert_equal 1, got.size
    refute_includes got.first, 'Subject: never'
  end

  def test_mailfrom_rcptto_and_data_send_a_message_step_by_step
    port = start_sink
    LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      assert_equal '250', smtp.mailfrom('alice@example.org').status
      assert smtp.rcptto('bob@example.net').success?
      assert smtp.data("Subject: one\r\n\r\nstep\r\n").success?
      smtp.mailfrom('alice@example.org')
      smtp.rcptto('carol@example.net')
      smtp.data do |f|
        f.puts 'Subject: two'
        f.puts
        f.puts 'block'
      end
    end
    bodies = dumps(2).join
    assert_includes bodies, "Subject: one\n\nstep\n"
    assert_includes bodies, "Subject: two\n\nblock\n"
  end

  def test_capabilities_come_from_the_ehlo_reply
    port = start_sink
    LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      assert smtp.esmtp?
      assert smtp.capable?('PIPELINING')
      assert smtp.capable?('pipelining')
      assert_equal [], smtp.capabilities['8BITMIME']
      refute smtp.capable?('X-NOT-OFFERED')
      refute smtp.capable_starttls?
      # smtp-sink offers "AUTH PLAIN LOGIN".
      assert_equal %w[PLAIN LOGIN], smtp.capable_auth_types
      assert smtp.capable_plain_auth?
      refute smtp.capable_cram_md5_auth?
    end
    # net-smtp: "You cannot get valid value before opening SMTP session."
    assert_nil LibSMTP::SMTP.new('127.0.0.1', port).capable?('PIPELINING')
  end

  # STARTTLS asked for and not offered is an error, never plaintext.
  def test_starttls_always_without_the_extension_raises_and_does_not_start
    port = start_sink
    smtp = LibSMTP::SMTP.new('127.0.0.1', port, starttls: :always)
    assert_raises(LibSMTP::SMTPNotSupportedError) { smtp.start { flunk 'started without TLS' } }
    refute smtp.started?
  end

  def test_debug_output_receives_the_transcript
    port = start_sink
    log = StringIO.new
    smtp = LibSMTP::SMTP.new('127.0.0.1', port)
    smtp.debug_output = log
    smtp.start { |s| s.send_message(MSG, 'alice@example.org', 'bob@example.net') }
    assert_match(/MAIL FROM:<alice@example.org>/, log.string)
    assert_match(/250/, log.string)
  end

  # smtplib putcmd() and getreply(): a command, then its reply, apart.
  def test_putcmd_then_getreply_reads_the_reply
    port = start_sink
    LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      assert_nil smtp.putcmd('NOOP')
      code, = smtp.getreply
      assert_equal 250, code
      smtp.putcmd('HELP', 'me')
      code, = smtp.getreply
      assert_equal 5, code / 100
      assert_raises(ArgumentError) { smtp.putcmd("NOOP\r\nRSET") }
      assert_equal [250], smtp.docmd('NOOP').take(1)
    end
  end

  def test_source_address_is_nil_until_set_and_then_the_address_bound
    port = start_sink
    LibSMTP::SMTP.start('127.0.0.1', port) { |smtp| assert_nil smtp.source_address }
    LibSMTP::SMTP.start('127.0.0.1', port, source_address: '127.0.0.1') do |smtp|
      assert_equal ['127.0.0.1', 0], smtp.source_address
      assert_equal 250, smtp.noop.first
    end
  end

  # A refused connection is a SystemCallError as Ruby's own sockets raise:
  # `rescue Errno::ECONNREFUSED` catches it; in smtplib's tree it is an
  # OSError, not an SMTPException.
  def test_a_refused_connection_is_caught_by_rescue_errno_econnrefused
    port = free_port
    caught = begin
      LibSMTP::SMTP.start('127.0.0.1', port) { flunk 'connected' }
    rescue Errno::ECONNREFUSED => e
      e
    end
    assert_kind_of SystemCallError, caught
    assert_equal Errno::ECONNREFUSED::Errno, caught.errno
    assert_kind_of LibSMTP::OSError, caught
    assert_kind_of LibSMTP::ConnectionError, caught
    refute_kind_of LibSMTP::SMTPException, caught
  end

  # smtplib: SMTPRecipientsRefused "All recipient addresses refused. The
  # errors for each recipient are accessible through the attribute
  # 'recipients', which is a dictionary".
  def test_all_recipients_refused_raises_recipients_refused_with_each_one
    port = start_sink('-r', 'RCPT')
    err = assert_raises(LibSMTP::SMTPRecipientsRefused) do
      LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
        smtp.send_message("x\r\n", 'alice@example.org', 'bob@example.net', 'carol@example.net')
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
    port = start_sink('-f', 'MAIL')
    LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      err = assert_raises(LibSMTP::SMTPSenderRefused) { smtp.send_message("x\r\n", 'alice@example.org', 'bob@example.net') }
      assert_equal 'alice@example.org', err.sender
      assert_equal 5, err.smtp_code / 100
      refute_empty err.smtp_error
      assert_kind_of LibSMTP::SMTPResponseException, err
      err = assert_raises(LibSMTP::SMTPSenderRefused) { smtp.mailfrom('alice@example.org') }
      assert_equal 5, err.smtp_code / 100
    end
  end

  def test_line_break_or_nul_in_an_address_raises_argument_error_and_the_session_goes_on
    port = start_sink
    LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      assert_raises(ArgumentError) { smtp.send_message("x\r\n", "alice@example.org\r\nRSET", 'bob@example.net') }
      assert_raises(ArgumentError) { smtp.send_message("x\r\n", "alice@example.org\0", 'bob@example.net') }
      assert_equal 250, smtp.noop.first
    end
  end

  def test_the_block_form_finishes_the_session_even_when_the_block_raises
    port = start_sink
    kept = nil
    assert_raises(RuntimeError) do
      LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
        kept = smtp
        raise 'boom'
      end
    end
    refute kept.started?
    assert kept.closed?
    assert_raises(LibSMTP::SMTPServerDisconnected) { kept.noop }
  end

  # smtplib's constructor, kept: connect and greeting only.
  def test_smtp_open_connects_without_ehlo_and_close_twice_is_harmless
    port = start_sink
    smtp = LibSMTP::SMTP.open('127.0.0.1', port, local_hostname: 'client.example', timeout: 10)
    assert_nil smtp.esmtp? ? :ehlo_sent : nil
    assert_equal 250, smtp.noop.first
    smtp.quit
    smtp.close
    smtp.close
    assert smtp.closed?
  end

  # smtplib LMTP: LHLO, and one reply per accepted recipient.
  def test_lmtp_true_speaks_lmtp
    port = start_sink('-L')
    LibSMTP::SMTP.start('127.0.0.1', port, lmtp: true, helo: 'client.example') do |smtp|
      assert smtp.lmtp?
      res = smtp.send_message(MSG, 'alice@example.org', 'bob@example.net', 'carol@example.net')
      assert_equal({}, res.refused)
    end
    dump = dumps(1).first
    assert_includes dump, 'X-Helo-Args: client.example'
    assert_equal 2, dump.scan('X-Rcpt-Args:').size
  end

  def test_version_is_the_librarys
    assert_match(/\A\d+\.\d+\.\d+\z/, LibSMTP.version)
  end
end
