# frozen_string_literal: true

# LibSMTP::SMTP#send_batch: several messages over one session, and what a
# session that ends mid-batch leaves unsent.
require_relative 'test_helper'

class BatchTest < Minitest::Test
  include ServerHelpers

  MESSAGES = %w[one two three].map do |subject|
    ["Subject: #{subject}\r\n\r\nbody\r\n", 'alice@example.org', 'bob@example.net']
  end.freeze

  # A server offering PIPELINING that accepts the first message and answers
  # the MAIL of the second with `limit`, then answers what the client had
  # already pipelined as a server without a transaction does, until QUIT
  # (or hangs up after `limit` when `hang_up`). Returns the port and a
  # queue that receives the command lines once the dialog is over.
  def start_limit_server(limit, hang_up: false)
    done = Queue.new
    port = serve do |conn|
      lines = []
      begin
        limit_dialog(conn, lines, limit, hang_up)
      ensure
        done << lines
      end
    end
    [port, done]
  end

  def limit_dialog(conn, lines, limit, hang_up)
    conn.write("220 limit ESMTP\r\n")
    mails = 0
    in_transaction = false
    while (line = read_command(conn))
      lines << line.chomp("\r\n")
      case line[/\A\S+/].to_s.upcase
      when 'EHLO' then conn.write("250-limit\r\n250 PIPELINING\r\n")
      when 'MAIL'
        mails += 1
        if mails > 1
          conn.write("#{limit}\r\n")
          return if hang_up

          next
        end
        in_transaction = true
        conn.write("250 2.1.0 ok\r\n")
      when 'RCPT'
        conn.write(in_transaction ? "250 2.1.5 ok\r\n" : "503 5.5.1 Error: need MAIL command\r\n")
      when 'DATA'
        unless in_transaction
          conn.write("503 5.5.1 Error: need RCPT command\r\n")
          next
        end
        conn.write("354 go on\r\n")
        nil while (body = read_command(conn)) && body != ".\r\n"
        in_transaction = false
        conn.write("250 2.0.0 queued\r\n")
      when 'QUIT'
        conn.write("221 2.0.0 bye\r\n")
        return
      else conn.write("250 ok\r\n")
      end
    end
  end

  # OpenSMTPD limits the messages of a session with "452 4.5.3 Too many
  # recipients: Too many messages sent" to MAIL: the first message is
  # accepted, the other two were never sent (SMTPNotAttempted, an
  # SMTPServerDisconnected: the connection is closed after QUIT), and
  # `attempted` says where to start again on a new session.
  def test_a_session_limit_leaves_the_rest_of_the_batch_not_attempted
    port, done = start_limit_server('452 4.5.3 Too many messages sent')
    LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      result = smtp.send_batch(MESSAGES)
      assert_equal 1, result.attempted
      assert_nil result.errors[0]
      assert_equal [0], result.accepted
      assert_equal [1, 2], result.not_attempted
      refute result.success?
      result.errors[1..].each do |e|
        assert_kind_of LibSMTP::SMTPNotAttempted, e
        assert_kind_of LibSMTP::SMTPServerDisconnected, e
      end
      # The first failure carries the reply that ended the session.
      assert_includes result.errors[1].message, 'Too many messages sent'
      assert_equal MESSAGES[1..], MESSAGES[result.attempted..]
    end
    lines = done.pop
    assert_equal 2, lines.count { |l| l.start_with?('MAIL FROM:') }, lines.inspect
    assert_equal 'QUIT', lines.last
  end

  # RFC 5321 4.2.2: 421 "Service not available, closing transmission
  # channel" mid-batch leaves the rest unsent too.
  def test_a_421_mid_batch_leaves_the_rest_not_attempted
    port, done = start_limit_server('421 4.3.2 Shutting down', hang_up: true)
    LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      result = smtp.send_batch(MESSAGES)
      assert_equal 1, result.attempted
      assert_equal [nil, LibSMTP::SMTPNotAttempted, LibSMTP::SMTPNotAttempted], result.map { |e| e&.class }
    end
    assert_equal 2, done.pop.count { |l| l.start_with?('MAIL FROM:') }
  end

  def test_every_message_accepted_is_attempted
    port = start_sink
    result = LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      smtp.send_batch(MESSAGES.first(2).map { |msg, from, to| { message: msg, from: from, to: [to] } })
    end
    assert result.success?
    assert_equal 2, result.attempted
    assert_equal [], result.not_attempted
    assert_equal 2, dumps(2).size
  end

  def test_a_message_without_recipients_is_an_argument_error_before_anything_is_sent
    port = start_sink
    LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      assert_raises(ArgumentError) { smtp.send_batch([['x', 'alice@example.org', []]]) }
      assert_equal 250, smtp.noop.first
    end
  end

  # The C status 25 ("NotAttempted") is an SMTPNotAttempted; a status this
  # binding does not know (a newer libsmtp's) is still an SMTPException.
  def test_statuses_map_to_classes_and_an_unknown_one_to_the_base_class
    assert_equal 'NotAttempted', LibSMTP::C.smtp_error_name(25)
    assert_equal LibSMTP::SMTPNotAttempted, LibSMTP::SMTP_CLASSES[25]
    assert_operator LibSMTP::SMTPNotAttempted, :<, LibSMTP::SMTPServerDisconnected
    e = LibSMTP.status_exception(99, 'from the future')
    assert_instance_of LibSMTP::SMTPException, e
    assert_equal 'from the future', e.message
  end
end
