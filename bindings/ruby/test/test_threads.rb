# frozen_string_literal: true

# LibSMTP::SMTP among Ruby threads and the garbage collector: a call that
# waits on the network releases the VM lock, deadlines are Timeout::Errors,
# and a session nobody finished is closed when collected.
require_relative 'test_helper'

class ThreadsTest < Minitest::Test
  include ServerHelpers

  # A dialog server accepting one message per connection; once the end of
  # data arrives it pushes :stalled to `stalled` and waits for `go` before
  # answering.
  def stalling_server(stalled, go)
    serve do |c|
      c.write "220 stall.example ESMTP\r\n"
      while (line = read_command(c))
        case line
        when /\AEHLO/i then c.write "250 stall.example\r\n"
        when /\ADATA/i
          c.write "354 go ahead\r\n"
          nil until read_command(c) == ".\r\n"
          stalled << :stalled
          go.pop
          c.write "250 queued\r\n"
        when /\AQUIT/i
          c.write "221 bye\r\n"
          break
        else c.write "250 ok\r\n"
        end
      end
    end
  end

  # The reply to the end of data comes only after two other Ruby threads
  # ran while send_message waited inside libsmtp: the server thread (which
  # read the whole message) and a ticker. Were the VM lock held during the
  # call, neither could run and the send would time out.
  def test_other_threads_run_while_send_message_waits_for_the_server
    stalled = Queue.new
    go = Queue.new
    port = stalling_server(stalled, go)
    ticks = 0
    ticker = Thread.new do
      stalled.pop
      20.times do
        ticks += 1
        sleep 0.01
      end
      go << :go
    end
    res = LibSMTP::SMTP.start('127.0.0.1', port, read_timeout: 10) do |smtp|
      smtp.send_message("Subject: x\r\n\r\ny\r\n", 'alice@example.org', 'bob@example.net')
    end
    ticker.join
    assert_equal 250, res.code
    assert_equal 20, ticks
  end

  # A server that accepts and never greets: the main thread keeps counting
  # while another waits in libsmtp, which gives up after open_timeout with
  # a Timeout::Error (Net::SMTP raises Net::OpenTimeout).
  def test_a_silent_server_times_out_with_open_timeout_while_other_threads_run
    port = serve { |c| c.read }
    waiter = Thread.new do
      LibSMTP::SMTP.start('127.0.0.1', port, open_timeout: 1) { flunk 'greeted' }
    rescue Exception => e # rubocop:disable Lint/RescueException
      e
    end
    ticks = 0
    while waiter.alive?
      ticks += 1
      sleep 0.01
    end
    err = waiter.value
    assert_kind_of LibSMTP::OpenTimeout, err
    assert_kind_of Timeout::Error, err
    assert_kind_of LibSMTP::OSError, err
    assert_operator ticks, :>=, 10, 'the main thread stopped while the other waited'
  end

  def test_a_reply_that_never_comes_is_a_read_timeout
    port = serve do |c|
      c.write "220 hi\r\n"
      c.read
    end
    err = assert_raises(Timeout::Error) { LibSMTP::SMTP.start('127.0.0.1', port, read_timeout: 1) { flunk } }
    assert_kind_of LibSMTP::ReadTimeout, err
    assert_equal Errno::ETIMEDOUT::Errno, err.errno
  end

  # open_message_stream sends while the block is still writing: the
  # server holds the first 256 KiB before the block ends (the body is never
  # gathered whole).
  def test_open_message_stream_sends_before_the_block_ends
    received = Queue.new
    port = serve do |c|
      c.write "220 hi\r\n"
      while (line = read_command(c))
        case line
        when /\ADATA/i
          c.write "354 go ahead\r\n"
          bytes = 0
          signalled = false
          while (l = read_command(c)) != ".\r\n"
            bytes += l.bytesize
            if bytes >= 256 * 1024 && !signalled
              received << bytes
              signalled = true
            end
          end
          c.write "250 queued\r\n"
        when /\AQUIT/i
          c.write "221 bye\r\n"
          break
        else c.write "250 ok\r\n"
        end
      end
    end
    line = "#{'y' * 1022}\r\n"
    seen_during_block = nil
    res = LibSMTP::SMTP.start('127.0.0.1', port) do |smtp|
      smtp.open_message_stream('alice@example.org', 'bob@example.net') do |f|
        f.puts 'Subject: streamed'
        f.puts
        512.times { f.write(line) }
        seen_during_block = Timeout.timeout(10) { received.pop }
        512.times { f.write(line) }
      end
    end
    assert_equal 250, res.code
    assert_operator seen_during_block, :>=, 256 * 1024
  end

  # A session started and dropped without finish is closed and freed when
  # the garbage collector takes it: the server sees each connection end.
  def test_sessions_dropped_without_finish_are_closed_by_the_garbage_collector
    closed = Queue.new
    port = serve do |c|
      c.write "220 hi\r\n"
      while (line = read_command(c))
        c.write(line =~ /\AQUIT/i ? "221 bye\r\n" : "250 ok\r\n")
      end
      closed << :eof
    end
    count = 20
    # Made on another thread, so that no stale reference to them stays on
    # this thread's stack.
    Thread.new { count.times { LibSMTP::SMTP.new('127.0.0.1', port).start } }.join
    500.times do
      break if closed.size == count

      GC.start
      sleep 0.02
    end
    assert_equal count, closed.size
  end
end
