# frozen_string_literal: true

# Servers for the LibSMTP tests, each started on a free loopback port and
# stopped after its test: Postfix smtp-sink (with its dump option, to check
# what arrived), aiosmtpd (tests/servers/aiosmtpd_server.py, with STARTTLS
# and AUTH) and scripted dialogs written here. A missing server fails the
# test, naming its package. tests/callers.rs runs these tests with
# LIBSMTP_PATH naming the libsmtp.so it built and, for aiosmtpd, the script
# and certificates in LIBSMTP_TEST_AIOSMTPD, LIBSMTP_TEST_CA,
# LIBSMTP_TEST_CERT and LIBSMTP_TEST_KEY.
require 'minitest/autorun'
require 'fileutils'
require 'json'
require 'socket'
require 'tmpdir'
require 'libsmtp'

module ServerHelpers
  SMTP_SINK = '/usr/sbin/smtp-sink'

  def free_port
    server = TCPServer.new('127.0.0.1', 0)
    server.addr[1]
  ensure
    server&.close
  end

  def env(name)
    value = ENV.fetch(name, '')
    flunk "#{name} is not set: run these tests with `cargo test --test callers`, which sets it" if value.empty?
    value
  end

  def spawned(pid)
    (@pids ||= []) << pid
    pid
  end

  def temp_dir
    (@dirs ||= []) << Dir.mktmpdir
    @dirs.last
  end

  def teardown
    (@pids || []).each do |pid|
      Process.kill('KILL', pid)
      Process.wait(pid)
    end
    (@closers || []).each(&:call)
    (@dirs || []).each { |d| FileUtils.remove_entry(d) }
  end

  # Starts smtp-sink with extra flags; returns its port. Messages are
  # dumped into @sink_dir.
  def start_sink(*extra)
    assert File.exist?(SMTP_SINK), "#{SMTP_SINK} not found: install Debian's postfix package"
    @sink_dir = temp_dir
    port = free_port
    spawned Process.spawn(SMTP_SINK, '-u', 'root', '-d', File.join(@sink_dir, '%Y%m%d%H%M%S.'), *extra,
                          "127.0.0.1:#{port}", '64', %i[out err] => File::NULL)
    500.times do
      TCPSocket.new('127.0.0.1', port).close
      return port
    rescue Errno::ECONNREFUSED
      sleep 0.02
    end
    flunk "smtp-sink did not listen on port #{port}"
  end

  # The messages smtp-sink dumped, once there are `count`.
  def dumps(count)
    500.times do
      files = Dir[File.join(@sink_dir, '*')].sort
      return files.map { |f| File.binread(f) } if files.size >= count

      sleep 0.02
    end
    flunk "expected #{count} dumped messages"
  end

  # aiosmtpd with STARTTLS (required when `require_starttls`), AUTH for
  # `auth` = [user, password]; returns its port. Messages land in
  # @aio_dir as JSON.
  # `tls` 'implicit' speaks TLS from the first byte instead; `oauth` =
  # [user, token] accepts XOAUTH2 and OAUTHBEARER.
  def start_aiosmtpd(auth: nil, oauth: nil, require_starttls: true, tls: 'starttls')
    @aio_dir = temp_dir
    port = free_port
    out, writer = IO.pipe
    args = ['python3', env('LIBSMTP_TEST_AIOSMTPD'), '--port', port.to_s, '--outdir', @aio_dir,
            '--tls', tls, '--cert', env('LIBSMTP_TEST_CERT'), '--key', env('LIBSMTP_TEST_KEY')]
    args << '--require-starttls' if require_starttls && tls == 'starttls'
    args.push('--auth-user', auth[0], '--auth-password', auth[1]) if auth
    args.push('--oauth-user', oauth[0], '--oauth-token', oauth[1]) if oauth
    spawned Process.spawn(*args, out: writer, err: File.join(@aio_dir, 'stderr.log'))
    writer.close
    # The script prints "ready" once it accepts connections.
    line = out.gets
    out.close
    return port if line&.strip == 'ready'

    flunk "aiosmtpd_server.py did not start (pip install aiosmtpd):\n#{File.read(File.join(@aio_dir, 'stderr.log'))}"
  end

  # The messages aiosmtpd received, once there are `count`.
  def aio_messages(count)
    500.times do
      files = Dir[File.join(@aio_dir, '*.json')].sort
      return files.map { |f| JSON.parse(File.read(f)) } if files.size >= count

      sleep 0.02
    end
    flunk "expected #{count} messages"
  end

  # A loopback listener whose connections the block serves, each on its
  # own thread; returns the port. The listener and the threads are closed
  # after the test.
  def serve(&block)
    server = TCPServer.new('127.0.0.1', 0)
    threads = []
    acceptor = Thread.new do
      loop do
        conn = server.accept
        threads << Thread.new(conn) do |c|
          block.call(c)
        rescue IOError, SystemCallError
          nil
        ensure
          c.close unless c.closed?
        end
      end
    rescue IOError, SystemCallError
      nil
    end
    (@closers ||= []) << lambda {
      server.close
      acceptor.kill
      threads.each(&:kill)
    }
    server.addr[1]
  end

  # Reads one command line from a scripted dialog's client.
  def read_command(conn)
    conn.gets("\r\n")
  end
end
