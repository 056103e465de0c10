/*
 * smtp-send: send one message through an SMTP or LMTP server with libsmtp.
 *
 * Both the main example of the C API and the benchmark driver. It uses
 * nothing but the public header, include/smtp.h.
 *
 * Exit status: 0 when the message was accepted for at least one recipient
 * each time it was sent; otherwise libsmtp's status code (23 for a usage
 * error). Every refused recipient gives "refused: ADDR CODE TEXT" on
 * standard error, and a failure "smtp-send: <smtplib class>: <details>".
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    "  --to ADDR              envelope recipient (repeatable)\n"
    "  --send-message         take the envelope from the message headers;\n"
    "                         --from and --to become optional\n"
    "  --ssl                  implicit TLS\n"
    "  --starttls             STARTTLS, required (fails when not offered)\n"
    "  --lmtp                 speak LMTP\n"
    "  --cafile FILE          extra trust anchors (PEM)\n"
    "  --insecure             do not verify the server's certificate\n"
    "  --user U               AUTH as U ...\n"
    "  --password-file F      ... with the password in F (one line)\n"
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
    "  --help                 this text\n"
    "\n"
    "Options taking a value accept \"--opt VALUE\" and \"--opt=VALUE\".\n"
    "\n"
    "Exit status: 0 when the message was accepted for at least one recipient\n"
    "each time; otherwise libsmtp's status code, e.g. 4 sender refused,\n"
    "5 all recipients refused, 6 data refused, 7 bad greeting,\n"
    "9 not supported, 20 I/O error, 21 timeout, 22 TLS error,\n"
    "23 usage error or invalid argument.\n"
    "Each refused recipient is reported as \"refused: ADDR CODE TEXT\" and a\n"
    "failure as \"smtp-send: <smtplib class name>: <code> <text>\" on\n"
    "standard error.\n";

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
    if (arg != NULL)
        fprintf(stderr, "smtp-send: %s: %s\n", what, arg);
    else
        fprintf(stderr, "smtp-send: %s\n", what);
    fprintf(stderr, "Try 'smtp-send --help'.\n");
    return SMTP_ERR_INVALID;
}

/* Prints `text` with its line breaks as spaces, so a report stays on one
 * line whatever the server sent. */
static void put_one_line(const char *text)
{
    for (; text != NULL && *text != '\0'; text++)
        fputc(*text == '\n' || *text == '\r' ? ' ' : *text, stderr);
}

/* "smtp-send: <class>: <code> <text>", or "<class>: <message>" when the
 * error carries no reply. */
static void report_error(const smtp_handle *h, smtp_status st)
{
    const char *name = smtp_error_name(st);
    int code = smtp_error_reply_code(h);

    fprintf(stderr, "smtp-send: %s: ", name);
    if (code != -1) {
        fprintf(stderr, "%d ", code);
        put_one_line(smtp_error_reply_text(h));
    } else {
        /* The message reads "<class>: <details>"; the class is printed. */
        const char *msg = smtp_error_message(h);
        size_t n = strlen(name);
        if (msg != NULL && strncmp(msg, name, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
            msg += n + 2;
        put_one_line(msg);
    }
    fputc('\n', stderr);
}

/* A failure outside libsmtp (reading a file, memory): reported in the same
 * shape, with the status libsmtp would give. */
static int report_local(smtp_status st, const char *what, const char *detail)
{
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
        fprintf(stderr, "refused: %s %d ", addr != NULL ? addr : "", code);
        put_one_line(text);
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
        return report_local(SMTP_ERR_INTERNAL, "options", "out of memory");

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
    if (o->password_file != NULL && o->oauth_token_file != NULL)
        return usage_error("--password-file and --oauth-token-file exclude each other", NULL);
    if ((o->user == NULL) != (o->password_file == NULL && o->oauth_token_file == NULL))
        return usage_error("--user goes with --password-file or --oauth-token-file", NULL);
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
            return report_local(SMTP_ERR_INTERNAL, "--auth-mechanisms", "out of memory");
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

int main(int argc, char **argv)
{
    struct options o;
    struct message m = {NULL, 0, -1, 0, 0};
    unsigned char *password = NULL;
    size_t password_len = 0;
    const char *secret_file;
    struct stat st;
    smtp_handle *h = NULL;
    int status;
    int err;

    status = parse_options(argc, argv, &o);
    if (status != SMTP_OK) {
        free_options(&o);
        return status < 0 ? 0 : status;
    }

    secret_file = o.password_file != NULL ? o.password_file : o.oauth_token_file;
    if (secret_file != NULL) {
        if (strcmp(secret_file, "-") == 0 && (o.file == NULL || strcmp(o.file, "-") == 0)) {
            free_options(&o);
            return usage_error("the message and the password cannot both come from standard input",
                               NULL);
        }
        err = read_file(secret_file, &password, &password_len);
        if (err != 0) {
            status = report_local(SMTP_ERR_IO, secret_file, strerror(err));
            goto done;
        }
        /* One line: the password is what precedes its line break. */
        if (password_len > 0 && password[password_len - 1] == '\n')
            password[--password_len] = '\0';
        if (password_len > 0 && password[password_len - 1] == '\r')
            password[--password_len] = '\0';
        if (memchr(password, '\0', password_len) != NULL) {
            status = report_local(SMTP_ERR_INVALID, secret_file, "the secret contains NUL");
            goto done;
        }
    }

    if (o.file == NULL || strcmp(o.file, "-") == 0) {
        m.fd = STDIN_FILENO;
    } else {
        m.fd = open(o.file, O_RDONLY | O_CLOEXEC);
        if (m.fd < 0) {
            status = report_local(SMTP_ERR_IO, o.file, strerror(errno));
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
                                  o.file != NULL ? o.file : "standard input", strerror(err));
            goto done;
        }
    }

    h = o.ssl ? smtp_new_ssl() : o.lmtp ? smtp_new_lmtp() : smtp_new();
    if (h == NULL) {
        status = report_local(SMTP_ERR_INTERNAL, "smtp_new", "no handle (internal fault)");
        goto done;
    }
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
    free_options(&o);
    return status;
}
