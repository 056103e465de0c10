// libsmtp from C++ with RAII: the handle is a std::unique_ptr whose deleter
// is smtp_free, so it is freed on every way out of its scope, exceptions
// included. Errors become C++ exceptions in C++ code; the transcript
// callback is noexcept, since nothing may throw or unwind into libsmtp
// (the process would abort).
//
//   raii HOST PORT FROM TO     sends one message, then shows an error
//                              thrown and the handle still freed
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "smtp.h"

namespace {

using handle_ptr = std::unique_ptr<smtp_handle, decltype(&smtp_free)>;

// A failed libsmtp call: its status and the handle's message.
class smtp_error : public std::runtime_error {
public:
    smtp_error(smtp_status status, const char *message)
        : std::runtime_error(message ? message : "no message"), status_(status) {}
    smtp_status status() const noexcept { return status_; }

private:
    smtp_status status_;
};

void check(const handle_ptr &h, smtp_status status) {
    if (status != SMTP_OK) throw smtp_error(status, smtp_error_message(h.get()));
}

handle_ptr make_handle() {
    handle_ptr h(smtp_new(), &smtp_free);
    if (!h) throw std::runtime_error("smtp_new: internal fault");
    return h;
}

// Keeps the transcript. Called by libsmtp: catches everything.
void on_line(void *userdata, const char *line, size_t len) noexcept {
    try {
        static_cast<std::vector<std::string> *>(userdata)->emplace_back(line, len);
    } catch (...) {
        // Out of memory: the line is lost, the process goes on.
    }
}

void send(const char *host, unsigned port, const char *from, const char *to) {
    // Declared before the handle, so it outlives the callback's use of it.
    std::vector<std::string> transcript;
    handle_ptr h = make_handle();
    check(h, smtp_set_debug_callback(h.get(), on_line, &transcript));
    check(h, smtp_set_debuglevel(h.get(), 1));
    check(h, smtp_connect(h.get(), host, port));
    const std::string msg = std::string("From: ") + from + "\r\nTo: " + to +
                            "\r\nSubject: RAII\r\n\r\nSent from C++.\r\n";
    const char *rcpts[] = {to};
    check(h, smtp_sendmail(h.get(), from, rcpts, 1,
                           reinterpret_cast<const uint8_t *>(msg.data()), msg.size(),
                           nullptr, 0, nullptr, 0));
    std::printf("sent: %d %s\n", smtp_reply_code(h.get()), smtp_reply_text(h.get()));
    check(h, smtp_quit(h.get()));
    std::printf("transcript: %zu lines\n", transcript.size());
}

// An error on the way: the exception leaves the scope, the handle is freed.
void refused_argument(const char *host, unsigned port) {
    handle_ptr h = make_handle();
    check(h, smtp_connect(h.get(), host, port));
    check(h, smtp_mail(h.get(), "me@example.org\r\nRSET", nullptr, 0));
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: raii HOST PORT FROM TO\n");
        return 2;
    }
    const unsigned port = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));
    try {
        send(argv[1], port, argv[3], argv[4]);
    } catch (const smtp_error &e) {
        std::fprintf(stderr, "raii: %s: %s\n", smtp_error_name(e.status()), e.what());
        return e.status();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "raii: %s\n", e.what());
        return 1;
    }
    try {
        refused_argument(argv[1], port);
        std::fprintf(stderr, "raii: CR LF in an address was accepted\n");
        return 1;
    } catch (const smtp_error &e) {
        std::printf("refused as expected: %s\n", smtp_error_name(e.status()));
    }
    return 0;
}
