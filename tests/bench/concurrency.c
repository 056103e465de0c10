/*
 * The concurrency benchmark's client (run by tests/bench/concurrency.py):
 * SESSIONS sessions, each connecting, greeting (EHLO), sending MESSAGES
 * copies of MSGFILE with smtp_sendmail and quitting, spread in turn over
 * the smtp-sink PORTs on 127.0.0.1, done either
 *
 *   concurrency multi OPEN SESSIONS MESSAGES MSGFILE PORT...
 *     non-blocking, from this one thread with smtp_multi, OPEN sessions at
 *     once: OPEN handles connect and greet, then each sends, quits, and
 *     runs the next session left, until none is; with OPEN = SESSIONS,
 *     every session at once; or
 *
 *   concurrency threads THREADS SESSIONS MESSAGES MSGFILE PORT...
 *     by THREADS threads on the blocking API, each running one session
 *     after another until none is left.
 *
 * Prints one line of key=value fields: the wall time and the CPU time
 * (user + system, getrusage) from the first connect to the last QUIT, the
 * peak RSS (VmHWM), and the resident memory taken by the sessions open
 * at once while idle (the OPEN first sessions connected and greeted in
 * multi mode; in threads mode each thread's first session, connected and
 * greeted, with its thread) over a baseline measured just before, after
 * one warm-up session; also the time until they were all greeted. Exits 1
 * if any session failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "smtp.h"

static const char *const to[] = {"to@example.org"};
static const char *from = "from@example.org";
static uint8_t *msg;
static size_t msg_len;
static char **ports;
static int n_ports;
static int sessions, messages;
static atomic_int failures;

static unsigned port_of(int i) { return (unsigned)atoi(ports[i % n_ports]); }

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The peak resident set of this program, in KiB: VmHWM of
   /proc/self/status. getrusage's ru_maxrss would do but for one thing: Linux
   carries it over exec, so a program started by a large parent (the Python
   runner) would report the parent's pages it shared before exec. */
static long peak_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
      break;
  fclose(f);
  return kib;
}

/* The resident set now, in KiB (/proc/self/statm). */
static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (f == NULL)
    return -1;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2)
    resident = -1;
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void failed(smtp_handle *h, int i, const char *what, smtp_status st) {
  fprintf(stderr, "session %d: %s: %s: %s\n", i, what, smtp_error_name(st),
          smtp_error_message(h));
  atomic_fetch_add(&failures, 1);
}

static smtp_handle *new_handle(void) {
  smtp_handle *h = smtp_new();
  if (h == NULL || smtp_set_timeout(h, 120) != SMTP_OK ||
      smtp_set_local_hostname(h, "bench.example") != SMTP_OK) {
    fprintf(stderr, "cannot set up a handle\n");
    exit(1);
  }
  return h;
}

/* One whole blocking session, so that what the library sets up once
   (OpenSSL, the first allocations) is in the baseline. */
static void warm_up(void) {
  smtp_handle *h = new_handle();
  smtp_status st = smtp_connect(h, "127.0.0.1", port_of(0));
  if (st == SMTP_OK)
    st = smtp_sendmail(h, from, to, 1, msg, msg_len, NULL, 0, NULL, 0);
  if (st == SMTP_OK)
    st = smtp_quit(h);
  if (st != SMTP_OK) {
    failed(h, -1, "warm-up", st);
    exit(1);
  }
  smtp_free(h);
}

/* ----- multi: every session at once, one thread ----- */

enum step { CONNECTING, GREETING, READY, SENDING, QUITTING, DONE, FAILED };

struct session {
  smtp_handle *h;
  int index; /* the session this handle runs now */
  enum step step;
  int sent;  /* messages sent in this session */
  long total; /* messages sent by this handle */
};

/* The next session to start, and whether sessions may send (not before
   the idle measure). */
static int next_session;
static int go;

struct entry {
  smtp_handle *h;
  struct session *s;
};

static int by_handle(const void *a, const void *b) {
  const struct entry *x = a, *y = b;
  return (x->h > y->h) - (x->h < y->h);
}

static void advance(struct session *s, smtp_status st) {
  while (st != SMTP_AGAIN) {
    if (st != SMTP_OK) {
      failed(s->h, s->index, "multi", st);
      s->step = FAILED;
      return;
    }
    switch (s->step) {
    case CONNECTING:
      s->step = GREETING;
      st = smtp_ehlo(s->h, NULL);
      break;
    case GREETING:
      s->step = READY;
      if (!go)
        return;
      /* fall through */
    case READY:
      s->step = SENDING;
      st = smtp_sendmail(s->h, from, to, 1, msg, msg_len, NULL, 0, NULL, 0);
      break;
    case SENDING:
      s->total++;
      if (++s->sent < messages) {
        st = smtp_sendmail(s->h, from, to, 1, msg, msg_len, NULL, 0, NULL, 0);
      } else {
        s->step = QUITTING;
        st = smtp_quit(s->h);
      }
      break;
    case QUITTING:
      if (next_session >= sessions) {
        s->step = DONE;
        return;
      }
      /* The handle runs the next session. */
      s->index = next_session++;
      s->sent = 0;
      s->step = CONNECTING;
      st = smtp_connect(s->h, "127.0.0.1", port_of(s->index));
      break;
    case DONE:
    case FAILED:
      return;
    }
  }
}

static void run_all(smtp_multi *m, struct entry *index, size_t n) {
  while (smtp_multi_pending(m) > 0) {
    if (smtp_multi_run(m, 1000) < 0) {
      fprintf(stderr, "smtp_multi_run: %s\n", strerror(errno));
      exit(1);
    }
    smtp_status st;
    smtp_handle *done;
    while ((done = smtp_multi_next(m, &st)) != NULL) {
      struct entry key = {done, NULL};
      struct entry *e = bsearch(&key, index, n, sizeof *index, by_handle);
      if (e == NULL) {
        fprintf(stderr, "unknown handle from smtp_multi_next\n");
        exit(1);
      }
      advance(e->s, st);
    }
  }
}

static void run_multi(int at_once) {
  struct session *all = calloc((size_t)at_once, sizeof *all);
  struct entry *index = calloc((size_t)at_once, sizeof *index);
  if (all == NULL || index == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  warm_up();
  smtp_multi *m = smtp_multi_new();
  if (m == NULL) {
    fprintf(stderr, "smtp_multi_new failed\n");
    exit(1);
  }
  long base = rss_kib();
  double cpu0 = cpu_seconds(), t0 = now();

  for (int i = 0; i < at_once; i++) {
    all[i].h = new_handle();
    all[i].index = next_session++;
    if (smtp_multi_add(m, all[i].h) != SMTP_OK) {
      fprintf(stderr, "smtp_multi_add failed\n");
      exit(1);
    }
    index[i].h = all[i].h;
    index[i].s = &all[i];
  }
  qsort(index, (size_t)at_once, sizeof *index, by_handle);
  for (int i = 0; i < at_once; i++)
    advance(&all[i],
            smtp_connect(all[i].h, "127.0.0.1", port_of(all[i].index)));
  run_all(m, index, (size_t)at_once);
  double greeted = now() - t0;
  long idle = rss_kib();
  int ready = 0;
  for (int i = 0; i < at_once; i++)
    ready += all[i].step == READY;

  go = 1;
  for (int i = 0; i < at_once; i++)
    if (all[i].step == READY)
      advance(&all[i], SMTP_OK);
  run_all(m, index, (size_t)at_once);
  double wall = now() - t0, cpu = cpu_seconds() - cpu0;

  long sent = 0;
  for (int i = 0; i < at_once; i++) {
    sent += all[i].total;
    smtp_free(all[i].h);
  }
  smtp_multi_free(m);
  printf("mode=multi workers=1 sessions=%d open_at_once=%d messages=%ld "
         "seconds=%.6f greeted_seconds=%.6f cpu_seconds=%.6f base_rss_kib=%ld "
         "idle_rss_kib=%ld peak_rss_kib=%ld\n",
         sessions, ready, sent, wall, greeted, cpu, base, idle, peak_rss_kib());
  free(index);
  free(all);
}

/* ----- threads: blocking sessions one after another ----- */

static atomic_int next_thread_session;
static atomic_long sent_total;
static pthread_barrier_t barrier;

/* Runs sessions until none is left; the first, once greeted, waits at the
   barrier twice (the main thread measures in between). */
static void *worker(void *arg) {
  int waited = 0;
  (void)arg;
  for (;;) {
    int i = atomic_fetch_add(&next_thread_session, 1);
    if (i >= sessions)
      break;
    smtp_handle *h = new_handle();
    smtp_status st = smtp_connect(h, "127.0.0.1", port_of(i));
    if (st == SMTP_OK)
      st = smtp_ehlo(h, NULL);
    if (!waited) {
      pthread_barrier_wait(&barrier);
      pthread_barrier_wait(&barrier);
      waited = 1;
    }
    int n = 0;
    while (st == SMTP_OK && n < messages) {
      st = smtp_sendmail(h, from, to, 1, msg, msg_len, NULL, 0, NULL, 0);
      n += st == SMTP_OK;
    }
    if (st == SMTP_OK)
      st = smtp_quit(h);
    if (st != SMTP_OK)
      failed(h, i, "blocking", st);
    atomic_fetch_add(&sent_total, n);
    smtp_free(h);
  }
  if (!waited) {
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);
  }
  return NULL;
}

static void run_threads(int threads) {
  pthread_t *tid = calloc((size_t)threads, sizeof *tid);
  if (tid == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  warm_up();
  pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1);
  long base = rss_kib();
  double cpu0 = cpu_seconds(), t0 = now();
  for (int t = 0; t < threads; t++)
    if (pthread_create(&tid[t], NULL, worker, NULL) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      exit(1);
    }
  pthread_barrier_wait(&barrier);
  double greeted = now() - t0;
  long idle = rss_kib();
  pthread_barrier_wait(&barrier);
  for (int t = 0; t < threads; t++)
    pthread_join(tid[t], NULL);
  double wall = now() - t0, cpu = cpu_seconds() - cpu0;
  pthread_barrier_destroy(&barrier);
  int at_once = threads < sessions ? threads : sessions;
  printf("mode=threads workers=%d sessions=%d open_at_once=%d messages=%ld "
         "seconds=%.6f greeted_seconds=%.6f cpu_seconds=%.6f base_rss_kib=%ld "
         "idle_rss_kib=%ld peak_rss_kib=%ld\n",
         threads, sessions, at_once, atomic_load(&sent_total), wall, greeted,
         cpu, base, idle, peak_rss_kib());
  free(tid);
}

static void read_message(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL || fseek(f, 0, SEEK_END) != 0) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    exit(1);
  }
  long len = ftell(f);
  rewind(f);
  msg = malloc(len > 0 ? (size_t)len : 1);
  if (msg == NULL || fread(msg, 1, (size_t)len, f) != (size_t)len) {
    fprintf(stderr, "%s: cannot read\n", path);
    exit(1);
  }
  msg_len = (size_t)len;
  fclose(f);
}

int main(int argc, char **argv) {
  int threads = 0, at_once = 0;
  int at;
  if (argc >= 7 && strcmp(argv[1], "multi") == 0) {
    at_once = atoi(argv[2]);
    at = 3;
  } else if (argc >= 7 && strcmp(argv[1], "threads") == 0) {
    threads = atoi(argv[2]);
    at = 3;
  } else {
    fprintf(stderr,
            "usage: %s multi OPEN SESSIONS MESSAGES MSGFILE PORT...\n"
            "       %s threads THREADS SESSIONS MESSAGES MSGFILE PORT...\n",
            argv[0], argv[0]);
    return 2;
  }
  sessions = atoi(argv[at]);
  messages = atoi(argv[at + 1]);
  read_message(argv[at + 2]);
  ports = argv + at + 3;
  n_ports = argc - at - 3;
  if (sessions < 1 || messages < 1 || threads + at_once < 1 ||
      at_once > sessions) {
    fprintf(stderr, "bad counts\n");
    return 2;
  }

  /* One descriptor per open session: beyond the usual soft limit of 1024
     (poll() itself has no FD_SETSIZE bound). */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  if (threads > 0)
    run_threads(threads);
  else
    run_multi(at_once);
  free(msg);
  return atomic_load(&failures) == 0 ? 0 : 1;
}
