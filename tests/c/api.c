/*
 * The C API in use, from C: a body streamed in pieces (smtp_send_begin /
 * write / end), a body read through a callback, a batch over one
 * connection, DSN requests, enhanced status codes and the EHLO feature
 * list, against the smtp-sink whose port is argv[1]. tests/c_api.rs checks
 * what arrived, and runs this plain and under valgrind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

static int failures;

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
              #cond);                                                    \
      failures++;                                                        \
    }                                                                    \
  } while (0)

#define OK(call)                                                         \
  do {                                                                   \
    smtp_status st_ = (call);                                            \
    if (st_ != SMTP_OK) {                                                \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,      \
              smtp_error_message(h));                                    \
      failures++;                                                        \
    }                                                                    \
  } while (0)

static const char *to[] = {"b@example.net"};

/* Streamed: pieces cut inside a CR LF and right before a leading dot. */
static void streamed(smtp_handle *h) {
  static const char *pieces[] = {"Subject: streamed\r", "\n\r\nline one\r",
                                 "\n", ".dot line\n", "last"};
  OK(smtp_send_begin(h, "a@example.org", to, 1, 0, NULL, 0, NULL, 0));
  for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++)
    OK(smtp_send_write(h, (const uint8_t *)pieces[i], strlen(pieces[i])));
  OK(smtp_send_end(h));
  CHECK(smtp_recipient_count(h) == 1);
}

struct source {
  const char *text;
  size_t pos;
};

/* Hands out the text three bytes at a time. */
static ptrdiff_t three_at_a_time(void *userdata, uint8_t *buf, size_t cap) {
  struct source *s = userdata;
  size_t left = strlen(s->text) - s->pos;
  size_t n = left < 3 ? left : 3;
  if (n > cap)
    n = cap;
  memcpy(buf, s->text + s->pos, n);
  s->pos += n;
  return (ptrdiff_t)n;
}

static void callback(smtp_handle *h) {
  struct source s = {"Subject: callback\r\n\r\nfrom a callback\r\n", 0};
  OK(smtp_sendmail_callback(h, "a@example.org", to, 1, three_at_a_time, &s,
                            0, NULL, 0, NULL, 0));
  CHECK(s.pos == strlen(s.text));
}

static void batch(smtp_handle *h) {
  static const char *bodies[] = {
      "Subject: batch 0\r\n\r\nzero\r\n", "Subject: batch 1\r\n\r\none\r\n",
      "Subject: batch 2\r\n\r\ntwo\r\n", "Subject: batch 3\r\n\r\nthree\r\n",
      "Subject: batch 4\r\n\r\nfour\r\n"};
  smtp_message msgs[5];
  smtp_status statuses[5];
  for (size_t i = 0; i < 5; i++) {
    msgs[i].from = "a@example.org";
    msgs[i].to = to;
    msgs[i].n_to = 1;
    msgs[i].data = (const uint8_t *)bodies[i];
    msgs[i].len = strlen(bodies[i]);
    statuses[i] = -1;
  }
  OK(smtp_sendmail_batch(h, msgs, 5, NULL, 0, NULL, 0, statuses));
  for (size_t i = 0; i < 5; i++)
    CHECK(statuses[i] == SMTP_OK);
}

/* DSN requests; smtp-sink offers DSN. Then the enhanced codes of the last
 * reply (to the end of data) and of the recipient. */
static void dsn_and_enhanced_codes(smtp_handle *h) {
  const char *msg = "Subject: dsn\r\n\r\nwith DSN\r\n";
  const char *code;
  OK(smtp_set_dsn_ret(h, SMTP_DSN_RET_HDRS));
  OK(smtp_set_dsn_envid(h, "env+1"));
  OK(smtp_set_dsn_notify(h, SMTP_DSN_NOTIFY_SUCCESS | SMTP_DSN_NOTIFY_FAILURE));
  OK(smtp_set_dsn_orcpt(h, 1));
  OK(smtp_sendmail(h, "a@example.org", to, 1, (const uint8_t *)msg,
                   strlen(msg), NULL, 0, NULL, 0));
  code = smtp_reply_enhanced(h);
  CHECK(code != NULL && strcmp(code, "2.0.0") == 0);
  code = smtp_recipient_enhanced(h, 0);
  CHECK(code != NULL && strcmp(code, "2.1.5") == 0);
  CHECK(smtp_recipient_enhanced(h, 1) == NULL);
  /* Back to no DSN for whatever follows. */
  OK(smtp_set_dsn_ret(h, SMTP_DSN_RET_NONE));
  OK(smtp_set_dsn_envid(h, NULL));
  OK(smtp_set_dsn_notify(h, 0));
  OK(smtp_set_dsn_orcpt(h, 0));
}

/* smtp_esmtp_feature_at lists what smtp_has_extn answers. */
static void features(smtp_handle *h) {
  size_t n = smtp_esmtp_feature_count(h);
  int saw_pipelining = 0;
  CHECK(n > 3);
  for (size_t i = 0; i < n; i++) {
    const char *name = NULL, *params = NULL;
    OK(smtp_esmtp_feature_at(h, i, &name, &params));
    CHECK(name != NULL && params != NULL && smtp_has_extn(h, name));
    if (name != NULL && strcmp(name, "pipelining") == 0)
      saw_pipelining = 1;
  }
  CHECK(saw_pipelining);
}

/* smtplib's putcmd/getreply pair and the source_address attribute. */
static void parity(smtp_handle *h) {
  const char *host = "unset";
  unsigned port = 1;
  OK(smtp_putcmd(h, "NOOP", NULL));
  OK(smtp_getreply(h));
  CHECK(smtp_reply_code(h) == 250);
  CHECK(smtp_putcmd(h, "NOOP", "a\r\nRSET") == SMTP_ERR_INVALID);
  OK(smtp_source_address(h, &host, &port));
  CHECK(host == NULL && port == 0);
  OK(smtp_set_source_address(h, "127.0.0.1", 0));
  OK(smtp_source_address(h, &host, &port));
  CHECK(host != NULL && strcmp(host, "127.0.0.1") == 0 && port == 0);
  OK(smtp_set_source_address(h, NULL, 0));
  OK(smtp_source_address(h, &host, NULL));
  CHECK(host == NULL);
}

int main(int argc, char **argv) {
  smtp_handle *h = NULL;
  if (argc != 2) {
    fprintf(stderr, "usage: api SINK_PORT\n");
    return 2;
  }
  OK(smtp_open("127.0.0.1", (unsigned)strtoul(argv[1], NULL, 10), &h));
  if (h == NULL || !smtp_is_connected(h))
    return 1;
  OK(smtp_set_local_hostname(h, "api.example"));
  streamed(h);
  callback(h);
  batch(h);
  dsn_and_enhanced_codes(h);
  features(h);
  parity(h);
  OK(smtp_quit(h));
  smtp_free(h);
  if (failures == 0)
    printf("all checks passed\n");
  return failures == 0 ? 0 : 1;
}
