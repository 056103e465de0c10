// include/smtp.h from C++: it compiles cleanly under strict warnings, its
// declarations have C linkage, and a call links against libsmtp.
#include <cstring>
#include <iostream>

#include "smtp.h"

int main() {
  smtp_handle *h = smtp_new();
  const bool ok = h != nullptr && std::strcmp(smtp_version(), SMTP_VERSION) == 0 &&
                  smtp_error_is(SMTP_ERR_SENDER_REFUSED, SMTP_ERR_RESPONSE) == 1;
  smtp_free(h);
  std::cout << (ok ? "ok" : "mismatch") << '\n';
  return ok ? 0 : 1;
}
