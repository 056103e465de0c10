/*
 * Sends one message to an SMTP server on 127.0.0.1 with libsmtp, as any
 * program built against an installed libsmtp with nothing but
 * `pkg-config --cflags --libs smtp` (or `--static` for a static link)
 * would. Run by tests/packaging.rs and tests/debian.rs against smtp-sink.
 * Usage: installed_send PORT. Prints the library's version when sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <smtp.h>

#if !SMTP_AT_LEAST_VERSION(0, 1, 0)
#error "libsmtp 0.1.0 or later is needed"
#endif

int main(int argc, char **argv) {
  const char *to[1] = {"rcpt@example.org"};
  const char msg[] =
      "From: sender@example.org\r\n"
      "To: rcpt@example.org\r\n"
      "Subject: from an installed libsmtp\r\n"
      "\r\n"
      "Linked with the flags of pkg-config alone.\r\n";
  smtp_handle *h = NULL;
  smtp_status st;

  if (argc != 2) {
    fprintf(stderr, "usage: installed_send PORT\n");
    return 64;
  }
  st = smtp_open("127.0.0.1", (unsigned)atoi(argv[1]), &h);
  if (st == SMTP_OK)
    st = smtp_sendmail(h, "sender@example.org", to, 1, (const uint8_t *)msg,
                       strlen(msg), NULL, 0, NULL, 0);
  if (st == SMTP_OK)
    st = smtp_quit(h);
  if (st != SMTP_OK)
    fprintf(stderr, "%s: %s\n", smtp_error_name(st),
            h != NULL ? smtp_error_message(h) : "no handle");
  else
    printf("sent with libsmtp %s\n", smtp_version());
  smtp_free(h);
  return st;
}
