module libsmtp.example/smtp

go 1.19
