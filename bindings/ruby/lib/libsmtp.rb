# frozen_string_literal: true

# LibSMTP: a Ruby client for libsmtp, an SMTP and LMTP client engine that
# follows Python's smtplib, through its C API (include/smtp.h) and the ffi
# gem. The library is LIBSMTP_PATH when set, else this repository's
# target/debug/libsmtp.so (run `cargo build` first).
require 'ffi'

module LibSMTP
  # smtplib's exception classes.
  class SMTPException < StandardError; end
  class SMTPServerDisconnected < SMTPException; end

  # An error reply: its code and text (smtplib smtp_code, smtp_error).
  class SMTPResponseException < SMTPException
    attr_reader :smtp_code, :smtp_error

    def initialize(message, smtp_code = nil, smtp_error = nil)
      super(message)
      @smtp_code = smtp_code
      @smtp_error = smtp_error
    end
  end

  # MAIL FROM refused; `sender` is the refused address.
  class SMTPSenderRefused < SMTPResponseException
    attr_reader :sender

    def initialize(message, smtp_code, smtp_error, sender)
      super(message, smtp_code, smtp_error)
      @sender = sender
    end
  end

  # Every recipient refused; `recipients` maps each address to
  # [code, text].
  class SMTPRecipientsRefused < SMTPException
    attr_reader :recipients

    def initialize(message, recipients)
      super(message)
      @recipients = recipients
    end
  end

  class SMTPDataError < SMTPResponseException; end
  class SMTPConnectError < SMTPResponseException; end
  class SMTPHeloError < SMTPResponseException; end
  class SMTPAuthenticationError < SMTPResponseException; end
  class SMTPNotSupportedError < SMTPException; end

  # Python's OSError and its kin: connection refused or reset, name not
  # found (`errno`), a deadline passed, TLS failed.
  class OSError < StandardError
    attr_reader :errno

    def initialize(message, errno = 0)
      super(message)
      @errno = errno
    end
  end
  class TimeoutError < OSError; end
  class SSLError < OSError; end
  # A fault caught inside libsmtp; the connection was closed.
  class InternalError < StandardError; end

  # The C API.
  module C
    extend FFI::Library
    ffi_lib ENV.fetch('LIBSMTP_PATH') { File.expand_path('../../../target/debug/libsmtp.so', __dir__) }

    typedef :pointer, :handle
    attach_function :smtp_version, [], :string
    attach_function :smtp_new, [], :handle
    attach_function :smtp_connect, %i[handle string uint], :int
    attach_function :smtp_free, [:handle], :void
    attach_function :smtp_close, [:handle], :int
    attach_function :smtp_quit, [:handle], :int
    attach_function :smtp_noop, [:handle], :int
    attach_function :smtp_starttls, [:handle], :int
    attach_function :smtp_login, %i[handle string string], :int
    attach_function :smtp_sendmail,
                    %i[handle string pointer size_t pointer size_t pointer size_t pointer size_t], :int
    attach_function :smtp_set_local_hostname, %i[handle string], :int
    attach_function :smtp_set_timeout, %i[handle double], :int
    attach_function :smtp_set_tls_cafile, %i[handle string], :int
    attach_function :smtp_set_tls_verify, %i[handle int], :int
    attach_function :smtp_error_code, [:handle], :int
    attach_function :smtp_error_message, [:handle], :string
    attach_function :smtp_error_reply_code, [:handle], :int
    attach_function :smtp_error_reply_text, [:handle], :string
    attach_function :smtp_error_sender, [:handle], :string
    attach_function :smtp_error_errno, [:handle], :int
    attach_function :smtp_error_name, [:int], :string
    attach_function :smtp_reply_code, [:handle], :int
    attach_function :smtp_reply_text, [:handle], :string
    attach_function :smtp_refused_count, [:handle], :size_t
    attach_function :smtp_refused_get, %i[handle size_t pointer pointer pointer], :int
  end

  OK = 0
  # Status code => exception class (values fixed by the C API).
  CLASSES = {
    1 => SMTPException, 2 => SMTPServerDisconnected, 3 => SMTPResponseException,
    4 => SMTPSenderRefused, 5 => SMTPRecipientsRefused, 6 => SMTPDataError,
    7 => SMTPConnectError, 8 => SMTPHeloError, 9 => SMTPNotSupportedError,
    10 => SMTPAuthenticationError, 20 => OSError, 21 => TimeoutError,
    22 => SSLError, 23 => ArgumentError, 24 => InternalError
  }.freeze

  def self.version
    C.smtp_version
  end

  # A Ruby string as a C string: NUL (which C cannot carry) is refused.
  def self.c_string(str, what)
    s = str.to_s
    raise ArgumentError, "#{what} contains NUL" if s.include?("\0")

    s
  end

  # The refused recipients kept in the handle: address => [code, text].
  def self.refused(handle)
    out = {}
    addr = FFI::MemoryPointer.new(:pointer)
    code = FFI::MemoryPointer.new(:int)
    text = FFI::MemoryPointer.new(:pointer)
    C.smtp_refused_count(handle).times do |i|
      next unless C.smtp_refused_get(handle, i, addr, code, text) == OK

      out[read(addr)] = [code.read_int, read(text)]
    end
    out
  end

  def self.read(ptr)
    p = ptr.read_pointer
    p.null? ? nil : p.read_string.force_encoding(Encoding::UTF_8)
  end

  # The exception for the handle's last error.
  def self.error(handle)
    status = C.smtp_error_code(handle)
    message = C.smtp_error_message(handle)
    code = C.smtp_error_reply_code(handle)
    text = C.smtp_error_reply_text(handle)
    klass = CLASSES.fetch(status, SMTPException)
    if klass == SMTPSenderRefused
      klass.new(message, code, text, C.smtp_error_sender(handle))
    elsif klass == SMTPRecipientsRefused
      klass.new(message, refused(handle))
    elsif klass <= SMTPResponseException
      klass.new(message, code, text)
    elsif klass <= OSError
      klass.new(message, C.smtp_error_errno(handle))
    else
      klass.new(message)
    end
  end

  # One SMTP session (smtplib's SMTP object). Use SMTP.open with a block,
  # or call #close yourself: the session is freed only then.
  class SMTP
    # Connects and reads the greeting. Options: local_hostname:, timeout:
    # (seconds), ca_file:, verify: (default true). With a block, yields
    # the session, then quits (if still connected) and frees it, whatever
    # the block does; returns the block's value.
    def self.open(host, port = 25, **opts)
      smtp = new(host, port, **opts)
      return smtp unless block_given?

      begin
        yield smtp
      ensure
        smtp.finish
      end
    end

    def initialize(host, port = 25, local_hostname: nil, timeout: nil, ca_file: nil, verify: true)
      @handle = C.smtp_new
      raise NoMemoryError, 'smtp_new' if @handle.null?

      begin
        check { C.smtp_set_local_hostname(@handle, LibSMTP.c_string(local_hostname, 'local_hostname')) } if local_hostname
        check { C.smtp_set_timeout(@handle, Float(timeout)) } if timeout
        check { C.smtp_set_tls_cafile(@handle, LibSMTP.c_string(ca_file, 'ca_file')) } if ca_file
        check { C.smtp_set_tls_verify(@handle, 0) } unless verify
        check { C.smtp_connect(@handle, LibSMTP.c_string(host, 'host'), Integer(port)) }
      rescue StandardError
        close
        raise
      end
    end

    # smtplib sendmail(): returns the refused recipients, address =>
    # [code, text]; raises SMTPRecipientsRefused when all were refused.
    def sendmail(from, to, msg)
      to = Array(to)
      from = LibSMTP.c_string(from, 'from')
      strings = to.map { |r| FFI::MemoryPointer.from_string(LibSMTP.c_string(r, 'recipient')) }
      array = FFI::MemoryPointer.new(:pointer, [to.size, 1].max)
      array.put_array_of_pointer(0, strings) unless strings.empty?
      bytes = msg.to_s.b
      body = FFI::MemoryPointer.new(:uint8, [bytes.bytesize, 1].max)
      body.put_bytes(0, bytes)
      check { C.smtp_sendmail(handle, from, array, to.size, body, bytes.bytesize, nil, 0, nil, 0) }
      LibSMTP.refused(handle)
    end

    def starttls
      check { C.smtp_starttls(handle) }
    end

    # AUTH with smtplib's mechanism order; raises SMTPAuthenticationError
    # when the credentials are refused.
    def login(user, password)
      check { C.smtp_login(handle, LibSMTP.c_string(user, 'user'), LibSMTP.c_string(password, 'password')) }
    end

    # NOOP; returns [code, text].
    def noop
      check { C.smtp_noop(handle) }
      [C.smtp_reply_code(handle), C.smtp_reply_text(handle)]
    end

    # QUIT, then close the connection; #close still frees the session.
    def quit
      check { C.smtp_quit(handle) }
    end

    # Frees the session (closing the connection without QUIT). Calling it
    # again does nothing.
    def close
      return if @handle.nil?

      C.smtp_free(@handle)
      @handle = nil
    end

    def closed?
      @handle.nil?
    end

    # Quits if connected, ignoring errors, and frees the session.
    def finish
      begin
        C.smtp_quit(@handle) if @handle
      ensure
        close
      end
    end

    private

    def handle
      raise SMTPServerDisconnected, 'please run connect() first' if @handle.nil?

      @handle
    end

    def check
      raise LibSMTP.error(@handle) unless yield == OK

      nil
    end
  end
end
