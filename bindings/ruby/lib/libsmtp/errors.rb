# frozen_string_literal: true

require 'openssl'
require 'timeout'

module LibSMTP
  # Every exception libsmtp raises includes LibSMTP::Error:
  # `rescue LibSMTP::Error` catches them all.
  module Error; end

  # Python's OSError, which smtplib's exceptions derive from: every
  # libsmtp exception but ArgumentError includes it (`rescue LibSMTP::OSError`
  # catches what `except OSError` catches). A module, so that each concrete
  # class can also take its place in Ruby's own tree: a refused or reset
  # connection is a SystemCallError, a timeout a Timeout::Error, a TLS
  # failure an OpenSSL::SSL::SSLError.
  module OSError
    include Error
  end

  # smtplib's exception classes (smtplib.SMTPException and its subclasses):
  # the same tree as the C status codes and the Go binding.
  class SMTPException < StandardError
    include OSError
  end

  # The server closed the connection, or no connection is open.
  class SMTPServerDisconnected < SMTPException; end

  # A message of SMTP#send_batch that the server never judged: the session
  # ended before its turn (a 421, a 452 4.5.3 "too many messages" to MAIL,
  # a lost connection) and the connection is closed. Not one of smtplib's
  # classes (SMTP_ERR_NOT_ATTEMPTED); an SMTPServerDisconnected. Send the
  # message again on a new session.
  class SMTPNotAttempted < SMTPServerDisconnected; end

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

  # Connection refused or reset, host not found, a read or write that
  # failed (SMTP_ERR_IO). A SystemCallError carrying the C errno, so that
  # `rescue Errno::ECONNREFUSED` (an Errno class matches any
  # SystemCallError with its errno) and `rescue SystemCallError` catch it
  # as they catch Ruby's own socket errors. Raised as a subclass named
  # after the errno (LibSMTP::ConnectionError::ECONNREFUSED); `errno` is
  # nil when the failure had none (a name that did not resolve).
  class ConnectionError < SystemCallError
    include OSError

    # SystemCallError subclasses take their errno from this constant.
    Errno = nil
    @by_errno = {}
    @lock = Mutex.new

    # SystemCallError.=== matches on errno; libsmtp's classes match only
    # their own instances (Errno::ECONNREFUSED still matches them, by errno).
    def self.===(other)
      other.is_a?(self)
    end

    # The exception for `errno` (0 or nil: none) with libsmtp's message.
    def self.for(message, errno)
      return new(message) if errno.nil? || errno.zero?

      klass = ConnectionError.instance_variable_get(:@lock).synchronize do
        ConnectionError.instance_variable_get(:@by_errno)[errno] ||= subclass_for(errno)
      end
      klass.new(message)
    end

    def self.subclass_for(errno)
      klass = Class.new(ConnectionError)
      klass.const_set(:Errno, errno)
      # The name of Ruby's own class for this errno, as Errno::ECONNREFUSED.
      name = SystemCallError.new(nil, errno).class.name.split('::').last
      name = "E#{errno}" if name == 'SystemCallError'
      ConnectionError.const_set(name, klass) unless ConnectionError.const_defined?(name, false)
      klass
    end
    private_class_method :subclass_for
  end

  # A deadline passed (SMTP_ERR_TIMEOUT; Python's TimeoutError, an OSError).
  # A Timeout::Error, as Net::SMTP's Net::OpenTimeout and Net::ReadTimeout;
  # its errno is ETIMEDOUT, so `rescue Errno::ETIMEDOUT` (what Ruby's
  # Socket.tcp raises for connect_timeout) catches it too.
  class TimeoutError < Timeout::Error
    include OSError

    def errno
      ::Errno::ETIMEDOUT::Errno
    end
  end

  # Connecting (or reading the greeting) took longer than open_timeout.
  class OpenTimeout < TimeoutError; end

  # A reply did not come within read_timeout.
  class ReadTimeout < TimeoutError; end

  # The TLS handshake or the certificate's verification failed
  # (SMTP_ERR_TLS; Python's ssl.SSLError); an OpenSSL::SSL::SSLError, as
  # Net::SMTP raises.
  class SSLError < OpenSSL::SSL::SSLError
    include OSError
  end

  # An argument libsmtp refused (SMTP_ERR_INVALID; Python's ValueError):
  # NUL, CR or LF where it would reach the wire, bad UTF-8, and the like.
  # Nothing was sent and the session goes on.
  class ArgumentError < ::ArgumentError
    include Error
  end

  # A fault caught inside libsmtp; the connection was closed.
  class InternalError < StandardError
    include Error
  end
end
