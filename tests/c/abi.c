/*
 * The C ABI of libsmtp under abuse: NULL for every pointer argument of
 * every function in smtp.h, bad UTF-8, CR/LF in arguments, a failed open,
 * borrowed strings, a debug callback calling back into the library, and
 * eight threads with a handle each. Run by tests/c_abi.rs, plain and under
 * valgrind. Usage: abi SINK_PORT DEAD_PORT (an smtp-sink, and a loopback
 * port with nothing listening).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

static int failures;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,  \
              #cond);                                                   \
      failures++;                                                       \
    }                                                                   \
  } while (0)

#define INVALID(call) CHECK((call) == SMTP_ERR_INVALID)

static unsigned sink_port;
static unsigned dead_port;

/* Every function, given a NULL handle: SMTP_ERR_INVALID, or the
 * documented default (NULL, 0, -1), and no crash. */
static void null_handle(void) {
  const char *s = NULL;
  const char *opts[1] = {"X"};
  const char *to[1] = {"b@example.net"};
  int code = 0, accepted = 0;

  INVALID(smtp_helo(NULL, "client.example"));
  INVALID(smtp_ehlo(NULL, "client.example"));
  INVALID(smtp_ehlo_or_helo_if_needed(NULL));
  INVALID(smtp_docmd(NULL, "NOOP", NULL));
  INVALID(smtp_putcmd(NULL, "NOOP", NULL));
  INVALID(smtp_getreply(NULL));
  INVALID(smtp_source_address(NULL, NULL, NULL));
  INVALID(smtp_noop(NULL));
  INVALID(smtp_rset(NULL));
  INVALID(smtp_verify(NULL, "a@example.org"));
  INVALID(smtp_expn(NULL, "list"));
  INVALID(smtp_help(NULL, NULL));
  INVALID(smtp_mail(NULL, "a@example.org", opts, 1));
  INVALID(smtp_rcpt(NULL, "b@example.net", opts, 1));
  INVALID(smtp_data(NULL, (const uint8_t *)"x", 1));
  INVALID(smtp_sendmail(NULL, "a@example.org", to, 1, (const uint8_t *)"x", 1,
                        NULL, 0, NULL, 0));
  INVALID(smtp_quit(NULL));
  INVALID(smtp_starttls(NULL));
  INVALID(smtp_connect(NULL, "127.0.0.1", dead_port));
  INVALID(smtp_close(NULL));
  smtp_free(NULL);
  INVALID(smtp_set_debuglevel(NULL, 1));
  INVALID(smtp_set_debug_callback(NULL, NULL, NULL));
  INVALID(smtp_set_local_hostname(NULL, "client.example"));
  CHECK(smtp_local_hostname(NULL) == NULL);
  INVALID(smtp_set_timeout(NULL, 5.0));
  CHECK(smtp_timeout(NULL) == 0.0);
  INVALID(smtp_set_source_address(NULL, "127.0.0.1", 0));
  INVALID(smtp_set_tls_verify(NULL, 1));
  INVALID(smtp_set_tls_cafile(NULL, "/nonexistent"));
  INVALID(smtp_set_tls_cadir(NULL, "/nonexistent"));
  INVALID(smtp_set_tls_client_cert(NULL, "/nonexistent", NULL));
  INVALID(smtp_set_tls_min_version(NULL, SMTP_TLS1_2));
  INVALID(smtp_set_tls_server_name(NULL, "mx.example"));
  INVALID(smtp_error_code(NULL));
  CHECK(smtp_error_message(NULL) == NULL);
  CHECK(smtp_error_reply_code(NULL) == -1);
  CHECK(smtp_error_reply_text(NULL) == NULL);
  CHECK(smtp_error_sender(NULL) == NULL);
  CHECK(smtp_error_errno(NULL) == 0);
  CHECK(smtp_reply_code(NULL) == -1);
  CHECK(smtp_reply_text(NULL) == NULL);
  CHECK(smtp_is_connected(NULL) == 0);
  CHECK(smtp_does_esmtp(NULL) == 0);
  CHECK(smtp_has_extn(NULL, "size") == 0);
  CHECK(smtp_esmtp_feature(NULL, "size") == NULL);
  CHECK(smtp_esmtp_feature_count(NULL) == 0);
  INVALID(smtp_esmtp_feature_at(NULL, 0, &s, &s));
  CHECK(smtp_helo_resp(NULL) == NULL);
  CHECK(smtp_ehlo_resp(NULL) == NULL);
  CHECK(smtp_recipient_count(NULL) == 0);
  INVALID(smtp_recipient_get(NULL, 0, &s, &code, &s, &accepted));
  CHECK(smtp_refused_count(NULL) == 0);
  INVALID(smtp_refused_get(NULL, 0, &s, &code, &s));
  CHECK(smtp_tls_version(NULL) == NULL);
  CHECK(smtp_tls_cipher(NULL) == NULL);
  CHECK(smtp_tls_peer_subject(NULL) == NULL);
  INVALID(smtp_login(NULL, "user", "password"));
  INVALID(smtp_login_ex(NULL, "user", "password", 1));
  INVALID(smtp_login_oauth2(NULL, "user", "token"));
  INVALID(smtp_set_auth_mechanisms(NULL, opts, 1));
  INVALID(smtp_set_allow_cleartext_auth(NULL, 1));
  INVALID(smtp_buffer_set(NULL, (const uint8_t *)"x", 1));
  INVALID(smtp_auth(NULL, "PLAIN", NULL, NULL, 1));
  INVALID(smtp_send_message(NULL, (const uint8_t *)"x", 1, NULL, NULL, 0,
                            NULL, 0, NULL, 0));
  CHECK(smtp_reply_enhanced(NULL) == NULL);
  CHECK(smtp_error_reply_enhanced(NULL) == NULL);
  CHECK(smtp_recipient_enhanced(NULL, 0) == NULL);
  INVALID(smtp_send_begin(NULL, "a@example.org", to, 1, 0, NULL, 0, NULL, 0));
  INVALID(smtp_send_write(NULL, (const uint8_t *)"x", 1));
  INVALID(smtp_send_end(NULL));
  INVALID(smtp_sendmail_fd(NULL, "a@example.org", to, 1, 0, 0, NULL, 0, NULL, 0));
  INVALID(smtp_sendmail_callback(NULL, "a@example.org", to, 1, NULL, NULL, 0,
                                 NULL, 0, NULL, 0));
  INVALID(smtp_sendmail_batch(NULL, NULL, 0, NULL, 0, NULL, 0, NULL));
  INVALID(smtp_set_pipelining(NULL, 1));
  INVALID(smtp_set_chunking(NULL, 1));
  INVALID(smtp_set_dsn_ret(NULL, SMTP_DSN_RET_FULL));
  INVALID(smtp_set_dsn_envid(NULL, "id"));
  INVALID(smtp_set_dsn_notify(NULL, SMTP_DSN_NOTIFY_FAILURE));
  INVALID(smtp_set_dsn_orcpt(NULL, 1));
  /* Functions without a handle pointer. */
  CHECK(strcmp(smtp_error_name(SMTP_ERR_INVALID), "ValueError") == 0);
  CHECK(strcmp(smtp_error_name(-5), "Unknown") == 0);
  CHECK(smtp_error_is(-5, SMTP_ERR_EXCEPTION) == 0);
  /* A message a batch never got to: a new value, a kind of disconnect. */
  CHECK(SMTP_ERR_NOT_ATTEMPTED == 25);
  CHECK(strcmp(smtp_error_name(SMTP_ERR_NOT_ATTEMPTED), "NotAttempted") == 0);
  CHECK(smtp_error_is(SMTP_ERR_NOT_ATTEMPTED, SMTP_ERR_SERVER_DISCONNECTED) == 1);
  CHECK(smtp_batch_attempted(NULL) == 0);
  /* Non-blocking handles: SMTP_AGAIN is a new value, not an error. */
  CHECK(SMTP_AGAIN == 26);
  CHECK(strcmp(smtp_error_name(SMTP_AGAIN), "Again") == 0);
  CHECK(smtp_error_is(SMTP_AGAIN, SMTP_ERR_EXCEPTION) == 0);
  INVALID(smtp_set_nonblocking(NULL, 1));
  INVALID(smtp_resume(NULL));
  CHECK(smtp_pending(NULL) == 0);
  CHECK(smtp_fd(NULL) == -1);
  CHECK(smtp_want(NULL) == 0);
  CHECK(smtp_wait_ms(NULL) == -1);
  /* The multi handle: NULL for either pointer. */
  {
    smtp_multi *m = smtp_multi_new();
    smtp_handle *h = smtp_new();
    smtp_status st = SMTP_OK;
    CHECK(m != NULL && h != NULL);
    INVALID(smtp_multi_add(NULL, h));
    INVALID(smtp_multi_add(m, NULL));
    INVALID(smtp_multi_remove(NULL, h));
    INVALID(smtp_multi_remove(m, NULL));
    INVALID(smtp_multi_remove(m, h)); /* not in it */
    CHECK(smtp_multi_run(NULL, 0) == -1);
    CHECK(smtp_multi_next(NULL, &st) == NULL);
    CHECK(smtp_multi_next(m, NULL) == NULL);
    CHECK(smtp_multi_count(NULL) == 0);
    CHECK(smtp_multi_pending(NULL) == 0);
    CHECK(smtp_multi_add(m, h) == SMTP_OK);
    CHECK(smtp_multi_count(m) == 1);
    CHECK(smtp_multi_run(m, 0) == 0); /* nothing pending */
    /* Freed in either order. */
    smtp_multi_free(m);
    CHECK(smtp_resume(h) == SMTP_ERR_INVALID);
    smtp_free(h);
    smtp_multi_free(NULL);
  }
  CHECK(smtp_version() != NULL);
  /* NULL out-pointers of the constructors. */
  INVALID(smtp_open("127.0.0.1", dead_port, NULL));
  INVALID(smtp_open_ssl("127.0.0.1", dead_port, NULL));
  INVALID(smtp_open_lmtp("127.0.0.1", dead_port, NULL));
}

/* NULL for each other pointer argument, on a live unconnected handle. */
static void null_arguments(void) {
  smtp_handle *h = smtp_new();
  const char *s = NULL;
  int code = 0;
  CHECK(h != NULL);

  INVALID(smtp_docmd(h, NULL, NULL));
  INVALID(smtp_putcmd(h, NULL, NULL));
  INVALID(smtp_verify(h, NULL));
  INVALID(smtp_expn(h, NULL));
  INVALID(smtp_mail(h, NULL, NULL, 0));
  INVALID(smtp_mail(h, "a@example.org", NULL, 1));
  INVALID(smtp_rcpt(h, NULL, NULL, 0));
  INVALID(smtp_rcpt(h, "b@example.net", NULL, 2));
  INVALID(smtp_data(h, NULL, 3));
  INVALID(smtp_sendmail(h, NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0));
  INVALID(smtp_sendmail(h, "a@example.org", NULL, 1, NULL, 0, NULL, 0, NULL, 0));
  {
    const char *to[2] = {"b@example.net", NULL};
    INVALID(smtp_sendmail(h, "a@example.org", to, 2, NULL, 0, NULL, 0, NULL, 0));
    INVALID(smtp_sendmail(h, "a@example.org", to, 1, NULL, 5, NULL, 0, NULL, 0));
    INVALID(smtp_sendmail(h, "a@example.org", to, 1, NULL, 0, NULL, 1, NULL, 0));
    INVALID(smtp_sendmail(h, "a@example.org", to, 1, NULL, 0, NULL, 0, NULL, 1));
  }
  INVALID(smtp_set_local_hostname(h, NULL));
  INVALID(smtp_login(h, NULL, "password"));
  INVALID(smtp_login(h, "user", NULL));
  INVALID(smtp_login_ex(h, NULL, NULL, 1));
  INVALID(smtp_login_oauth2(h, "user", NULL));
  INVALID(smtp_login_oauth2(h, NULL, "token"));
  INVALID(smtp_set_auth_mechanisms(h, NULL, 2));
  INVALID(smtp_auth(h, NULL, NULL, NULL, 1));
  INVALID(smtp_auth(h, "PLAIN", NULL, NULL, 1));
  INVALID(smtp_send_message(h, NULL, 4, NULL, NULL, 0, NULL, 0, NULL, 0));
  {
    const char *to[1] = {"b@example.net"};
    smtp_message m = {NULL, to, 1, NULL, 0};
    smtp_status st[1] = {SMTP_OK};
    INVALID(smtp_send_message(h, (const uint8_t *)"x", 1, NULL, NULL, 3, NULL, 0, NULL, 0));
    INVALID(smtp_send_begin(h, NULL, to, 1, 0, NULL, 0, NULL, 0));
    INVALID(smtp_send_begin(h, "a@example.org", NULL, 1, 0, NULL, 0, NULL, 0));
    INVALID(smtp_send_write(h, NULL, 2));
    INVALID(smtp_sendmail_fd(h, NULL, to, 1, 0, 0, NULL, 0, NULL, 0));
    INVALID(smtp_sendmail_fd(h, "a@example.org", to, 1, -1, 0, NULL, 0, NULL, 0));
    INVALID(smtp_sendmail_callback(h, "a@example.org", to, 1, NULL, NULL, 0, NULL, 0, NULL, 0));
    INVALID(smtp_sendmail_batch(h, NULL, 1, NULL, 0, NULL, 0, st));
    INVALID(smtp_sendmail_batch(h, &m, 1, NULL, 0, NULL, 0, st));
    INVALID(smtp_set_dsn_ret(h, 7));
    INVALID(smtp_set_dsn_notify(h, 0x100));
    CHECK(smtp_set_dsn_envid(h, NULL) == SMTP_OK);
    /* Without a message in progress, write and end are refused. */
    CHECK(smtp_send_write(h, (const uint8_t *)"x", 1) == SMTP_ERR_EXCEPTION);
    CHECK(smtp_send_end(h) == SMTP_ERR_EXCEPTION);
  }
  CHECK(smtp_reply_enhanced(h) == NULL);
  CHECK(smtp_recipient_enhanced(h, 3) == NULL);
  INVALID(smtp_esmtp_feature_at(h, 0, NULL, &s));
  INVALID(smtp_esmtp_feature_at(h, 0, &s, NULL));
  CHECK(smtp_has_extn(h, NULL) == 0);
  CHECK(smtp_esmtp_feature(h, NULL) == NULL);
  /* Out of range, whatever the out-pointers (which may be NULL). */
  INVALID(smtp_recipient_get(h, 0, NULL, NULL, NULL, NULL));
  INVALID(smtp_refused_get(h, 0, NULL, &code, NULL));
  /* NULLs the header allows: "no value" or "back to the default". */
  CHECK(smtp_set_debug_callback(h, NULL, NULL) == SMTP_OK);
  CHECK(smtp_set_tls_cafile(h, NULL) == SMTP_OK);
  CHECK(smtp_set_tls_cadir(h, NULL) == SMTP_OK);
  CHECK(smtp_set_tls_client_cert(h, NULL, NULL) == SMTP_OK);
  CHECK(smtp_set_tls_server_name(h, NULL) == SMTP_OK);
  CHECK(smtp_set_source_address(h, NULL, 0) == SMTP_OK);
  /* Other bad values. */
  INVALID(smtp_set_timeout(h, 0.0));
  INVALID(smtp_set_timeout(h, -1.0));
  CHECK(smtp_error_message(h) != NULL);
  smtp_free(h);
  h = smtp_new_ssl();
  CHECK(h != NULL);
  smtp_free(h);
  h = smtp_new_lmtp();
  CHECK(h != NULL);
  smtp_free(h);
}

/* Bad UTF-8 anywhere a string goes in is SMTP_ERR_INVALID. */
static void bad_utf8(void) {
  smtp_handle *h = smtp_new();
  const char *bad = "caf\xc3(";
  const char *to[1] = {bad};
  INVALID(smtp_set_local_hostname(h, bad));
  INVALID(smtp_connect(h, bad, dead_port));
  INVALID(smtp_set_tls_server_name(h, bad));
  INVALID(smtp_set_tls_cafile(h, bad));
  INVALID(smtp_mail(h, bad, NULL, 0));
  INVALID(smtp_sendmail(h, "a@example.org", to, 1, NULL, 0, NULL, 0, NULL, 0));
  CHECK(smtp_error_code(h) == SMTP_ERR_INVALID);
  CHECK(strstr(smtp_error_message(h), "UTF-8") != NULL);
  CHECK(smtp_has_extn(h, bad) == 0);
  smtp_free(h);
}

/* A debug callback that counts transcript lines, and calls back into the
 * library: functions without a handle, and a getter on another handle
 * (never on the handle it reports for). */
struct transcript {
  int lines;
  int sent;
  smtp_handle *other;
  int calls_ok;
};

static void count_lines(void *userdata, const char *line, size_t len) {
  struct transcript *t = userdata;
  t->lines++;
  if (strstr(line, "send:") != NULL) t->sent++;
  if (strlen(line) == len && strcmp(smtp_error_name(SMTP_ERR_IO), "OSError") == 0 &&
      smtp_error_is(SMTP_ERR_SENDER_REFUSED, SMTP_ERR_RESPONSE) == 1 &&
      strcmp(smtp_version(), SMTP_VERSION) == 0 && smtp_reply_code(t->other) == 220 &&
      smtp_error_code(t->other) == SMTP_OK)
    t->calls_ok++;
}

static void line_breaks_and_callbacks(void) {
  smtp_handle *h = NULL, *other = NULL;
  struct transcript t = {0, 0, NULL, 0};
  const char *crlf = "b@example.net\r\nRSET";
  const char *to[1] = {crlf};
  int sent;

  CHECK(smtp_open("127.0.0.1", sink_port, &other) == SMTP_OK);
  t.other = other;
  CHECK(smtp_open("127.0.0.1", sink_port, &h) == SMTP_OK);
  CHECK(smtp_set_debug_callback(h, count_lines, &t) == SMTP_OK);
  CHECK(smtp_set_debuglevel(h, 1) == SMTP_OK);
  CHECK(smtp_noop(h) == SMTP_OK);
  CHECK(t.sent >= 1);
  CHECK(t.calls_ok == t.lines && t.lines >= 2);
  sent = t.sent;

  INVALID(smtp_docmd(h, "NOOP\r\nRSET", NULL));
  INVALID(smtp_docmd(h, "NOOP", "x\ny"));
  INVALID(smtp_helo(h, "client\r\n.example"));
  INVALID(smtp_verify(h, crlf));
  INVALID(smtp_mail(h, crlf, NULL, 0));
  INVALID(smtp_sendmail(h, "a@example.org", to, 1, (const uint8_t *)"x", 1, NULL, 0, NULL, 0));
  INVALID(smtp_set_local_hostname(h, "client\r\n.example"));
  CHECK(t.sent == sent); /* nothing reached the wire */
  CHECK(smtp_is_connected(h) == 1);
  CHECK(smtp_noop(h) == SMTP_OK);
  CHECK(smtp_reply_code(h) == 250);
  CHECK(t.calls_ok == t.lines);

  CHECK(smtp_quit(h) == SMTP_OK);
  smtp_free(h);
  CHECK(smtp_quit(other) == SMTP_OK);
  smtp_free(other);
}

/* Strings borrowed from the handle stay valid across calls that do not
 * change it (the const getters). */
static void borrowed_strings(void) {
  smtp_handle *h = NULL;
  const char *text, *msg;
  char copy[512];
  CHECK(smtp_open("127.0.0.1", sink_port, &h) == SMTP_OK);
  CHECK(smtp_noop(h) == SMTP_OK);
  text = smtp_reply_text(h);
  CHECK(text != NULL && strlen(text) < sizeof copy);
  if (text == NULL) return;
  strcpy(copy, text);
  CHECK(smtp_reply_code(h) == 250);
  msg = smtp_error_message(h);
  CHECK(msg != NULL && msg[0] == '\0'); /* "" after a success */
  CHECK(smtp_is_connected(h) == 1);
  CHECK(smtp_error_code(h) == SMTP_OK);
  CHECK(smtp_esmtp_feature_count(h) == 0 || smtp_does_esmtp(h) == 1);
  CHECK(strcmp(text, copy) == 0);
  CHECK(smtp_reply_text(h) == text);
  CHECK(smtp_quit(h) == SMTP_OK);
  smtp_free(h);
}

/* A failed open still gives a handle whose error can be read. */
static void failed_open(void) {
  smtp_handle *h = NULL;
  CHECK(smtp_open("127.0.0.1", dead_port, &h) == SMTP_ERR_IO);
  CHECK(h != NULL);
  if (h == NULL) return;
  CHECK(smtp_error_code(h) == SMTP_ERR_IO);
  /* The message says what happened; the class is smtp_error_name's. */
  CHECK(strstr(smtp_error_message(h), "refused") != NULL);
  CHECK(strstr(smtp_error_message(h), "OSError") == NULL);
  CHECK(smtp_error_errno(h) != 0);
  CHECK(smtp_error_reply_code(h) == -1);
  CHECK(smtp_is_connected(h) == 0);
  INVALID(smtp_set_timeout(h, 0.0));
  CHECK(smtp_noop(h) == SMTP_ERR_SERVER_DISCONNECTED);
  smtp_free(h);
}

/* Eight threads, a handle each, sending at once to one server. */
static void *send_one(void *arg) {
  int n = *(int *)arg;
  char from[64], body[128];
  const char *to[1] = {"rcpt@example.net"};
  smtp_handle *h = NULL;
  smtp_status st;
  snprintf(from, sizeof from, "thread%d@example.org", n);
  snprintf(body, sizeof body, "Subject: thread %d\r\n\r\nfrom thread %d\r\n", n, n);
  st = smtp_open("127.0.0.1", sink_port, &h);
  if (st == SMTP_OK)
    st = smtp_sendmail(h, from, to, 1, (const uint8_t *)body, strlen(body), NULL, 0, NULL, 0);
  if (st == SMTP_OK) st = smtp_quit(h);
  if (st != SMTP_OK) fprintf(stderr, "thread %d: %s\n", n, smtp_error_message(h));
  smtp_free(h);
  *(int *)arg = st;
  return NULL;
}

static void threads(void) {
  pthread_t tid[8];
  int arg[8];
  int i;
  for (i = 0; i < 8; i++) {
    arg[i] = i;
    CHECK(pthread_create(&tid[i], NULL, send_one, &arg[i]) == 0);
  }
  for (i = 0; i < 8; i++) {
    CHECK(pthread_join(tid[i], NULL) == 0);
    CHECK(arg[i] == SMTP_OK);
  }
}

/* smtp_parse_address_list: RFC 5322 lists split with quoting respected,
 * NULL arguments refused, and the count learnt with a capacity of 0. */
static void address_lists(void) {
  smtp_handle *h = smtp_new();
  const char *a[4] = {NULL, NULL, NULL, NULL};
  size_t n = 99;
  CHECK(h != NULL);
  INVALID(smtp_parse_address_list(NULL, "a@example.org", a, 4, &n));
  INVALID(smtp_parse_address_list(h, NULL, a, 4, &n));
  INVALID(smtp_parse_address_list(h, "a@example.org", a, 4, NULL));
  INVALID(smtp_parse_address_list(h, "a@example.org", NULL, 1, &n));
  INVALID(smtp_parse_address_list(h, "\xff@example.org", a, 4, &n));
  CHECK(n == 99); /* not written on failure */
  CHECK(smtp_parse_address_list(h, "\"Doe, John\" <j@example.org>, b@example.net, "
                                   "Team: c@example.com (the team);", NULL, 0, &n) == SMTP_OK);
  CHECK(n == 3);
  CHECK(smtp_parse_address_list(h, "\"Doe, John\" <j@example.org>, b@example.net, "
                                   "Team: c@example.com (the team);", a, 2, &n) == SMTP_OK);
  CHECK(n == 3);
  CHECK(a[0] != NULL && strcmp(a[0], "j@example.org") == 0);
  CHECK(a[1] != NULL && strcmp(a[1], "b@example.net") == 0);
  CHECK(a[2] == NULL); /* beyond the capacity: untouched */
  CHECK(smtp_parse_address_list(h, " , ", a, 4, &n) == SMTP_OK);
  CHECK(n == 0);
  smtp_free(h);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s SINK_PORT DEAD_PORT\n", argv[0]);
    return 2;
  }
  sink_port = (unsigned)atoi(argv[1]);
  dead_port = (unsigned)atoi(argv[2]);
  null_handle();
  null_arguments();
  bad_utf8();
  address_lists();
  failed_open();
  borrowed_strings();
  line_breaks_and_callbacks();
  threads();
  if (failures) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  puts("abi: all checks passed");
  return 0;
}
