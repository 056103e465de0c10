# frozen_string_literal: true

module LibSMTP
  # The gem's version, which follows libsmtp's (smtp_version()).
  VERSION = '0.1.0'
end
