/* poll: many SMTP sessions at once from one thread, on a plain poll() loop.
 *
 * Each session connects, optionally upgrades with STARTTLS, sends MESSAGES
 * messages and quits. Every handle is non-blocking: a call either finishes
 * as it would have in blocking mode, or returns SMTP_AGAIN. Then the handle
 * says which descriptor to watch (smtp_fd), for what (smtp_want) and for
 * how long at most (smtp_wait_ms); once the descriptor is ready or that
 * time is up, smtp_resume goes on. Nothing more is needed to fit libsmtp
 * into a loop of your own (epoll, kqueue, ...); smtp_multi does this loop
 * for programs that have none.
 *
 * Usage: poll [--starttls] [--cafile FILE] [--timeout SECONDS]
 *             HOST PORT SESSIONS MESSAGES
 * HOST should be an address literal ("127.0.0.1"): resolving a name blocks.
 * Prints one line per session and a summary; exits 1 if any session failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

/* The steps of a session, in order. */
enum step { CONNECT, STARTTLS, SEND, QUIT, DONE };
static const char *const STEP_NAME[] = {"connect", "starttls", "sendmail", "quit"};

struct session {
    smtp_handle *h;
    int id;
    enum step step;
    int sent;      /* messages the server accepted */
    int failed;
    char msg[128]; /* the message being sent: libsmtp does not copy it, so it
                      stays untouched until that smtp_sendmail completes */
};

static const char *host;
static unsigned int port;
static int messages, use_starttls;

/* Starts the session's current step: its final status, or SMTP_AGAIN. */
static smtp_status start_step(struct session *s)
{
    const char *to[] = {"rcpt@example.org"};
    int len;

    switch (s->step) {
    case CONNECT:
        return smtp_connect(s->h, host, port);
    case STARTTLS:
        return smtp_starttls(s->h);
    case SEND:
        len = snprintf(s->msg, sizeof s->msg,
                       "From: sender@example.org\r\nSubject: session %d message %d\r\n"
                       "\r\nHello.\r\n", s->id, s->sent + 1);
        return smtp_sendmail(s->h, "sender@example.org", to, 1, (const uint8_t *)s->msg,
                             (size_t)len, NULL, 0, NULL, 0);
    case QUIT:
        return smtp_quit(s->h);
    default:
        return SMTP_OK;
    }
}

/* Takes the outcome of the current step and starts the next ones, until
 * one is under way (SMTP_AGAIN) or the session is over. */
static void advance(struct session *s, smtp_status st)
{
    while (st != SMTP_AGAIN && s->step != DONE) {
        if (st != SMTP_OK) {
            printf("session %d: failed at %s after %d message(s): %s: %s\n", s->id,
                   STEP_NAME[s->step], s->sent, smtp_error_name(st), smtp_error_message(s->h));
            s->failed = 1;
            s->step = DONE;
            return;
        }
        switch (s->step) {
        case CONNECT:
            s->step = use_starttls ? STARTTLS : SEND;
            break;
        case STARTTLS:
            s->step = SEND;
            break;
        case SEND: /* the next message, or QUIT after the last */
            if (++s->sent == messages)
                s->step = QUIT;
            break;
        case QUIT:
            printf("session %d: ok, %d message(s) sent\n", s->id, s->sent);
            s->step = DONE;
            return;
        case DONE:
            return;
        }
        st = start_step(s);
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: poll [--starttls] [--cafile FILE] [--timeout SECONDS] "
                    "HOST PORT SESSIONS MESSAGES\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *cafile = NULL;
    double timeout = 30;
    int i = 1;

    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--starttls") == 0)
            use_starttls = 1;
        else if (strcmp(argv[i], "--cafile") == 0 && i + 1 < argc)
            cafile = argv[++i];
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = strtod(argv[++i], NULL);
        else
            return usage();
    }
    if (argc - i != 4)
        return usage();
    host = argv[i];
    port = (unsigned int)strtoul(argv[i + 1], NULL, 10);
    int n = atoi(argv[i + 2]);
    messages = atoi(argv[i + 3]);
    if (n < 1 || messages < 1)
        return usage();

    struct session *s = calloc((size_t)n, sizeof *s);
    struct pollfd *fds = calloc((size_t)n, sizeof *fds);
    if (s == NULL || fds == NULL)
        return 2;

    /* Start every session: each runs until it would wait. */
    for (i = 0; i < n; i++) {
        s[i].id = i + 1;
        s[i].h = smtp_new();
        if (s[i].h == NULL || smtp_set_nonblocking(s[i].h, 1) != SMTP_OK ||
            smtp_set_timeout(s[i].h, timeout) != SMTP_OK ||
            (cafile != NULL && smtp_set_tls_cafile(s[i].h, cafile) != SMTP_OK)) {
            fprintf(stderr, "poll: cannot set up a handle: %s\n",
                    s[i].h != NULL ? smtp_error_message(s[i].h) : "out of memory");
            return 2;
        }
        advance(&s[i], start_step(&s[i]));
    }

    /* The loop: one poll() over every session under way. Slot i is session
     * i; poll ignores a negative descriptor (a session that is done, or
     * that waits on time only). */
    for (;;) {
        int wait = -1, pending = 0;
        for (i = 0; i < n; i++) {
            fds[i].fd = -1;
            fds[i].revents = 0;
            if (!smtp_pending(s[i].h))
                continue;
            pending++;
            int want = smtp_want(s[i].h);
            fds[i].fd = smtp_fd(s[i].h);
            fds[i].events = (short)((want & SMTP_WANT_READ ? POLLIN : 0) |
                                    (want & SMTP_WANT_WRITE ? POLLOUT : 0));
            /* Wake up for the nearest deadline: libsmtp enforces it when
             * resumed, however quiet the server. */
            long ms = smtp_wait_ms(s[i].h);
            if (ms >= 0 && (wait < 0 || ms < wait))
                wait = (int)ms;
        }
        if (pending == 0)
            break;
        if (poll(fds, (nfds_t)n, wait) < 0 && errno != EINTR) {
            perror("poll");
            return 2;
        }
        /* Resume each session whose descriptor is ready (or in error: the
         * resume reports it) or whose time is up. */
        for (i = 0; i < n; i++)
            if (smtp_pending(s[i].h) && (fds[i].revents != 0 || smtp_wait_ms(s[i].h) == 0))
                advance(&s[i], smtp_resume(s[i].h));
    }

    int failed = 0, sent = 0;
    for (i = 0; i < n; i++) {
        failed += s[i].failed;
        sent += s[i].sent;
        smtp_free(s[i].h);
    }
    printf("%d session(s): %d ok, %d failed; %d message(s) sent\n", n, n - failed, failed, sent);
    free(s);
    free(fds);
    return failed > 0;
}
