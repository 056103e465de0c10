/* libevent: the work of poll.c (many SMTP sessions, one thread) driven by
 * libevent's event_base instead of a poll() loop of our own.
 *
 * Each session owns one event. Whenever a libsmtp call returns SMTP_AGAIN
 * the event is re-armed: on smtp_fd for what smtp_want says (EV_READ,
 * EV_WRITE), with smtp_wait_ms as its timeout. When it fires, ready or
 * timed out, smtp_resume goes on (on a timeout libsmtp enforces the
 * operation's deadline). event_base_dispatch returns once no session has an
 * event armed, that is when every session is over.
 *
 * Usage: libevent [--starttls] [--cafile FILE] [--timeout SECONDS]
 *                 HOST PORT SESSIONS MESSAGES
 * HOST should be an address literal ("127.0.0.1"): resolving a name blocks.
 * Prints one line per session and a summary; exits 1 if any session failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "smtp.h"

enum step { CONNECT, STARTTLS, SEND, QUIT, DONE };
static const char *const STEP_NAME[] = {"connect", "starttls", "sendmail", "quit"};

struct session {
    smtp_handle *h;
    struct event *ev; /* made once, re-armed after each SMTP_AGAIN */
    int id;
    enum step step;
    int sent;      /* messages the server accepted */
    int failed;
    char msg[128]; /* not copied by libsmtp: untouched until sent */
};

static struct event_base *base;
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

static void on_event(evutil_socket_t fd, short what, void *arg);

/* Arms the session's event for the operation under way. */
static void arm(struct session *s)
{
    int want = smtp_want(s->h);
    short what = (short)((want & SMTP_WANT_READ ? EV_READ : 0) |
                         (want & SMTP_WANT_WRITE ? EV_WRITE : 0));
    long ms = smtp_wait_ms(s->h);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    /* smtp_fd is -1 when the wait is on time only: then a plain timer. The
     * descriptor may differ from the last wait's (a new connection). */
    event_assign(s->ev, base, smtp_fd(s->h), what, on_event, s);
    event_add(s->ev, ms >= 0 ? &tv : NULL);
}

/* Takes the outcome of the current step and starts the next ones, until
 * one is under way (then the event is armed) or the session is over. */
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
    if (st == SMTP_AGAIN)
        arm(s);
}

/* The descriptor is ready, or the timeout passed: go on either way. */
static void on_event(evutil_socket_t fd, short what, void *arg)
{
    struct session *s = arg;
    (void)fd;
    (void)what;
    advance(s, smtp_resume(s->h));
}

static int usage(void)
{
    fprintf(stderr, "usage: libevent [--starttls] [--cafile FILE] [--timeout SECONDS] "
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

    base = event_base_new();
    struct session *s = calloc((size_t)n, sizeof *s);
    if (base == NULL || s == NULL)
        return 2;

    /* Start every session: each runs until it would wait, then arms. */
    for (i = 0; i < n; i++) {
        s[i].id = i + 1;
        s[i].h = smtp_new();
        s[i].ev = event_new(base, -1, 0, on_event, &s[i]);
        if (s[i].h == NULL || s[i].ev == NULL || smtp_set_nonblocking(s[i].h, 1) != SMTP_OK ||
            smtp_set_timeout(s[i].h, timeout) != SMTP_OK ||
            (cafile != NULL && smtp_set_tls_cafile(s[i].h, cafile) != SMTP_OK)) {
            fprintf(stderr, "libevent: cannot set up a handle: %s\n",
                    s[i].h != NULL ? smtp_error_message(s[i].h) : "out of memory");
            return 2;
        }
        advance(&s[i], start_step(&s[i]));
    }

    /* Runs the callbacks until no event is armed: every session is over. */
    if (event_base_dispatch(base) < 0) {
        fprintf(stderr, "libevent: event_base_dispatch failed\n");
        return 2;
    }

    int failed = 0, sent = 0;
    for (i = 0; i < n; i++) {
        failed += s[i].failed;
        sent += s[i].sent;
        event_free(s[i].ev);
        smtp_free(s[i].h);
    }
    printf("%d session(s): %d ok, %d failed; %d message(s) sent\n", n, n - failed, failed, sent);
    event_base_free(base);
    free(s);
    return failed > 0;
}
