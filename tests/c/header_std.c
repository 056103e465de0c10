/*
 * include/smtp.h in every language standard: this file is compiled as C89
 * through C23 and, unchanged, as C++98 through C++23, each with -Wall
 * -Wextra -pedantic-errors -Werror (tests/header_std.rs), and linked, so
 * the extern "C" guard is checked too. Written in the common subset: C89
 * declarations, no line comments.
 */
#include "smtp.h"

#include <stdio.h>
#include <string.h>

#if !defined(SMTP_H) || !defined(SMTP_VERSION)
#error "smtp.h does not define its guard and version"
#endif

static size_t count_features(const struct smtp_handle *h)
{
    return smtp_esmtp_feature_count(h);
}

int main(void)
{
    struct smtp_handle *h = smtp_new();
    smtp_status st;
    const char *version = smtp_version();
    smtp_debug_callback cb = NULL;
    struct smtp_message m;

    memset(&m, 0, sizeof m);
    if (h == NULL)
        return 1;
    st = smtp_set_timeout(h, 5.0);
    if (st == SMTP_OK)
        st = smtp_set_debug_callback(h, cb, NULL);
    printf("%s %s %d %lu %lu\n", version, smtp_error_name(st), smtp_error_is(st, SMTP_ERR_IO),
           (unsigned long)count_features(h), (unsigned long)m.n_to);
    smtp_free(h);
    return st == SMTP_OK && strcmp(version, SMTP_VERSION) == 0 ? 0 : 1;
}
