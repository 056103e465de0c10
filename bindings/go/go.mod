module libsmtp.org/smtp

go 1.19
