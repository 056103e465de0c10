# frozen_string_literal: true

require_relative 'errors'
require_relative 'c'

module LibSMTP
  OK = 0

  # Status code => exception class for the SMTP ones (values fixed by the
  # C API); the others are built by LibSMTP.error. A status missing here
  # (one a newer libsmtp adds) is an SMTPException.
  SMTP_CLASSES = {
    1 => SMTPException, 2 => SMTPServerDisconnected, 3 => SMTPResponseException,
    4 => SMTPSenderRefused, 5 => SMTPRecipientsRefused, 6 => SMTPDataError,
    7 => SMTPConnectError, 8 => SMTPHeloError, 9 => SMTPNotSupportedError,
    10 => SMTPAuthenticationError, 25 => SMTPNotAttempted
  }.freeze

  # libsmtp's version (smtp_version()).
  def self.version
    C.smtp_version
  end

  # A Ruby string as a C string: a copy in UTF-8 bytes (libsmtp checks the
  # encoding, CR and LF); NUL, which C cannot carry, is refused here.
  def self.c_string(str, what)
    s = String.new(str.to_s, encoding: Encoding::BINARY)
    raise LibSMTP::ArgumentError, "#{what} contains NUL" if s.include?("\0")

    s
  end

  # An array of C strings, and the pointers that must live as long as it.
  def self.c_strings(list, what)
    strings = list.map { |s| FFI::MemoryPointer.from_string(c_string(s, what)) }
    array = FFI::MemoryPointer.new(:pointer, [strings.size, 1].max)
    array.put_array_of_pointer(0, strings) unless strings.empty?
    [array, strings]
  end

  # A NUL-terminated C string read as UTF-8, or nil for NULL.
  def self.read(ptr)
    ptr.null? ? nil : ptr.read_string.force_encoding(Encoding::UTF_8)
  end

  # The refused recipients kept in the handle: address => [code, text].
  def self.refused(handle)
    out = {}
    addr = FFI::MemoryPointer.new(:pointer)
    code = FFI::MemoryPointer.new(:int)
    text = FFI::MemoryPointer.new(:pointer)
    C.smtp_refused_count(handle).times do |i|
      next unless C.smtp_refused_get(handle, i, addr, code, text) == OK

      out[read(addr.read_pointer)] = [code.read_int, read(text.read_pointer)]
    end
    out
  end

  # The exception for the handle's last error; a timeout is a
  # `timeout_class` (OpenTimeout while connecting, else ReadTimeout).
  def self.error(handle, timeout_class = ReadTimeout)
    status = C.smtp_error_code(handle)
    message = C.smtp_error_message(handle)
    case status
    when 20 then ConnectionError.for(message, C.smtp_error_errno(handle))
    when 21 then timeout_class.new(message)
    when 22 then SSLError.new(message)
    when 23 then LibSMTP::ArgumentError.new(message)
    when 24 then InternalError.new(message)
    else smtp_exception(handle, SMTP_CLASSES.fetch(status, SMTPException), message)
    end
  end

  # The exception for a bare status, without a handle's details (reply,
  # sender, errno): what SMTP#send_batch gives each failed message but the
  # first. An unknown status is an SMTPException.
  def self.status_exception(status, message)
    case status
    when 20 then ConnectionError.for(message, nil)
    when 21 then ReadTimeout.new(message)
    when 22 then SSLError.new(message)
    when 23 then LibSMTP::ArgumentError.new(message)
    when 24 then InternalError.new(message)
    else
      klass = SMTP_CLASSES.fetch(status, SMTPException)
      if klass == SMTPSenderRefused
        klass.new(message, nil, nil, nil)
      elsif klass == SMTPRecipientsRefused
        klass.new(message, {})
      else
        klass.new(message)
      end
    end
  end

  def self.smtp_exception(handle, klass, message)
    code = C.smtp_error_reply_code(handle)
    text = C.smtp_error_reply_text(handle)
    if klass == SMTPSenderRefused
      klass.new(message, code, text, C.smtp_error_sender(handle))
    elsif klass == SMTPRecipientsRefused
      klass.new(message, refused(handle))
    elsif klass <= SMTPResponseException
      klass.new(message, code, text)
    else
      klass.new(message)
    end
  end
  private_class_method :smtp_exception

  # An SMTP (or LMTP) session, shaped like Net::SMTP:
  #
  #   LibSMTP::SMTP.start('mail.example.org', 587, user: 'me', secret: pw) do |smtp|
  #     smtp.send_message(msg, 'me@example.org', 'you@example.net')
  #   end
  #
  # Behind it is libsmtp, which follows Python's smtplib: TLS verified by
  # default, STARTTLS used whenever the server offers it (starttls: :auto)
  # and never silently dropped when asked for (:always), smtplib's
  # exceptions (LibSMTP::SMTPException and its subclasses).
  #
  # A session is used by one thread at a time (calls from several threads
  # are serialised); while one waits on the network, other Ruby threads run.
  # A session that is never finished is closed and freed when garbage
  # collected.
  class SMTP
    # The default SMTP port number, 25.
    def self.default_port
      25
    end

    # The default mail submission port number, 587.
    def self.default_submission_port
      587
    end

    # The default SMTPS port number, 465.
    def self.default_tls_port
      465
    end

    class << self
      alias default_ssl_port default_tls_port
    end

    # Reply of a command: `status` ("250"), `string` (the reply's lines as
    # received, each ending in "\n"), and for a message sent, `refused`
    # (address => [code, text] for each refused recipient).
    class Response
      attr_reader :code, :text, :refused

      def initialize(code, text, refused = {})
        @code = code
        @text = text.to_s
        @refused = refused
      end

      def status
        @code.to_s
      end

      def string
        lines = @text.empty? ? [''] : @text.split("\n")
        lines.each_with_index.map do |line, i|
          sep = i == lines.size - 1 ? ' ' : '-'
          line.empty? ? "#{status}#{sep.strip}\n" : "#{status}#{sep}#{line}\n"
        end.join
      end
      alias to_s string

      # The first line of the reply.
      def message
        string.lines.first
      end

      def success?
        (200..299).cover?(@code)
      end

      def continue?
        (300..399).cover?(@code)
      end
    end

    # What #send_batch returns: `errors`, one a message — nil when it was
    # accepted (for at least one recipient), otherwise its exception (not
    # raised); the first failure carries the server's reply, the others
    # their class only — and `attempted`, how many messages, from the
    # first, the server judged. Those from `attempted` on were never sent
    # (SMTPNotAttempted) and the connection is closed: send them again on a
    # new session.
    class BatchResult
      include Enumerable
      attr_reader :errors, :attempted

      def initialize(errors, attempted)
        @errors = errors.freeze
        @attempted = attempted
      end

      # true when every message was accepted.
      def success?
        @errors.none?
      end

      # The indexes of the accepted messages.
      def accepted
        @errors.each_index.select { |i| @errors[i].nil? }
      end

      # The indexes of the messages never sent (SMTPNotAttempted), to send
      # again on a new session.
      def not_attempted
        @errors.each_index.select { |i| @errors[i].is_a?(SMTPNotAttempted) }
      end

      # Yields each message's error (nil when accepted).
      def each(&block)
        @errors.each(&block)
      end

      def size
        @errors.size
      end
    end

    # The stream that open_message_stream yields: what is written is sent
    # as it accumulates (in chunks of CHUNK bytes), never held whole.
    # Line endings become CRLF and leading dots are doubled on the way.
    class MessageStream
      CHUNK = 64 * 1024

      def initialize(smtp)
        @smtp = smtp
        @buf = String.new(capacity: CHUNK, encoding: Encoding::BINARY)
        @mem = FFI::MemoryPointer.new(:uint8, CHUNK)
        @written = 0
      end

      # Writes each string and CRLF (IO#puts without a newline of its own).
      def puts(*strs)
        strs = [''] if strs.empty?
        strs.flatten.each do |s|
          s = s.to_s
          write(s)
          write("\r\n") unless s.end_with?("\n")
        end
        nil
      end

      def print(*strs)
        write(*strs)
        nil
      end

      def printf(format, *args)
        write(format % args)
        nil
      end

      # Writes the strings; returns the number of bytes written.
      def write(*strs)
        strs.sum do |s|
          bytes = s.to_s.b
          @buf << bytes
          flush_full
          bytes.bytesize
        end
      end

      def <<(str)
        write(str)
        self
      end

      # Sends what is buffered.
      def flush
        send_bytes(@buf)
        @buf.clear
        self
      end

      private

      def flush_full
        return if @buf.bytesize < CHUNK

        offset = 0
        while @buf.bytesize - offset >= CHUNK
          send_bytes(@buf.byteslice(offset, CHUNK))
          offset += CHUNK
        end
        @buf = @buf.byteslice(offset, @buf.bytesize - offset)
      end

      def send_bytes(bytes)
        return if bytes.empty?

        @mem.put_bytes(0, bytes)
        @smtp.__send__(:call, :smtp_send_write, @mem, bytes.bytesize)
        @written += bytes.bytesize
      end
    end

    # Keyword arguments of ssl_context_params that libsmtp can honour.
    SSL_PARAMS = %i[ca_file ca_path verify_mode min_version verify_hostname].freeze
    TLS_VERSIONS = {
      OpenSSL::SSL::TLS1_VERSION => 10, OpenSSL::SSL::TLS1_1_VERSION => 11,
      OpenSSL::SSL::TLS1_2_VERSION => 12, OpenSSL::SSL::TLS1_3_VERSION => 13,
      TLS1: 10, TLS1_1: 11, TLS1_2: 12, TLS1_3: 13
    }.freeze
    AUTH_TYPES = {
      'plain' => 'PLAIN', 'login' => 'LOGIN', 'cram_md5' => 'CRAM-MD5',
      'xoauth2' => 'XOAUTH2', 'oauthbearer' => 'OAUTHBEARER'
    }.freeze

    attr_reader :address, :port, :read_timeout, :debug_output
    # Seconds to wait for the connection and the greeting (default 30):
    # LibSMTP::OpenTimeout after that.
    attr_accessor :open_timeout
    attr_accessor :tls_verify, :tls_hostname

    # Creates a session object; #start connects. Arguments as Net::SMTP.new
    # (+tls+: implicit TLS, port 465 by default; +starttls+: :auto, :always
    # or false; +tls_verify+, +tls_hostname+; +ssl_context_params+: the
    # keys ca_file, ca_path, verify_mode, min_version, verify_hostname —
    # any other is an ArgumentError, since libsmtp could not honour it),
    # plus +ca_file+/+ca_path+ (trust anchors in addition to the system's),
    # +lmtp+ (speak LMTP; an address starting with "/" is a Unix socket),
    # +source_address+ ("host" or [host, port] to bind to) and
    # +allow_cleartext_auth+ (let PLAIN/LOGIN send the password over a
    # connection that is neither TLS nor local; off by default).
    def initialize(address, port = nil, tls: false, starttls: :auto, tls_verify: true, tls_hostname: nil,
                   ssl_context_params: nil, ca_file: nil, ca_path: nil, lmtp: false, source_address: nil,
                   allow_cleartext_auth: false)
      raise ::ArgumentError, 'SMTPS and STARTTLS is exclusive' if tls && starttls == :always
      raise ::ArgumentError, 'starttls must be :auto, :always or false' unless [:auto, :always, false, nil].include?(starttls)

      @address = address
      @port = port
      @tls = tls ? true : false
      @starttls = tls ? false : (starttls || false)
      @tls_verify = tls_verify
      @tls_hostname = tls_hostname
      @ca_file = ca_file
      @ca_path = ca_path
      @min_tls = nil
      @lmtp = lmtp
      @source_address = source_address
      @allow_cleartext_auth = allow_cleartext_auth
      @open_timeout = 30
      @read_timeout = 60
      @debug_output = nil
      @started = false
      @handle = nil
      @lock = Mutex.new
      ssl_params(ssl_context_params) if ssl_context_params
    end

    def inspect
      "#<#{self.class} #{@address}:#{@port} started=#{@started}>"
    end

    # Creates a session and starts it (Net::SMTP.start): with a block, yields
    # it and finishes it (QUIT, close, free) whatever the block does,
    # returning the block's value; without, returns the started session.
    # +helo+ is the name given in EHLO/HELO ('localhost' by default, as
    # Net::SMTP); +user+ with +secret+ (or +password+) logs in, by
    # +authtype+ (:plain, :login, :cram_md5, :xoauth2, :oauthbearer — the
    # secret is then the token) or, when nil, the strongest mechanism both
    # sides offer; +open_timeout+ and +read_timeout+ in seconds. The other
    # keywords are those of SMTP.new.
    def self.start(address, port = nil, *args, helo: nil, user: nil, secret: nil, password: nil, authtype: nil,
                   open_timeout: nil, read_timeout: nil, **opts, &block)
      raise ::ArgumentError, "wrong number of arguments (given #{args.size + 2}, expected 1..6)" if args.size > 4

      smtp = new(address, port, **opts)
      smtp.open_timeout = open_timeout if open_timeout
      smtp.read_timeout = read_timeout if read_timeout
      smtp.start(*args, helo: helo, user: user, secret: secret, password: password, authtype: authtype, &block)
    end

    # smtplib's constructor: connects and reads the greeting, nothing more
    # (no EHLO, no STARTTLS until asked). +local_hostname+, +timeout+
    # (seconds, for every operation), +ca_file+, +verify+. With a block, as
    # SMTP.start.
    def self.open(host, port = 25, local_hostname: nil, timeout: nil, ca_file: nil, verify: true)
      smtp = new(host, port, starttls: false, tls_verify: verify, ca_file: ca_file)
      if timeout
        smtp.open_timeout = timeout
        smtp.read_timeout = timeout
      end
      smtp.__send__(:do_connect, local_hostname)
      return smtp unless block_given?

      begin
        yield smtp
      ensure
        smtp.__send__(:do_finish)
      end
    end

    # Connects, reads the greeting, says EHLO (HELO if refused), upgrades
    # with STARTTLS as +starttls+ says and logs in when +user+ is given
    # (Net::SMTP#start; arguments as SMTP.start). IOError if started.
    def start(*args, helo: nil, user: nil, secret: nil, password: nil, authtype: nil)
      raise ::ArgumentError, "wrong number of arguments (given #{args.size}, expected 0..4)" if args.size > 4

      helo ||= args[0] || 'localhost'
      user ||= args[1]
      secret ||= password || args[2]
      authtype ||= args[3]
      if user || secret
        check_auth_type(authtype)
        raise ::ArgumentError, 'SMTP-AUTH requested but missing user name' unless user
        raise ::ArgumentError, 'SMTP-AUTH requested but missing secret phrase' unless secret
      end
      do_start(helo, user, secret, authtype)
      return self unless block_given?

      begin
        yield self
      ensure
        do_finish
      end
    end

    # true once #start (or SMTP.open) succeeded, until #finish.
    def started?
      @started
    end

    # QUIT and close (Net::SMTP#finish). IOError if not started.
    def finish
      raise IOError, 'not yet started' unless started?

      do_finish
    end

    # Seconds to wait for each reply (default 60): LibSMTP::ReadTimeout after that.
    def read_timeout=(sec)
      @read_timeout = sec
      call(:smtp_set_timeout, Float(sec)) if @handle
    end

    # Writes the transcript (commands and replies, never credentials) to
    # +io+ (anything with <<). Set it before #start.
    def debug_output=(io)
      @debug_output = io
      apply_debug_output if @handle
    end
    alias set_debug_output debug_output=

    def tls?
      @tls
    end
    alias ssl? tls?

    # :always, :auto or false.
    def starttls?
      @starttls
    end

    def starttls_always?
      @starttls == :always
    end

    def starttls_auto?
      @starttls == :auto
    end

    def lmtp?
      @lmtp ? true : false
    end

    # The TLS version in use ("TLSv1.3"), nil over plain TCP.
    def tls_version
      @handle && C.smtp_tls_version(@handle)
    end

    # true when the server answered EHLO (rather than only HELO).
    def esmtp?
      return nil unless @handle

      C.smtp_does_esmtp(@handle) == 1
    end
    alias esmtp esmtp?

    # The EHLO keywords, upper case, each with its parameters
    # ({"AUTH" => ["PLAIN", "LOGIN"], "SIZE" => ["10240000"], ...}); nil
    # before the session starts.
    def capabilities
      return nil unless @handle

      name = FFI::MemoryPointer.new(:pointer)
      params = FFI::MemoryPointer.new(:pointer)
      @lock.synchronize do
        (0...C.smtp_esmtp_feature_count(@handle)).each_with_object({}) do |i, caps|
          next unless C.smtp_esmtp_feature_at(@handle, i, name, params) == OK

          caps[LibSMTP.read(name.read_pointer).upcase] = LibSMTP.read(params.read_pointer).to_s.split
        end
      end
    end

    # true if EHLO offered +key+ (case-insensitive); nil before the session starts.
    def capable?(key)
      caps = capabilities
      caps && caps.key?(key.to_s.upcase)
    end

    def capable_starttls?
      capable?('STARTTLS')
    end

    # The AUTH mechanisms EHLO offered.
    def capable_auth_types
      (capabilities || {}).fetch('AUTH', [])
    end

    def capable_plain_auth?
      capable_auth_types.include?('PLAIN')
    end

    def capable_login_auth?
      capable_auth_types.include?('LOGIN')
    end

    def capable_cram_md5_auth?
      capable_auth_types.include?('CRAM-MD5')
    end

    # Sends +msgstr+ from +from_addr+ to +to_addrs+ (Net::SMTP#send_message;
    # smtplib sendmail()): every line ending made CRLF, leading dots
    # doubled, SIZE= given when offered. Returns the Response to the end of
    # data, whose #refused lists the recipients refused (when some were
    # accepted); SMTPRecipientsRefused when all were, SMTPSenderRefused,
    # SMTPDataError.
    def send_message(msgstr, from_addr, *to_addrs)
      to = recipients(to_addrs)
      bytes = msgstr.to_s.b
      body = FFI::MemoryPointer.new(:uint8, [bytes.bytesize, 1].max)
      body.put_bytes(0, bytes)
      array, pins = LibSMTP.c_strings(to, 'recipient')
      call(:smtp_sendmail, LibSMTP.c_string(from_addr, 'from'), array, to.size, body, bytes.bytesize,
           nil, 0, nil, 0)
      pins.clear
      response(refused: true)
    end
    alias send_mail send_message
    alias sendmail send_message

    # Yields a stream (puts, print, printf, write, <<) whose bytes are sent
    # as they are written, in constant memory, then ends the message and
    # returns the Response (Net::SMTP#open_message_stream). If the block
    # raises, the connection is dropped so that no truncated message is
    # delivered, and the exception propagates.
    def open_message_stream(from_addr, *to_addrs)
      raise ::ArgumentError, 'a block is required' unless block_given?

      to = recipients(to_addrs)
      array, pins = LibSMTP.c_strings(to, 'recipient')
      call(:smtp_send_begin, LibSMTP.c_string(from_addr, 'from'), array, to.size, 0, nil, 0, nil, 0)
      pins.clear
      stream = MessageStream.new(self)
      begin
        yield stream
        stream.flush
      rescue Exception # rubocop:disable Lint/RescueException -- any exit but the normal one
        abandon
        raise
      end
      call(:smtp_send_end)
      response(refused: true)
    end
    alias ready open_message_stream

    # Sends several messages over the session (smtp_sendmail_batch), with
    # one round trip a message when the server offers PIPELINING. Each
    # message is [msgstr, from_addr, to_addrs] (to_addrs a String or an
    # Array, as #send_message takes them) or a Hash with :message, :from
    # and :to. Returns a BatchResult: a refused message does not stop the
    # others and raises nothing. When the session ends during the batch (a
    # 421, a 452 4.5.3 "too many messages" to MAIL, a lost connection) the
    # connection is closed, and every message from `attempted` on is an
    # SMTPNotAttempted: start a new session and send those
    # (`messages[result.attempted..]`). LibSMTP::ArgumentError, with
    # nothing sent, when libsmtp refuses the arguments.
    def send_batch(messages)
      batch = messages.map { |m| batch_message(m) }
      n = batch.size
      array = FFI::MemoryPointer.new(C::Message, [n, 1].max)
      pins = batch.each_with_index.map { |m, i| fill_message(C::Message.new(array + (i * C::Message.size)), *m) }
      statuses = FFI::MemoryPointer.new(:int, [n, 1].max)
      first = attempted = callback_error = nil
      @lock.synchronize do
        h = @handle
        raise SMTPServerDisconnected, 'please run connect() first' unless h

        first = LibSMTP.error(h) unless C.smtp_sendmail_batch(h, array, n, nil, 0, nil, 0, statuses) == OK
        attempted = C.smtp_batch_attempted(h)
        callback_error = @callback_errors.first
        @callback_errors.clear
      end
      pins.clear
      raise callback_error if callback_error
      raise first if first.is_a?(LibSMTP::ArgumentError)

      BatchResult.new(batch_errors(n.zero? ? [] : statuses.read_array_of_int(n), first), attempted)
    end

    # MAIL FROM (Net::SMTP#mailfrom); SMTPSenderRefused unless 2xx.
    def mailfrom(from_addr, *options)
      from = LibSMTP.c_string(from_addr, 'from')
      array, pins = LibSMTP.c_strings(options, 'option')
      call(:smtp_mail, from, array, options.size)
      pins.clear
      res = response
      raise SMTPSenderRefused.new(res.text, res.code, res.text, from_addr.to_s) unless res.success?

      res
    end

    # RCPT TO (Net::SMTP#rcptto); SMTPRecipientsRefused unless 250 or 251.
    def rcptto(to_addr, *options)
      to = LibSMTP.c_string(to_addr, 'recipient')
      array, pins = LibSMTP.c_strings(options, 'option')
      call(:smtp_rcpt, to, array, options.size)
      pins.clear
      res = response
      unless [250, 251].include?(res.code)
        raise SMTPRecipientsRefused.new('All recipients were refused', to_addr.to_s => [res.code, res.text])
      end

      res
    end

    # DATA with +msgstr+, or with what the block writes to the stream it is
    # given (Net::SMTP#data) — gathered first; open_message_stream streams.
    # SMTPDataError unless the end of data is answered 2xx.
    def data(msgstr = nil)
      raise ::ArgumentError, 'message and block are exclusive' if msgstr && block_given?
      raise ::ArgumentError, 'message or block is required' unless msgstr || block_given?

      if block_given?
        collected = Collector.new
        yield collected
        msgstr = collected.string
      end
      bytes = msgstr.to_s.b
      body = FFI::MemoryPointer.new(:uint8, [bytes.bytesize, 1].max)
      body.put_bytes(0, bytes)
      call(:smtp_data, body, bytes.bytesize)
      res = response
      raise SMTPDataError.new(res.text, res.code, res.text) unless res.success?

      res
    end

    # Sends +cmd+ and, when given, a space and +args+, without reading the
    # reply (smtplib putcmd); read it with #getreply.
    def putcmd(cmd, args = nil)
      call(:smtp_putcmd, LibSMTP.c_string(cmd, 'cmd'), args && LibSMTP.c_string(args, 'args'))
      nil
    end

    # Reads one reply (smtplib getreply): [code, text].
    def getreply
      call(:smtp_getreply)
      reply
    end

    # Sends a command and reads its reply (smtplib docmd): [code, text].
    def docmd(cmd, args = nil)
      call(:smtp_docmd, LibSMTP.c_string(cmd, 'cmd'), args && LibSMTP.c_string(args, 'args'))
      reply
    end

    # The address connections are bound to, [host, port] (smtplib
    # source_address); nil when the system chooses.
    def source_address
      return configured_source_address unless @handle

      host = FFI::MemoryPointer.new(:pointer)
      port = FFI::MemoryPointer.new(:uint)
      @lock.synchronize do
        raise LibSMTP.error(@handle) unless C.smtp_source_address(@handle, host, port) == OK

        h = LibSMTP.read(host.read_pointer)
        h.nil? && port.read_uint.zero? ? nil : [h, port.read_uint]
      end
    end

    def helo(domain)
      call(:smtp_helo, LibSMTP.c_string(domain, 'domain'))
      response
    end

    def ehlo(domain)
      call(:smtp_ehlo, LibSMTP.c_string(domain, 'domain'))
      response
    end

    def rset
      call(:smtp_rset)
      response
    end

    # NOOP: [code, text].
    def noop
      call(:smtp_noop)
      reply
    end

    # STARTTLS, verified as set up (smtplib starttls; EHLO is sent again).
    def starttls
      call(:smtp_starttls)
      response
    end

    # Logs in (Net::SMTP#authenticate); +authtype+ as in SMTP.start.
    def authenticate(user, secret, authtype = nil)
      mech = check_auth_type(authtype)
      names = mech ? [mech] : []
      array, pins = LibSMTP.c_strings(names, 'authtype')
      call(:smtp_set_auth_mechanisms, names.empty? ? nil : array, names.size)
      pins.clear
      fn = %w[XOAUTH2 OAUTHBEARER].include?(mech) ? :smtp_login_oauth2 : :smtp_login
      call(fn, LibSMTP.c_string(user, 'user'), LibSMTP.c_string(secret, 'secret'))
      response
    end

    # smtplib login(): the strongest mechanism both sides offer.
    def login(user, password)
      authenticate(user, password)
    end

    def auth_plain(user, secret)
      authenticate(user, secret, :plain)
    end

    def auth_login(user, secret)
      authenticate(user, secret, :login)
    end

    def auth_cram_md5(user, secret)
      authenticate(user, secret, :cram_md5)
    end

    # QUIT, then close the connection (smtplib quit()).
    def quit
      call(:smtp_quit)
      response
    end

    # Closes the connection without QUIT and frees the session; calling it
    # again does nothing.
    def close
      h = @lock.synchronize do
        taken = @handle
        @handle = nil
        taken
      end
      @started = false
      return unless h

      C.smtp_close(h)
      h.free
    end

    # true once closed (or before the session is started).
    def closed?
      @handle.nil?
    end

    # What data's block writes to: the stream's methods, into a String.
    class Collector < MessageStream
      attr_reader :string

      def initialize # rubocop:disable Lint/MissingSuper -- nothing is sent
        @string = String.new(encoding: Encoding::BINARY)
      end

      def write(*strs)
        strs.sum do |s|
          bytes = s.to_s.b
          @string << bytes
          bytes.bytesize
        end
      end

      def flush
        self
      end
    end

    # What frees a handle: smtp_free, then the callbacks it held may go.
    # Built here, where it captures no session (a finalizer that refers to
    # its object would keep it alive for ever).
    def self.releaser(pins)
      lambda do |ptr|
        C.smtp_free(ptr)
        pins.clear
      end
    end

    # The transcript callback writing to `io`. An exception must not
    # unwind through libsmtp's frames: it is kept in `errors` and raised
    # once the C call has returned.
    def self.debug_function(io, errors)
      FFI::Function.new(:void, %i[pointer pointer size_t]) do |_userdata, line, len|
        io << line.read_bytes(len).force_encoding(Encoding::UTF_8) << "\n"
      rescue Exception => e # rubocop:disable Lint/RescueException -- must not unwind into libsmtp
        errors << e
      end
    end

    private

    def ssl_params(params)
      unknown = params.keys.map(&:to_sym) - SSL_PARAMS
      unless unknown.empty?
        raise ::ArgumentError, "ssl_context_params: libsmtp cannot honour #{unknown.join(', ')} " \
                               '(it takes ca_file, ca_path, verify_mode, min_version, verify_hostname)'
      end
      params.each do |key, value|
        case key.to_sym
        when :ca_file then @ca_file = value
        when :ca_path then @ca_path = value
        when :verify_mode then @tls_verify = value != OpenSSL::SSL::VERIFY_NONE
        when :verify_hostname
          raise ::ArgumentError, 'ssl_context_params: verify_hostname false needs tls_verify: false' unless value
        when :min_version
          @min_tls = TLS_VERSIONS.fetch(value) { raise ::ArgumentError, "ssl_context_params: min_version #{value}" }
        end
      end
    end

    def check_auth_type(authtype)
      return nil if authtype.nil?

      AUTH_TYPES.fetch(authtype.to_s.downcase) { raise ::ArgumentError, "wrong authentication type #{authtype}" }
    end

    def configured_source_address
      case @source_address
      when nil then nil
      when Array then [@source_address[0].to_s, Integer(@source_address[1] || 0)]
      else [@source_address.to_s, 0]
      end
    end

    def recipients(to_addrs)
      to = to_addrs.flatten
      raise ::ArgumentError, 'mail destination not given' if to.empty?

      to
    end

    # One message of send_batch as [from, recipients, body bytes].
    def batch_message(msg)
      msgstr, from, to = msg.is_a?(Hash) ? msg.values_at(:message, :from, :to) : Array(msg)
      [LibSMTP.c_string(from, 'from'), recipients([to]), msgstr.to_s.b]
    end

    # Fills the C message `cmsg`; returns what must live as long as it.
    def fill_message(cmsg, from, to, bytes)
      from_ptr = FFI::MemoryPointer.from_string(from)
      array, to_pins = LibSMTP.c_strings(to, 'recipient')
      body = FFI::MemoryPointer.new(:uint8, [bytes.bytesize, 1].max)
      body.put_bytes(0, bytes)
      cmsg[:from] = from_ptr
      cmsg[:to] = array
      cmsg[:n_to] = to.size
      cmsg[:data] = body
      cmsg[:len] = bytes.bytesize
      [from_ptr, array, to_pins, body]
    end

    # Each message's exception (nil when accepted): the first failure the
    # session's error `first`, the others built from their status.
    def batch_errors(codes, first)
      codes.map do |status|
        next nil if status == OK

        if first
          taken = first
          first = nil
          next taken
        end
        message = if status == 25
                    'not attempted: the session ended before this message; send it on a new session'
                  else
                    C.smtp_error_name(status)
                  end
        LibSMTP.status_exception(status, message)
      end
    end

    # Creates the C session with every setting, connects and reads the
    # greeting; `helo` the name for EHLO/HELO (nil: libsmtp's default).
    def do_connect(helo)
      raise IOError, 'SMTP session already started' if @started

      ptr = @tls ? C.smtp_new_ssl : (@lmtp ? C.smtp_new_lmtp : C.smtp_new)
      raise InternalError, 'smtp_new failed' if ptr.null?

      @pins = []
      @callback_errors = []
      # Freed by smtp_free when garbage collected if never closed.
      @handle = FFI::AutoPointer.new(ptr, SMTP.releaser(@pins))
      begin
        configure(helo)
        call(:smtp_connect, LibSMTP.c_string(@address, 'address'), Integer(@port || 0), timeout: OpenTimeout)
        call(:smtp_set_timeout, Float(@read_timeout))
        @started = true
      ensure
        close unless @started
      end
    end

    def configure(helo)
      call(:smtp_set_local_hostname, LibSMTP.c_string(helo, 'helo')) if helo
      call(:smtp_set_timeout, Float(@open_timeout))
      call(:smtp_set_tls_verify, @tls_verify ? 1 : 0)
      call(:smtp_set_tls_server_name, LibSMTP.c_string(@tls_hostname, 'tls_hostname')) if @tls_hostname
      call(:smtp_set_tls_cafile, LibSMTP.c_string(@ca_file, 'ca_file')) if @ca_file
      call(:smtp_set_tls_cadir, LibSMTP.c_string(@ca_path, 'ca_path')) if @ca_path
      call(:smtp_set_tls_min_version, @min_tls) if @min_tls
      call(:smtp_set_allow_cleartext_auth, 1) if @allow_cleartext_auth
      if (src = configured_source_address)
        call(:smtp_set_source_address, LibSMTP.c_string(src[0], 'source_address'), src[1])
      end
      apply_debug_output if @debug_output
    end

    def do_start(helo, user, secret, authtype)
      do_connect(helo)
      ok = false
      begin
        call(:smtp_ehlo_or_helo_if_needed)
        starttls if @starttls == :always || (@starttls == :auto && capable_starttls?)
        authenticate(user, secret, authtype) if user
        ok = true
      ensure
        close unless ok
      end
    end

    def do_finish
      call(:smtp_quit) if @handle && C.smtp_is_connected(@handle) == 1
    rescue LibSMTP::Error
      nil # closing anyway
    ensure
      close
    end

    # The connection is dropped mid-message: the server must not deliver it.
    def abandon
      h = @handle
      @lock.synchronize { C.smtp_close(h) } if h
    end

    def apply_debug_output
      io = @debug_output
      if io.nil?
        call(:smtp_set_debuglevel, 0)
        return
      end
      fn = SMTP.debug_function(io, @callback_errors)
      @pins << fn
      call(:smtp_set_debug_callback, fn, nil)
      call(:smtp_set_debuglevel, 1)
    end

    # Calls C function `name` on the session; raises its error unless OK (a
    # timeout as `timeout`), or an exception the debug output raised.
    def call(name, *args, timeout: ReadTimeout)
      error = nil
      @lock.synchronize do
        h = @handle
        raise SMTPServerDisconnected, 'please run connect() first' unless h

        error = LibSMTP.error(h, timeout) unless C.public_send(name, h, *args) == OK
        error ||= @callback_errors.first
        @callback_errors.clear
      end
      raise error if error

      nil
    end

    def reply
      @lock.synchronize do
        h = @handle
        raise SMTPServerDisconnected, 'please run connect() first' unless h

        [C.smtp_reply_code(h), C.smtp_reply_text(h).to_s.dup.force_encoding(Encoding::UTF_8)]
      end
    end

    def response(refused: false)
      code, text = reply
      Response.new(code, text, refused ? @lock.synchronize { LibSMTP.refused(@handle) } : {})
    end
  end
end
