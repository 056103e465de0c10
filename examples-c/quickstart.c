/* quickstart: send one message to two recipients with libsmtp.
 * Usage: quickstart [HOST [PORT]]   (default localhost 25) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "localhost";
    unsigned int port = argc > 2 ? (unsigned int)strtoul(argv[2], NULL, 10) : 25;
    const char *to[] = {"alice@example.org", "bob@example.org"};
    const char msg[] = "From: me@example.org\r\n"
                       "To: alice@example.org, bob@example.org\r\n"
                       "Subject: Hello\r\n"
                       "\r\n"
                       "Hello from libsmtp.\r\n";
    smtp_handle *h = NULL;

    /* On failure smtp_open still gives a handle holding the error. */
    smtp_status st = smtp_open(host, port, &h);
    if (st == SMTP_OK)
        st = smtp_sendmail(h, "me@example.org", to, 2, (const uint8_t *)msg, strlen(msg),
                           NULL, 0, NULL, 0);

    /* Recipients the server refused (the message went to the others). */
    for (size_t i = 0; h != NULL && i < smtp_refused_count(h); i++) {
        const char *addr, *text;
        int code;
        if (smtp_refused_get(h, i, &addr, &code, &text) == SMTP_OK)
            printf("refused: %s %d %s\n", addr, code, text);
    }
    if (st != SMTP_OK)
        fprintf(stderr, "failed, status %d (%s)\n%s\n", st, smtp_error_name(st),
                h != NULL ? smtp_error_message(h) : "no handle (internal fault)");
    else
        smtp_quit(h);
    smtp_free(h);
    return st;
}
