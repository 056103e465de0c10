# frozen_string_literal: true

require_relative 'lib/libsmtp/version'

Gem::Specification.new do |s|
  s.name = 'libsmtp'
  s.version = LibSMTP::VERSION
  s.summary = 'SMTP and LMTP client shaped like Net::SMTP, over the libsmtp C library'
  s.description = <<~DESC
    Ruby bindings for libsmtp, an SMTP and LMTP client engine that follows
    Python's smtplib: LibSMTP::SMTP.start(...) { |smtp| smtp.send_message(...) }
    as with Net::SMTP, with verified TLS, AUTH, streamed bodies and smtplib's
    exceptions. Needs libsmtp installed (libsmtp.so.0 on the loader's path).
  DESC
  s.authors = ['libsmtp developers']
  s.licenses = ['MIT', 'Apache-2.0']
  s.files = Dir['lib/**/*.rb'] # gem build runs here
  s.require_paths = ['lib']
  s.required_ruby_version = '>= 2.7'
  s.requirements << 'libsmtp (libsmtp.so.0), installed as a system library'
  s.add_runtime_dependency 'ffi', '~> 1.12'
end
