# frozen_string_literal: true

require 'ffi'

module LibSMTP
  # The C API (smtp.h) of the installed libsmtp.
  #
  # The library is found as the C loader finds it: libsmtp.so.0 on
  # ldconfig's path (or LD_LIBRARY_PATH), else in the libdir that
  # `pkg-config smtp` names. LIBSMTP_PATH, when set, names the file to load
  # instead, and nothing else is tried.
  #
  # Every function that may wait on the network is attached with
  # `blocking: true`: the calling thread releases Ruby's global VM lock
  # while it waits, so other Ruby threads run meanwhile.
  module C
    extend FFI::Library

    SONAME = FFI::Platform.mac? ? 'libsmtp.0.dylib' : 'libsmtp.so.0'

    # The libdir `pkg-config smtp` gives, or nil.
    def self.pkg_config_libdir
      dir = IO.popen(%w[pkg-config --variable=libdir smtp], err: File::NULL, &:read).strip
      $?.success? && !dir.empty? ? dir : nil
    rescue SystemCallError
      nil
    end

    override = ENV.fetch('LIBSMTP_PATH', '')
    if override.empty?
      begin
        ffi_lib SONAME
      rescue LoadError => e
        dir = pkg_config_libdir
        raise LoadError, "libsmtp not found (#{e.message.lines.first.strip}): install libsmtp " \
                         "(its #{SONAME} on the loader's path, or its smtp.pc on pkg-config's), " \
                         'or set LIBSMTP_PATH' unless dir

        ffi_lib File.join(dir, SONAME)
      end
    else
      ffi_lib override
    end

    typedef :pointer, :handle
    typedef :int, :status
    typedef :pointer, :strings

    # smtp_debug_callback and smtp_read_callback. libsmtp calls them on the
    # thread that called into it, without the VM lock; ffi takes the lock
    # back for the Ruby block. The blocks rescue everything: an exception
    # must not unwind through libsmtp's frames.
    callback :debug_callback, %i[pointer pointer size_t], :void

    # struct smtp_message, one message of smtp_sendmail_batch.
    class Message < FFI::Struct
      layout :from, :pointer, :to, :pointer, :n_to, :size_t, :data, :pointer, :len, :size_t
    end

    # Handles, settings and getters: no network.
    attach_function :smtp_version, [], :string
    attach_function :smtp_new, [], :handle
    attach_function :smtp_new_ssl, [], :handle
    attach_function :smtp_new_lmtp, [], :handle
    attach_function :smtp_free, [:handle], :void
    attach_function :smtp_set_local_hostname, %i[handle string], :status
    attach_function :smtp_set_timeout, %i[handle double], :status
    attach_function :smtp_set_source_address, %i[handle string uint], :status
    attach_function :smtp_source_address, %i[handle pointer pointer], :status
    attach_function :smtp_set_tls_cafile, %i[handle string], :status
    attach_function :smtp_set_tls_cadir, %i[handle string], :status
    attach_function :smtp_set_tls_client_cert, %i[handle string string], :status
    attach_function :smtp_set_tls_min_version, %i[handle int], :status
    attach_function :smtp_set_tls_verify, %i[handle int], :status
    attach_function :smtp_set_tls_server_name, %i[handle string], :status
    attach_function :smtp_set_debuglevel, %i[handle int], :status
    attach_function :smtp_set_debug_callback, %i[handle debug_callback pointer], :status
    attach_function :smtp_set_auth_mechanisms, %i[handle strings size_t], :status
    attach_function :smtp_set_allow_cleartext_auth, %i[handle int], :status
    attach_function :smtp_error_code, [:handle], :status
    attach_function :smtp_error_message, [:handle], :string
    attach_function :smtp_error_reply_code, [:handle], :int
    attach_function :smtp_error_reply_text, [:handle], :string
    attach_function :smtp_error_sender, [:handle], :string
    attach_function :smtp_error_errno, [:handle], :int
    attach_function :smtp_error_name, [:int], :string
    attach_function :smtp_reply_code, [:handle], :int
    attach_function :smtp_reply_text, [:handle], :string
    attach_function :smtp_is_connected, [:handle], :int
    attach_function :smtp_does_esmtp, [:handle], :int
    attach_function :smtp_esmtp_feature_count, [:handle], :size_t
    attach_function :smtp_esmtp_feature_at, %i[handle size_t pointer pointer], :status
    attach_function :smtp_refused_count, [:handle], :size_t
    attach_function :smtp_refused_get, %i[handle size_t pointer pointer pointer], :status
    attach_function :smtp_tls_version, [:handle], :string
    attach_function :smtp_batch_attempted, [:handle], :size_t

    # Everything that may touch the network.
    {
      smtp_connect: %i[handle string uint],
      smtp_close: [:handle],
      smtp_quit: [:handle],
      smtp_noop: [:handle],
      smtp_rset: [:handle],
      smtp_helo: %i[handle string],
      smtp_ehlo: %i[handle string],
      smtp_ehlo_or_helo_if_needed: [:handle],
      smtp_docmd: %i[handle string string],
      smtp_putcmd: %i[handle string string],
      smtp_getreply: [:handle],
      smtp_starttls: [:handle],
      smtp_login: %i[handle string string],
      smtp_login_oauth2: %i[handle string string],
      smtp_mail: %i[handle string strings size_t],
      smtp_rcpt: %i[handle string strings size_t],
      smtp_data: %i[handle pointer size_t],
      smtp_sendmail: %i[handle string strings size_t pointer size_t strings size_t strings size_t],
      smtp_send_begin: %i[handle string strings size_t uint64 strings size_t strings size_t],
      smtp_send_write: %i[handle pointer size_t],
      smtp_send_end: [:handle],
      smtp_sendmail_batch: %i[handle pointer size_t strings size_t strings size_t pointer]
    }.each do |name, args|
      attach_function name, args, :status, blocking: true
    end
  end
end
