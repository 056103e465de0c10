/*
 * Many concurrent sessions from one thread, through smtp_multi: SESSIONS
 * handles, all connected and greeted at once (the first TLS_SESSIONS of
 * them through STARTTLS to TLS_PORT, verified against CAFILE; the others
 * spread in turn over the plain PORTs), then each sends MESSAGES messages
 * with smtp_sendmail and quits. No session waits for another: every call
 * either completes or returns SMTP_AGAIN, and one smtp_multi_run (one
 * poll()) at a time resumes whichever are ready.
 *
 *   many SESSIONS MESSAGES CAFILE TLS_PORT TLS_SESSIONS PORT...
 *
 * Prints "connected at once: N" when every session has been greeted (and
 * has finished STARTTLS) and none has sent yet, then one line per session,
 * "session I STATUS sent M tls VERSION waited W" (STATUS the
 * smtp_error_name of its final status, "OK" when every step succeeded; W
 * the number of its operations that returned SMTP_AGAIN and completed
 * later, through smtp_multi_next), then "most pending at once: P" (the
 * largest smtp_multi_pending seen) and "threads: T" from
 * /proc/self/status. Exits 0 only when every session succeeded.
 * tests/nonblocking_scale.rs checks what the servers stored, and runs a
 * smaller set under valgrind. Message N of session I is built by
 * message_text below; the test builds the same bytes.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "smtp.h"

enum step { CONNECTING, GREETING, READY, SENDING, QUITTING, DONE, FAILED };

static const char *const step_names[] = {"connect",  "EHLO/STARTTLS",
                                         "ready",    "sendmail",
                                         "QUIT",     "done",
                                         "failed"};

struct session {
  smtp_handle *h;
  int index;
  int tls;
  unsigned port;
  enum step step;
  int sent;
  /* Operations that returned SMTP_AGAIN and completed later, reported by
     smtp_multi_next. */
  int waited;
  smtp_status final;
  char tls_version[32];
  /* The message being sent: smtp_sendmail does not copy it, so it stays
     here, unchanged, until that operation completes. */
  char msg[320];
  char from[64];
};

static int messages;
static const char *const to[] = {"rcpt@example.net"};

/* A handle and the session it belongs to, sorted by handle for bsearch. */
struct entry {
  smtp_handle *h;
  struct session *s;
};

static int by_handle(const void *a, const void *b) {
  const struct entry *x = a, *y = b;
  return (x->h > y->h) - (x->h < y->h);
}

/* The text of message `n` of session `i`: distinct headers and a body with
   a line that needs dot-stuffing. */
static int message_text(char *buf, size_t cap, int i, int n) {
  return snprintf(buf, cap,
                  "From: s%d@example.org\r\n"
                  "To: rcpt@example.net\r\n"
                  "Subject: session %d message %d\r\n"
                  "X-Session: %d\r\n"
                  "X-Message: %d\r\n"
                  "\r\n"
                  "Message %d of session %d.\r\n"
                  ".a line that starts with a dot\r\n",
                  i, i, n, i, n, n, i);
}

static smtp_status start_message(struct session *s) {
  int len = message_text(s->msg, sizeof s->msg, s->index, s->sent);
  return smtp_sendmail(s->h, s->from, to, 1, (const uint8_t *)s->msg,
                       (size_t)len, NULL, 0, NULL, 0);
}

static void fail(struct session *s, smtp_status st) {
  fprintf(stderr, "session %d: %s failed: %s: %s\n", s->index,
          step_names[s->step], smtp_error_name(st), smtp_error_message(s->h));
  s->final = st;
  s->step = FAILED;
}

/* The session's step in progress ended with `st`: start the next one, and
   the one after when a step completes at once, until one is pending
   (SMTP_AGAIN: the multi resumes it), the session waits for the others
   (READY), or it ends. */
static void advance(struct session *s, smtp_status st) {
  for (;;) {
    if (st == SMTP_AGAIN)
      return;
    if (st != SMTP_OK) {
      fail(s, st);
      return;
    }
    switch (s->step) {
    case CONNECTING:
      s->step = GREETING;
      /* STARTTLS sends EHLO first, and again over TLS. */
      st = s->tls ? smtp_starttls(s->h) : smtp_ehlo(s->h, NULL);
      break;
    case GREETING: {
      const char *v = smtp_tls_version(s->h);
      if (s->tls && v == NULL) {
        fprintf(stderr, "session %d: no TLS after STARTTLS\n", s->index);
        s->final = SMTP_ERR_TLS;
        s->step = FAILED;
        return;
      }
      snprintf(s->tls_version, sizeof s->tls_version, "%s", v ? v : "-");
      s->step = READY;
      return;
    }
    case READY:
      s->step = SENDING;
      st = start_message(s);
      break;
    case SENDING:
      s->sent++;
      if (s->sent < messages) {
        st = start_message(s);
      } else {
        s->step = QUITTING;
        st = smtp_quit(s->h);
      }
      break;
    case QUITTING:
      s->step = DONE;
      s->final = SMTP_OK;
      return;
    case DONE:
    case FAILED:
      return;
    }
  }
}

/* Runs the multi until no operation is pending, advancing each session
   whose operation completed. 0, or -1 on a poll failure. */
static int most_pending;

static int run_all(smtp_multi *m, struct entry *index, size_t n) {
  while (smtp_multi_pending(m) > 0) {
    if (smtp_multi_pending(m) > most_pending)
      most_pending = smtp_multi_pending(m);
    if (smtp_multi_run(m, 1000) < 0) {
      fprintf(stderr, "smtp_multi_run: %s\n", strerror(errno));
      return -1;
    }
    smtp_status st;
    smtp_handle *done;
    while ((done = smtp_multi_next(m, &st)) != NULL) {
      struct entry key = {done, NULL};
      struct entry *e = bsearch(&key, index, n, sizeof *index, by_handle);
      if (e == NULL) {
        fprintf(stderr, "smtp_multi_next gave an unknown handle\n");
        return -1;
      }
      e->s->waited++;
      advance(e->s, st);
    }
  }
  return 0;
}

/* The Threads: line of /proc/self/status; -1 when unreadable. */
static int thread_count(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  int n = -1;
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "Threads: %d", &n) == 1)
      break;
  fclose(f);
  return n;
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: %s SESSIONS MESSAGES CAFILE TLS_PORT "
                    "TLS_SESSIONS PORT...\n",
            argv[0]);
    return 2;
  }
  int n = atoi(argv[1]);
  messages = atoi(argv[2]);
  const char *cafile = argv[3];
  unsigned tls_port = (unsigned)atoi(argv[4]);
  int n_tls = atoi(argv[5]);
  char **ports = argv + 6;
  int n_ports = argc - 6;
  if (n < 1 || messages < 1 || n_tls < 0 || n_tls > n) {
    fprintf(stderr, "bad counts\n");
    return 2;
  }

  /* One descriptor per session, beyond the usual 1024: poll() has no
     FD_SETSIZE limit, the soft limit does. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      fprintf(stderr, "setrlimit: %s\n", strerror(errno));
      return 1;
    }
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)n + 64) {
    fprintf(stderr, "only %llu descriptors allowed for %d sessions\n",
            (unsigned long long)rl.rlim_cur, n);
    return 1;
  }

  struct session *sessions = calloc((size_t)n, sizeof *sessions);
  struct entry *index = calloc((size_t)n, sizeof *index);
  smtp_multi *m = smtp_multi_new();
  if (sessions == NULL || index == NULL || m == NULL) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }

  int failures = 0;
  for (int i = 0; i < n; i++) {
    struct session *s = &sessions[i];
    s->index = i;
    s->tls = i < n_tls;
    s->port = s->tls ? tls_port
                     : (unsigned)atoi(ports[(i - n_tls) % n_ports]);
    s->step = CONNECTING;
    s->final = SMTP_ERR_NOT_ATTEMPTED;
    snprintf(s->tls_version, sizeof s->tls_version, "-");
    snprintf(s->from, sizeof s->from, "s%d@example.org", i);
    s->h = smtp_new();
    if (s->h == NULL || smtp_set_timeout(s->h, 60) != SMTP_OK ||
        smtp_set_local_hostname(s->h, "many.example") != SMTP_OK ||
        (s->tls && smtp_set_tls_cafile(s->h, cafile) != SMTP_OK) ||
        smtp_multi_add(m, s->h) != SMTP_OK) {
      fprintf(stderr, "session %d: cannot set up its handle\n", i);
      return 1;
    }
    index[i].h = s->h;
    index[i].s = s;
  }
  qsort(index, (size_t)n, sizeof *index, by_handle);
  if (smtp_multi_count(m) != (size_t)n) {
    fprintf(stderr, "smtp_multi_count: %zu, not %d\n", smtp_multi_count(m),
            n);
    failures++;
  }

  /* Every session connects (an address literal: nothing blocks on name
     resolution) and is greeted, all at once. */
  for (int i = 0; i < n; i++)
    advance(&sessions[i], smtp_connect(sessions[i].h, "127.0.0.1",
                                       sessions[i].port));
  if (run_all(m, index, (size_t)n) != 0)
    return 1;
  int connected = 0;
  for (int i = 0; i < n; i++)
    connected += sessions[i].step == READY && smtp_is_connected(sessions[i].h);
  printf("connected at once: %d\n", connected);

  /* Then every session sends its messages and quits. */
  for (int i = 0; i < n; i++)
    if (sessions[i].step == READY)
      advance(&sessions[i], SMTP_OK);
  if (run_all(m, index, (size_t)n) != 0)
    return 1;

  smtp_status st;
  if (smtp_multi_next(m, &st) != NULL) {
    fprintf(stderr, "a completion is left after the run\n");
    failures++;
  }
  for (int i = 0; i < n; i++) {
    struct session *s = &sessions[i];
    if (s->step != DONE && s->step != FAILED) {
      fprintf(stderr, "session %d stopped at %s\n", i, step_names[s->step]);
      failures++;
    }
    if (s->final != SMTP_OK)
      failures++;
    printf("session %d %s sent %d tls %s waited %d\n", i,
           smtp_error_name(s->final), s->sent, s->tls_version, s->waited);
  }
  printf("most pending at once: %d\n", most_pending);
  printf("threads: %d\n", thread_count());

  for (int i = 0; i < n; i++)
    smtp_free(sessions[i].h); /* leaves the multi too */
  if (smtp_multi_count(m) != 0) {
    fprintf(stderr, "handles left in the multi after smtp_free\n");
    failures++;
  }
  smtp_multi_free(m);
  free(index);
  free(sessions);
  return failures == 0 ? 0 : 1;
}
