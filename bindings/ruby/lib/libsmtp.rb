# frozen_string_literal: true

# LibSMTP: Ruby bindings for libsmtp, an SMTP and LMTP client engine that
# follows Python's smtplib, through its C API (smtp.h) and the ffi gem.
# LibSMTP::SMTP is shaped like Net::SMTP:
#
#   require 'libsmtp'
#   LibSMTP::SMTP.start('mail.example.org', 587, user: 'me', secret: pw) do |smtp|
#     smtp.send_message(msg, 'me@example.org', 'you@example.net')
#   end
#
# The C library is the installed libsmtp.so.0 (see LibSMTP::C).
require_relative 'libsmtp/version'
require_relative 'libsmtp/errors'
require_relative 'libsmtp/c'
require_relative 'libsmtp/smtp'
