// ferroftp from C++17: RAII owners for the C handles, and 4 std::threads sharing one session.
#include <ferroftp.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <unistd.h>

namespace {

struct SessionFree { void operator()(ferroftp_session *s) const { ferroftp_session_free(s); } };
struct BytesFree { void operator()(ferroftp_bytes *b) const { ferroftp_bytes_free(b); } };
struct FutureFree { void operator()(ferroftp_future *f) const { ferroftp_future_free(f); } };
using Session = std::unique_ptr<ferroftp_session, SessionFree>;
using Bytes = std::unique_ptr<ferroftp_bytes, BytesFree>;
using Future = std::unique_ptr<ferroftp_future, FutureFree>;

void check(ferroftp_status st, const char *what) {
    if (st == FERROFTP_STATUS_OK) return;
    char msg[512];
    ferroftp_last_error_message(msg, sizeof msg, nullptr);
    throw std::runtime_error(std::string(what) + ": " + ferroftp_status_name(st) + ": " + msg);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s ftp://user:password@host:port/\n", argv[0]);
        return 2;
    }
    try {
        ferroftp_session *raw = nullptr;
        check(ferroftp_session_connect(argv[1], nullptr, &raw), "connect");
        Session s(raw);
        std::string dir = "/cpp-example-" + std::to_string(getpid());
        check(ferroftp_session_mkdir(s.get(), dir.c_str(), true), "mkdir");

        std::vector<std::thread> threads;
        std::vector<std::string> errors(4);
        for (int t = 0; t < 4; t++) {
            threads.emplace_back([&, t] {
                try {
                    for (int i = 0; i < 5; i++) {
                        std::string path = dir + "/t" + std::to_string(t) + "-" + std::to_string(i);
                        std::string text = "thread " + std::to_string(t) + " round " + std::to_string(i);
                        check(ferroftp_session_write(s.get(), path.c_str(),
                                                     reinterpret_cast<const uint8_t *>(text.data()),
                                                     text.size(), nullptr),
                              "write");
                        ferroftp_bytes *b = nullptr;
                        check(ferroftp_session_read(s.get(), path.c_str(), &b), "read");
                        Bytes bytes(b);
                        if (std::string(reinterpret_cast<const char *>(bytes->data), bytes->len) != text)
                            throw std::runtime_error(path + " came back different");
                    }
                } catch (const std::exception &e) {
                    errors[t] = e.what();
                }
            });
        }
        for (auto &th : threads) th.join();
        for (auto &e : errors)
            if (!e.empty()) throw std::runtime_error(e);

        ferroftp_future *fraw = nullptr;
        check(ferroftp_session_names_start(s.get(), dir.c_str(), &fraw), "names_start");
        Future names_future(fraw);
        check(ferroftp_future_wait(names_future.get(), -1), "names");
        ferroftp_strings *names = nullptr;
        check(ferroftp_future_take_names(names_future.get(), &names), "take_names");
        size_t count = 0;
        ferroftp_strings_count(names, &count);
        ferroftp_strings_free(names);
        if (count != 20) throw std::runtime_error("expected 20 files, found " + std::to_string(count));

        check(ferroftp_session_rmdir(s.get(), dir.c_str(), true), "rmdir");
        check(ferroftp_session_close(s.get()), "close");
        std::printf("ok: 4 threads x 5 files through one session from C++ (ferroftp %s)\n",
                    ferroftp_version());
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cpp example: %s\n", e.what());
        return 1;
    }
}
