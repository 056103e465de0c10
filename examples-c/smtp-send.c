/*
 * smtp-send: send one message through an SMTP or LMTP server with libsmtp.
 *
 * Both the main example of the C API and the benchmark driver. It uses
 * nothing but the public header, include/smtp.h.
 *
 * Exit status: 0 when the message was accepted for at least one recipient
 * each time it was sent; otherwise libsmtp's status code (23 for a usage
 * error), or with --exit-codes sysexits a code of sysexits.h (75 for a
 * temporary failure). Every refused recipient gives "refused: ADDR CODE
 * TEXT" on standard error, and a failure "smtp-send: <smtplib class>:
 * <details>"; what came from the server is printed with its control
 * characters escaped.
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "smtp.h"

static const char usage_text[] =
    "usage: smtp-send [options] [FILE]\n"
    "\n"
    "Sends the message in FILE (standard input when FILE is absent or \"-\")\n"
    "through an SMTP or LMTP server.\n"
    "\n"
    "  --host HOST            server (default localhost); with --lmtp a path\n"
    "                         starting with \"/\" is a Unix socket\n"
    "  --port N               default 25 (465 with --ssl, 2003 with --lmtp)\n"
    "  --from ADDR            envelope sender\n"
    "  --to ADDR              envelope recipient (repeatable); a value with\n"
    "                         commas is an RFC 5322 address list:\n"
    "                         --to '\"Doe, John\" <j@x.org>, b@y.org' is two\n"
    "  --send-message         take the envelope from the message headers;\n"
    "                         --from and --to become optional\n"
    "  --ssl                  implicit TLS\n"
    "  --starttls             STARTTLS, required (fails when not offered)\n"
    "  --lmtp                 speak LMTP\n"
    "  --cafile FILE          extra trust anchors (PEM)\n"
    "  --insecure             do not verify the server's certificate\n"
    "  --user U               AUTH as U ...\n"
    "  --password-file F      ... with the password in F (one line)\n"
    "  --password-env VAR     ... or in the environment variable VAR\n"
    "                         (without either, asked for on the terminal)\n"
    "  --oauth-token-file F   ... or with the OAuth 2.0 bearer token in F\n"
    "                         (OAUTHBEARER, else XOAUTH2)\n"
    "  --auth-mechanisms LIST only these SASL mechanisms, comma-separated\n"
    "                         (e.g. CRAM-MD5,PLAIN; the library's order holds)\n"
    "  --local-hostname NAME  name sent in EHLO/HELO/LHLO\n"
    "  --timeout SECONDS      deadline of each network operation (default 60)\n"
    "  --mail-option OPT      ESMTP option for MAIL FROM (repeatable)\n"
    "  --rcpt-option OPT      ESMTP option for RCPT TO (repeatable)\n"
    "  --count N              send the message N times over one connection\n"
    "                         (a new one when the server ends the session)\n"
    "  -v, -vv                protocol transcript on standard error\n"
    "                         (-vv adds timestamps)\n"
    "  --exit-codes KIND      \"status\" (the default): libsmtp's status codes;\n"
    "                         \"sysexits\": sysexits.h codes, below\n"
    "  --version              the program's and the library's version\n"
    "  --help                 this text\n"
    "\n"
    "Options taking a value accept \"--opt VALUE\" and \"--opt=VALUE\".\n"
    "\n"
    "Exit status: 0 when the message was accepted for at least one recipient\n"
    "each time; otherwise libsmtp's status code, e.g. 4 sender refused,\n"
    "5 all recipients refused, 6 data refused, 7 bad greeting,\n"
    "9 not supported, 20 I/O error, 21 timeout, 22 TLS error,\n"
    "23 usage error or invalid argument.\n"
    "With --exit-codes sysexits: 0 success; 75 EX_TEMPFAIL a temporary\n"
    "failure (any 4xx reply, a timeout, a refused or lost connection, a\n"
    "name server that did not answer); 67 EX_NOUSER every recipient refused\n"
    "with 5xx; 65 EX_DATAERR the message refused with 5xx, or an address or\n"
    "message libsmtp refuses; 77 EX_NOPERM credentials refused with 5xx;\n"
    "68 EX_NOHOST the host name does not resolve; 76 EX_PROTOCOL a garbled\n"
    "reply; 69 EX_UNAVAILABLE any other permanent failure (5xx to MAIL FROM,\n"
    "the greeting, EHLO/HELO or STARTTLS, an extension not offered, TLS);\n"
    "66 EX_NOINPUT a file that cannot be read; 64 EX_USAGE a usage error;\n"
    "70 EX_SOFTWARE an internal error; 71 EX_OSERR out of memory.\n"
    "Each refused recipient is reported as \"refused: ADDR CODE TEXT\" and a\n"
    "failure as \"smtp-send: <smtplib class name>: <code> <text>\" on\n"
    "standard error, control characters from the server escaped.\n";

/* sysexits.h's values (the header is not everywhere). */
enum {
    EX_OK_ = 0,
    EX_USAGE_ = 64,
    EX_DATAERR_ = 65,
    EX_NOINPUT_ = 66,
    EX_NOUSER_ = 67,
    EX_NOHOST_ = 68,
    EX_UNAVAILABLE_ = 69,
    EX_SOFTWARE_ = 70,
    EX_OSERR_ = 71,
    EX_TEMPFAIL_ = 75,
    EX_PROTOCOL_ = 76,
    EX_NOPERM_ = 77
};

/* --exit-codes sysexits. */
static int use_sysexits;
/* The sysexits code of the first failure reported, or -1. */
static int failure_sysexit = -1;

static void note_sysexit(int code)
{
    if (failure_sysexit < 0)
        failure_sysexit = code;
}

struct options {
    const char *host;
    unsigned int port; /* 0: the default for the kind of session */
    const char *from;
    const char **to;
    size_t n_to;
    int send_message;
    int ssl;
    int starttls;
    int lmtp;
    const char *cafile;
    int insecure;
    const char *user;
    const char *password_file;
    const char *password_env;
    const char *oauth_token_file;
    const char *auth_mechanisms; /* comma-separated, or NULL */
    const char *local_hostname;
    double timeout; /* 0: libsmtp's default */
    const char **mail_options;
    size_t n_mail_options;
    const char **rcpt_options;
    size_t n_rcpt_options;
    unsigned long count;
    int verbose;
    const char *file; /* NULL or "-": standard input */
};

/* A bad command line: says why, points at --help, and gives the status. */
static int usage_error(const char *what, const char *arg)
{
    note_sysexit(EX_USAGE_);
    if (arg != NULL)
        fprintf(stderr, "smtp-send: %s: %s\n", what, arg);
    else
        fprintf(stderr, "smtp-send: %s\n", what);
    fprintf(stderr, "Try 'smtp-send --help'.\n");
    return SMTP_ERR_INVALID;
}

/* Prints text that came from the server on one line, so that it can
 * neither break a report in two nor drive the terminal: the line breaks
 * between a reply's lines become spaces; other C0 controls, DEL, C1
 * controls (U+0080 to U+009F), bytes that are not well-formed UTF-8 and a
 * backslash are written as \xNN (\\ for the backslash). Well-formed
 * UTF-8 text is printed as it is. */
static void put_escaped(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;

    while (p != NULL && *p != '\0') {
        unsigned c = *p;
        size_t len = c < 0x80 ? 1
                     : c >= 0xC2 && c <= 0xDF ? 2
                     : c >= 0xE0 && c <= 0xEF ? 3
                     : c >= 0xF0 && c <= 0xF4 ? 4
                                              : 0;
        int ok = len > 1;

        if (c == '\n') {
            fputc(' ', stderr);
            p++;
            continue;
        }
        if (c == '\\') {
            fputs("\\\\", stderr);
            p++;
            continue;
        }
        if (len == 1) {
            if (c < 0x20 || c == 0x7F)
                fprintf(stderr, "\\x%02x", c);
            else
                fputc((int)c, stderr);
            p++;
            continue;
        }
        /* Continuation bytes present (a NUL stops the check), no C1 control,
         * no overlong form, no surrogate, nothing above U+10FFFF. */
        for (size_t i = 1; ok && i < len; i++)
            ok = (p[i] & 0xC0) == 0x80;
        if (ok && c == 0xC2 && p[1] <= 0x9F)
            ok = 0;
        if (ok && ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) ||
                   (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F)))
            ok = 0;
        if (ok) {
            fwrite(p, 1, len, stderr);
            p += len;
        } else {
            fprintf(stderr, "\\x%02x", c);
            p++;
        }
    }
}

/* The sysexits.h code for a failure of libsmtp (see the usage text). */
static int sysexit_for(const smtp_handle *h, smtp_status st)
{
    int code = smtp_error_reply_code(h);
    int err = smtp_error_errno(h);

    switch (st) {
    case SMTP_OK:
        return EX_OK_;
    case SMTP_ERR_RECIPIENTS_REFUSED: {
        /* Permanent only when every refusal is: one 4xx may pass later. */
        size_t n = smtp_refused_count(h);
        for (size_t i = 0; i < n; i++) {
            int rc = 0;
            if (smtp_refused_get(h, i, NULL, &rc, NULL) == SMTP_OK && rc >= 400 && rc < 500)
                return EX_TEMPFAIL_;
        }
        return EX_NOUSER_;
    }
    case SMTP_ERR_TIMEOUT:
    case SMTP_ERR_SERVER_DISCONNECTED:
    case SMTP_ERR_NOT_ATTEMPTED: /* the session ended; the server never judged it */
        return EX_TEMPFAIL_;
    case SMTP_ERR_IO:
        /* A negative errno is getaddrinfo's: the name does not resolve,
         * unless the name server could not be asked (EAI_AGAIN). */
        if (err < 0)
            return err == EAI_AGAIN ? EX_TEMPFAIL_ : EX_NOHOST_;
        return EX_TEMPFAIL_;
    case SMTP_ERR_INVALID:
        return EX_DATAERR_;
    case SMTP_ERR_INTERNAL:
        return EX_SOFTWARE_;
    default:
        break;
    }
    if (code >= 400 && code < 500)
        return EX_TEMPFAIL_;
    switch (st) {
    case SMTP_ERR_DATA:
        return EX_DATAERR_;
    case SMTP_ERR_AUTHENTICATION:
        return EX_NOPERM_;
    case SMTP_ERR_RESPONSE:
        return code < 100 ? EX_PROTOCOL_ : EX_UNAVAILABLE_;
    default:
        return EX_UNAVAILABLE_;
    }
}

/* "smtp-send: <class>: <code> <text>", or "<class>: <message>" when the
 * error carries no reply. */
static void report_error(const smtp_handle *h, smtp_status st)
{
    int code = smtp_error_reply_code(h);

    note_sysexit(sysexit_for(h, st));
    fprintf(stderr, "smtp-send: %s: ", smtp_error_name(st));
    if (code != -1) {
        fprintf(stderr, "%d ", code);
        put_escaped(smtp_error_reply_text(h));
    } else {
        put_escaped(smtp_error_message(h));
    }
    fputc('\n', stderr);
}

/* A failure outside libsmtp (reading a file, memory): reported in the same
 * shape, with the status libsmtp would give and the sysexits code. */
static int report_local(smtp_status st, int sysexit, const char *what, const char *detail)
{
    note_sysexit(sysexit);
    fprintf(stderr, "smtp-send: %s: %s: %s\n", smtp_error_name(st), what, detail);
    return st;
}

static void report_refused(const smtp_handle *h)
{
    size_t n = smtp_refused_count(h);
    for (size_t i = 0; i < n; i++) {
        const char *addr = NULL;
        const char *text = NULL;
        int code = 0;
        if (smtp_refused_get(h, i, &addr, &code, &text) != SMTP_OK)
            continue;
        fputs("refused: ", stderr);
        put_escaped(addr);
        fprintf(stderr, " %d ", code);
        put_escaped(text);
        fputc('\n', stderr);
    }
}

/* ---- options ------------------------------------------------------------ */

/* Matches "--name" or "--name=VALUE"; a value is then taken from the same
 * argument or the next one. Returns 1 on a match (value in *value), 0 when
 * `arg` is another option, -1 when the value is missing. */
static int take_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);

    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *i += 1;
    *value = argv[*i];
    return 1;
}

static int parse_unsigned(const char *s, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    unsigned long v;

    if (s[0] < '0' || s[0] > '9')
        return 0;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return 0;
    *out = v;
    return 1;
}

/* Fills `o` from the command line. Returns SMTP_OK, SMTP_ERR_INVALID after
 * a usage message, or -1 when --help was printed. */
static int parse_options(int argc, char **argv, struct options *o)
{
    size_t cap = (size_t)argc;
    int only_files = 0;

    memset(o, 0, sizeof *o);
    o->host = "localhost";
    o->count = 1;
    /* No more values than arguments: arrays of argc entries are enough. */
    o->to = calloc(cap + 1, sizeof *o->to);
    o->mail_options = calloc(cap + 1, sizeof *o->mail_options);
    o->rcpt_options = calloc(cap + 1, sizeof *o->rcpt_options);
    if (o->to == NULL || o->mail_options == NULL || o->rcpt_options == NULL)
        return report_local(SMTP_ERR_INTERNAL, EX_OSERR_, "options", "out of memory");

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *v = NULL;
        int r;

        if (only_files || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (o->file != NULL)
                return usage_error("more than one message file", arg);
            o->file = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_files = 1;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage_text, stdout);
            return -1;
        }
        if (strcmp(arg, "--version") == 0) {
            /* The program's version is that of the header it was built
             * with; the library's is the one loaded now. */
            printf("smtp-send %s\nlibsmtp %s\n", SMTP_VERSION, smtp_version());
            return -1;
        }
        if (strcmp(arg, "-v") == 0) {
            o->verbose += 1;
            continue;
        }
        if (strcmp(arg, "-vv") == 0) {
            o->verbose += 2;
            continue;
        }
        if (strcmp(arg, "--send-message") == 0) {
            o->send_message = 1;
            continue;
        }
        if (strcmp(arg, "--ssl") == 0) {
            o->ssl = 1;
            continue;
        }
        if (strcmp(arg, "--starttls") == 0) {
            o->starttls = 1;
            continue;
        }
        if (strcmp(arg, "--lmtp") == 0) {
            o->lmtp = 1;
            continue;
        }
        if (strcmp(arg, "--insecure") == 0) {
            o->insecure = 1;
            continue;
        }

#define VALUE(name) ((r = take_value(argc, argv, &i, (name), &v)) != 0)
        if (VALUE("--host")) {
            o->host = v;
        } else if (VALUE("--port")) {
            unsigned long port = 0;
            if (r > 0 && (!parse_unsigned(v, 65535, &port) || port == 0))
                return usage_error("--port needs a number from 1 to 65535", v);
            o->port = (unsigned int)port;
        } else if (VALUE("--from")) {
            o->from = v;
        } else if (VALUE("--to")) {
            o->to[o->n_to++] = v;
        } else if (VALUE("--cafile")) {
            o->cafile = v;
        } else if (VALUE("--user")) {
            o->user = v;
        } else if (VALUE("--password-file")) {
            o->password_file = v;
        } else if (VALUE("--password-env")) {
            o->password_env = v;
        } else if (VALUE("--exit-codes")) {
            if (r > 0 && strcmp(v, "sysexits") != 0 && strcmp(v, "status") != 0)
                return usage_error("--exit-codes takes \"sysexits\" or \"status\"", v);
        } else if (VALUE("--oauth-token-file")) {
            o->oauth_token_file = v;
        } else if (VALUE("--auth-mechanisms")) {
            o->auth_mechanisms = v;
        } else if (VALUE("--local-hostname")) {
            o->local_hostname = v;
        } else if (VALUE("--timeout")) {
            char *end = NULL;
            if (r > 0) {
                errno = 0;
                o->timeout = strtod(v, &end);
                if (errno != 0 || end == v || *end != '\0' || !(o->timeout > 0))
                    return usage_error("--timeout needs a positive number of seconds", v);
            }
        } else if (VALUE("--mail-option")) {
            o->mail_options[o->n_mail_options++] = v;
        } else if (VALUE("--rcpt-option")) {
            o->rcpt_options[o->n_rcpt_options++] = v;
        } else if (VALUE("--count")) {
            if (r > 0 && (!parse_unsigned(v, ULONG_MAX, &o->count) || o->count == 0))
                return usage_error("--count needs a positive number", v);
        } else {
            return usage_error("unknown option", arg);
        }
#undef VALUE
        if (r < 0)
            return usage_error("option needs a value", arg);
    }

    if (!o->send_message && o->from == NULL)
        return usage_error("--from is required (or --send-message)", NULL);
    if (!o->send_message && o->n_to == 0)
        return usage_error("at least one --to is required (or --send-message)", NULL);
    if (o->ssl && o->starttls)
        return usage_error("--ssl and --starttls exclude each other", NULL);
    if (o->ssl && o->lmtp)
        return usage_error("--ssl and --lmtp exclude each other", NULL);
    if ((o->password_file != NULL) + (o->password_env != NULL) + (o->oauth_token_file != NULL) > 1)
        return usage_error(
            "--password-file, --password-env and --oauth-token-file exclude each other", NULL);
    if (o->user == NULL &&
        (o->password_file != NULL || o->password_env != NULL || o->oauth_token_file != NULL))
        return usage_error("--password-file, --password-env and --oauth-token-file need --user",
                           NULL);
    if (o->auth_mechanisms != NULL && o->user == NULL)
        return usage_error("--auth-mechanisms needs --user", NULL);
    if (o->lmtp && o->host[0] == '/' && (o->starttls || o->port != 0))
        return usage_error("a Unix socket takes neither --port nor --starttls", o->host);
    return SMTP_OK;
}

static void free_options(struct options *o)
{
    free(o->to);
    free(o->mail_options);
    free(o->rcpt_options);
}

/* ---- files -------------------------------------------------------------- */

/* Reads all of `f` into a new buffer (*out, *len); the buffer has one spare
 * byte for a NUL. Returns 0, or an errno value. */
static int read_all(FILE *f, unsigned char **out, size_t *len)
{
    size_t cap = 64 * 1024;
    size_t n = 0;
    unsigned char *buf = malloc(cap);

    if (buf == NULL)
        return ENOMEM;
    for (;;) {
        size_t got;
        if (cap - n < 2) {
            unsigned char *bigger;
            if (cap > (size_t)-1 / 2) {
                free(buf);
                return ENOMEM;
            }
            bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                return ENOMEM;
            }
            buf = bigger;
            cap *= 2;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                int err = errno != 0 ? errno : EIO;
                free(buf);
                return err;
            }
            break;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Reads `path` ("-" or NULL: standard input). */
static int read_file(const char *path, unsigned char **out, size_t *len)
{
    FILE *f;
    int err;

    if (path == NULL || strcmp(path, "-") == 0)
        return read_all(stdin, out, len);
    errno = 0;
    f = fopen(path, "rb");
    if (f == NULL)
        return errno != 0 ? errno : EIO;
    err = read_all(f, out, len);
    fclose(f);
    return err;
}

/* Overwrites a secret; volatile so the stores are not optimised away. */
static void wipe(unsigned char *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n-- > 0)
        *v++ = 0;
}

/* ---- the message ---------------------------------------------------------- */

/* Messages up to this size are read into memory when they must be sent more
 * than once; larger ones are streamed from the file each time. */
#define IN_MEMORY_MAX (16u * 1024 * 1024)
/* Messages sent per smtp_sendmail_batch call with --count. */
#define BATCH 1024

/* The message: in memory, or streamed from a descriptor (constant memory). */
struct message {
    unsigned char *data; /* in memory when not NULL */
    size_t len;
    int fd;        /* streamed from here when data is NULL */
    int seekable;  /* fd can be rewound for --count */
    uint64_t size; /* for SIZE=; 0 when unknown */
};

/* One transaction; refused recipients are reported whatever the outcome. */
static smtp_status send_once(smtp_handle *h, const struct options *o, const struct message *m)
{
    smtp_status st;

    if (o->send_message)
        st = smtp_send_message(h, m->data, m->len, o->from, o->n_to > 0 ? o->to : NULL, o->n_to,
                               o->mail_options, o->n_mail_options, o->rcpt_options,
                               o->n_rcpt_options);
    else if (m->data != NULL)
        st = smtp_sendmail(h, o->from, o->to, o->n_to, m->data, m->len, o->mail_options,
                           o->n_mail_options, o->rcpt_options, o->n_rcpt_options);
    else
        st = smtp_sendmail_fd(h, o->from, o->to, o->n_to, m->fd, m->size, o->mail_options,
                              o->n_mail_options, o->rcpt_options, o->n_rcpt_options);
    report_refused(h);
    if (st != SMTP_OK)
        report_error(h, st);
    return st;
}

/* `n` copies of an in-memory message in one batch: with PIPELINING each
 * costs one round trip. *judged gets how many the server judged: when the
 * session ends early (SMTP_ERR_NOT_ATTEMPTED) the rest were not attempted
 * and the connection is closed. Refused recipients are those of the last
 * copy; failures other than "not attempted" are reported here. */
static smtp_status send_batch(smtp_handle *h, const struct options *o, const struct message *m,
                              size_t n, size_t *judged)
{
    smtp_message batch[BATCH];
    smtp_status st;

    for (size_t i = 0; i < n; i++) {
        batch[i].from = o->from;
        batch[i].to = o->to;
        batch[i].n_to = o->n_to;
        batch[i].data = m->data;
        batch[i].len = m->len;
    }
    st = smtp_sendmail_batch(h, batch, n, o->mail_options, o->n_mail_options, o->rcpt_options,
                             o->n_rcpt_options, NULL);
    *judged = smtp_batch_attempted(h);
    report_refused(h);
    if (st != SMTP_OK && st != SMTP_ERR_NOT_ATTEMPTED)
        report_error(h, st);
    return st;
}

static smtp_status open_session(smtp_handle *h, const struct options *o, const char *password);

/* Sends the message o->count times. A batch cut short by the server's end
 * of the session (a 421, a per-session message limit) goes on over a new
 * connection, as long as the last one carried at least one message. */
static smtp_status send_all(smtp_handle *h, const struct options *o, const char *password,
                            const struct message *m)
{
    smtp_status st = SMTP_OK;
    unsigned long left = o->count;

    if (m->data != NULL && !o->send_message && left > 1) {
        unsigned long this_session = 0;
        while (st == SMTP_OK && left > 0) {
            size_t n = left < BATCH ? (size_t)left : BATCH;
            size_t judged = 0;
            st = send_batch(h, o, m, n, &judged);
            left -= judged;
            this_session += judged;
            if (st == SMTP_ERR_NOT_ATTEMPTED) {
                if (this_session == 0) {
                    /* A new session that carries nothing: stop. */
                    report_error(h, st);
                    break;
                }
                if (o->verbose > 0)
                    fprintf(stderr, "smtp-send: session ended by the server after %lu messages; "
                                    "%lu left, connecting again\n",
                            this_session, left);
                this_session = 0;
                st = open_session(h, o, password);
            }
        }
        return st;
    }
    for (unsigned long i = 0; st == SMTP_OK && i < left; i++) {
        if (i > 0 && m->data == NULL && lseek(m->fd, 0, SEEK_SET) != 0) {
            fprintf(stderr, "smtp-send: OSError: cannot rewind the message: %s\n", strerror(errno));
            return SMTP_ERR_IO;
        }
        st = send_once(h, o, m);
    }
    return st;
}

/* ---- the session ---------------------------------------------------------- */

/* AUTH: the mechanism list if given, then the password or the token.
 * Failures are reported here. */
static smtp_status login(smtp_handle *h, const struct options *o, const char *secret)
{
    smtp_status st = SMTP_OK;

    if (o->auth_mechanisms != NULL) {
        /* "A,B,C" -> {"A", "B", "C"}, in a copy cut at the commas. */
        char *list = malloc(strlen(o->auth_mechanisms) + 1);
        const char **names = calloc(strlen(o->auth_mechanisms) / 2 + 1, sizeof *names);
        size_t n = 0;
        if (list == NULL || names == NULL) {
            free(list);
            free(names);
            return report_local(SMTP_ERR_INTERNAL, EX_OSERR_, "--auth-mechanisms",
                                "out of memory");
        }
        strcpy(list, o->auth_mechanisms);
        for (char *p = strtok(list, ","); p != NULL; p = strtok(NULL, ","))
            names[n++] = p;
        st = smtp_set_auth_mechanisms(h, names, n);
        free(names);
        free(list);
    }
    if (st == SMTP_OK)
        st = o->oauth_token_file != NULL ? smtp_login_oauth2(h, o->user, secret)
                                         : smtp_login(h, o->user, secret);
    if (st != SMTP_OK)
        report_error(h, st);
    return st;
}

/* Applies the settings that must precede connecting. */
static smtp_status configure(smtp_handle *h, const struct options *o)
{
    smtp_status st = SMTP_OK;

    if (o->verbose > 0)
        st = smtp_set_debuglevel(h, o->verbose > 1 ? 2 : 1);
    if (st == SMTP_OK && o->timeout > 0)
        st = smtp_set_timeout(h, o->timeout);
    if (st == SMTP_OK && o->local_hostname != NULL)
        st = smtp_set_local_hostname(h, o->local_hostname);
    if (st == SMTP_OK && o->cafile != NULL)
        st = smtp_set_tls_cafile(h, o->cafile);
    if (st == SMTP_OK && o->insecure)
        st = smtp_set_tls_verify(h, 0);
    if (st != SMTP_OK)
        report_error(h, st);
    return st;
}

/* Connect, [STARTTLS], [AUTH]. Failures are reported here. */
static smtp_status open_session(smtp_handle *h, const struct options *o, const char *password)
{
    unsigned int port = o->port;
    smtp_status st;

    if (port == 0 && !(o->lmtp && o->host[0] == '/'))
        port = o->ssl ? 465 : o->lmtp ? 2003 : 25;

    st = smtp_connect(h, o->host, port);
    if (st != SMTP_OK) {
        report_error(h, st);
        return st;
    }
    if (o->starttls) {
        st = smtp_starttls(h);
        if (st != SMTP_OK)
            report_error(h, st);
    }
    if (st == SMTP_OK && o->user != NULL)
        st = login(h, o, password);
    return st;
}

/* Connect, [STARTTLS], [AUTH], send `count` times, QUIT. */
static smtp_status session(smtp_handle *h, const struct options *o, const char *password,
                           const struct message *m)
{
    smtp_status st = configure(h, o);

    if (st == SMTP_OK)
        st = open_session(h, o, password);
    if (st == SMTP_OK)
        st = send_all(h, o, password, m);

    /* QUIT politely whenever the connection is still up; the outcome of
     * the session is already decided. */
    if (smtp_is_connected(h))
        smtp_quit(h);
    return st;
}

/* Asks for the password on the terminal, /dev/tty, with echo off (as
 * getpass did), whatever standard input and output are. Returns 0 with the
 * line in *out (*len bytes, without its line break), -1 when there is no
 * terminal, or an errno value. */
static int ask_password(const char *user, unsigned char **out, size_t *len)
{
    struct termios saved, quiet;
    size_t cap = 128;
    size_t n = 0;
    unsigned char *buf;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    int err = 0;

    if (fd < 0)
        return -1;
    if (tcgetattr(fd, &saved) != 0) {
        close(fd);
        return -1;
    }
    buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return ENOMEM;
    }
    /* No echo; the line break alone is echoed, to end the prompt's line. */
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
    quiet.c_lflag |= ECHONL;
    if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
        err = errno;
        free(buf);
        close(fd);
        return err;
    }
    dprintf(fd, "Password for %s: ", user);
    for (;;) {
        unsigned char c;
        ssize_t got = read(fd, &c, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            err = errno;
            break;
        }
        if (got == 0 || c == '\n')
            break;
        if (n + 1 >= cap) {
            unsigned char *bigger = malloc(cap * 2);
            if (bigger == NULL) {
                err = ENOMEM;
                break;
            }
            memcpy(bigger, buf, n);
            wipe(buf, n);
            free(buf);
            buf = bigger;
            cap *= 2;
        }
        buf[n++] = c;
    }
    tcsetattr(fd, TCSAFLUSH, &saved);
    close(fd);
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (err != 0) {
        wipe(buf, n);
        free(buf);
        return err;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* The password or token: from --password-file/--oauth-token-file (one
 * line), --password-env, or asked for on the terminal. Reports failures. */
static int get_secret(const struct options *o, unsigned char **secret, size_t *len)
{
    const char *file = o->password_file != NULL ? o->password_file : o->oauth_token_file;
    const char *source = file;
    int err;

    if (o->password_env != NULL) {
        const char *value = getenv(o->password_env);
        if (value == NULL)
            return usage_error("--password-env names an unset environment variable",
                               o->password_env);
        *secret = (unsigned char *)strdup(value);
        if (*secret == NULL)
            return report_local(SMTP_ERR_INTERNAL, EX_OSERR_, o->password_env, "out of memory");
        *len = strlen(value);
        return SMTP_OK;
    }
    if (file == NULL) {
        source = "/dev/tty";
        err = ask_password(o->user, secret, len);
        if (err < 0)
            return usage_error("--user needs --password-file, --password-env, or a terminal to "
                               "ask for the password on",
                               NULL);
    } else {
        if (strcmp(file, "-") == 0 && (o->file == NULL || strcmp(o->file, "-") == 0))
            return usage_error("the message and the password cannot both come from standard input",
                               NULL);
        err = read_file(file, secret, len);
        if (err == 0) {
            /* One line: the password is what precedes its line break. */
            if (*len > 0 && (*secret)[*len - 1] == '\n')
                (*secret)[--*len] = '\0';
            if (*len > 0 && (*secret)[*len - 1] == '\r')
                (*secret)[--*len] = '\0';
        }
    }
    if (err != 0)
        return report_local(err == ENOMEM ? SMTP_ERR_INTERNAL : SMTP_ERR_IO,
                            err == ENOMEM ? EX_OSERR_ : EX_NOINPUT_, source, strerror(err));
    if (memchr(*secret, '\0', *len) != NULL)
        return report_local(SMTP_ERR_INVALID, EX_DATAERR_, source, "the secret contains NUL");
    return SMTP_OK;
}

static void free_strings(char **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        free(list[i]);
    free(list);
}

/* Splits each --to value that holds a comma as an RFC 5322 address list,
 * with libsmtp's reader (quoted strings, comments and angle brackets
 * respected): '"Doe, John" <j@x.org>, b@y.org' is two recipients. Other
 * values are kept as they are. The result is a new array of copies (*out,
 * *n_out; free it with free_strings). Reports failures. */
static smtp_status split_recipients(smtp_handle *h, const struct options *o, char ***out,
                                    size_t *n_out)
{
    char **list = NULL;
    size_t n = 0;
    smtp_status st = SMTP_OK;

    for (size_t i = 0; st == SMTP_OK && i < o->n_to; i++) {
        const char *one = o->to[i];
        const char **addrs = &one;
        size_t count = 1;
        char **bigger;

        if (strchr(o->to[i], ',') != NULL) {
            addrs = NULL;
            st = smtp_parse_address_list(h, o->to[i], NULL, 0, &count);
            if (st == SMTP_OK && count == 0) {
                st = usage_error("--to holds no address", o->to[i]);
                break;
            }
            if (st == SMTP_OK && (addrs = calloc(count, sizeof *addrs)) == NULL) {
                st = report_local(SMTP_ERR_INTERNAL, EX_OSERR_, "--to", "out of memory");
                break;
            }
            if (st == SMTP_OK)
                st = smtp_parse_address_list(h, o->to[i], addrs, count, &count);
            if (st != SMTP_OK) {
                report_error(h, st);
                free(addrs);
                break;
            }
        }
        bigger = realloc(list, (n + count) * sizeof *list);
        if (bigger == NULL) {
            st = report_local(SMTP_ERR_INTERNAL, EX_OSERR_, "--to", "out of memory");
        } else {
            list = bigger;
            /* Copied at once: the addresses are the handle's until the
             * next call on it. */
            for (size_t j = 0; j < count && st == SMTP_OK; j++) {
                list[n] = strdup(addrs[j]);
                if (list[n] == NULL)
                    st = report_local(SMTP_ERR_INTERNAL, EX_OSERR_, "--to", "out of memory");
                else
                    n++;
            }
        }
        if (addrs != &one)
            free(addrs);
    }
    if (st != SMTP_OK) {
        free_strings(list, n);
        return st;
    }
    *out = list;
    *n_out = n;
    return SMTP_OK;
}

/* --exit-codes sysexits anywhere on the command line (the last one counts),
 * read first so that even a usage error before it is reported with 64. */
static void scan_exit_codes(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--exit-codes") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strncmp(argv[i], "--exit-codes=", 13) == 0)
            v = argv[i] + 13;
        if (v != NULL)
            use_sysexits = strcmp(v, "sysexits") == 0;
    }
}

/* The exit status for `status`: itself, or under --exit-codes sysexits the
 * code noted when the failure was reported. */
static int exit_status(int status)
{
    if (!use_sysexits || status == SMTP_OK)
        return status;
    if (failure_sysexit >= 0)
        return failure_sysexit;
    return status == SMTP_ERR_INVALID ? EX_USAGE_ : EX_SOFTWARE_;
}

int main(int argc, char **argv)
{
    struct options o;
    struct message m = {NULL, 0, -1, 0, 0};
    unsigned char *password = NULL;
    size_t password_len = 0;
    const char **given_to;
    char **to = NULL;
    size_t n_to = 0;
    struct stat st;
    smtp_handle *h = NULL;
    int status;
    int err;

    scan_exit_codes(argc, argv);
    status = parse_options(argc, argv, &o);
    given_to = o.to;
    if (status != SMTP_OK) {
        free_options(&o);
        return status < 0 ? 0 : exit_status(status);
    }

    if (o.user != NULL) {
        status = get_secret(&o, &password, &password_len);
        if (status != SMTP_OK)
            goto done;
    }

    if (o.file == NULL || strcmp(o.file, "-") == 0) {
        m.fd = STDIN_FILENO;
    } else {
        m.fd = open(o.file, O_RDONLY | O_CLOEXEC);
        if (m.fd < 0) {
            status = report_local(SMTP_ERR_IO, EX_NOINPUT_, o.file, strerror(errno));
            goto done;
        }
    }
    if (fstat(m.fd, &st) == 0 && S_ISREG(st.st_mode)) {
        m.seekable = 1;
        m.size = (uint64_t)st.st_size;
    }
    /* Streamed (constant memory) when sent once, or when too large to keep;
     * read into memory for --send-message (the headers decide the
     * envelope) and for repeated sends of a message that can't be reread. */
    if (o.send_message || (o.count > 1 && !(m.seekable && m.size > IN_MEMORY_MAX))) {
        FILE *f = fdopen(dup(m.fd), "rb");
        err = f == NULL ? errno : read_all(f, &m.data, &m.len);
        if (f != NULL)
            fclose(f);
        if (err != 0) {
            status = report_local(err == ENOMEM ? SMTP_ERR_INTERNAL : SMTP_ERR_IO,
                                  err == ENOMEM ? EX_OSERR_ : EX_NOINPUT_,
                                  o.file != NULL ? o.file : "standard input", strerror(err));
            goto done;
        }
    }

    h = o.ssl ? smtp_new_ssl() : o.lmtp ? smtp_new_lmtp() : smtp_new();
    if (h == NULL) {
        status = report_local(SMTP_ERR_INTERNAL, EX_SOFTWARE_, "smtp_new",
                              "no handle (internal fault)");
        goto done;
    }
    status = split_recipients(h, &o, &to, &n_to);
    if (status != SMTP_OK)
        goto done;
    o.to = (const char **)to;
    o.n_to = n_to;
    status = session(h, &o, (const char *)password, &m);

done:
    smtp_free(h);
    if (password != NULL) {
        wipe(password, password_len);
        free(password);
    }
    free(m.data);
    if (m.fd > STDIN_FILENO)
        close(m.fd);
    free_strings(to, n_to);
    o.to = given_to;
    free_options(&o);
    return exit_status(status);
}
