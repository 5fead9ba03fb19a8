#include "vty.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "clock.h"

namespace vipcheck {

namespace {

constexpr char kTrailer[3] = {0, 0, 0};

int remaining_ms(uint64_t deadline) {
    const uint64_t now = monotonic_ns();
    return now >= deadline ? 0 : int((deadline - now) / 1'000'000 + 1);
}

// A connected socket, or -1 with the last errno once the deadline passed.
int connect_until(const sockaddr_un& to, uint64_t deadline, std::string& error) {
    while (true) {
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            error = std::strerror(errno);
            return -1;
        }
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) return fd;
        const int why = errno;
        ::close(fd);
        error = std::strerror(why);
        if ((why != ENOENT && why != ECONNREFUSED && why != EAGAIN) || remaining_ms(deadline) == 0) return -1;
        const timespec pause{0, 2'000'000};
        ::nanosleep(&pause, nullptr);  // not listening yet: a refused connect returns at once
    }
}

bool send_all(int fd, const std::string& request, std::string& error) {
    size_t sent = 0;
    while (sent < request.size()) {
        const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error = std::string("send: ") + std::strerror(errno);
            return false;
        }
        sent += size_t(n);
    }
    return true;
}

}  // namespace

std::vector<std::pair<int, std::string>> take_vty_answers(std::string& received) {
    std::vector<std::pair<int, std::string>> answers;
    while (true) {
        const size_t end = received.find(kTrailer, 0, sizeof kTrailer);  // output is text: no NULs
        if (end == std::string::npos || end + 3 >= received.size()) return answers;
        answers.emplace_back(static_cast<unsigned char>(received[end + 3]), received.substr(0, end));
        received.erase(0, end + 4);
    }
}

VtyAnswer vty_command(const std::string& socket_path, const std::string& command, uint32_t timeout_ms) {
    VtyAnswer answer;
    const uint64_t start = monotonic_ns();
    const uint64_t deadline = start + uint64_t(timeout_ms) * 1'000'000;
    sockaddr_un to{};
    to.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof to.sun_path) {
        answer.error = "socket path too long: " + socket_path;
        return answer;
    }
    std::memcpy(to.sun_path, socket_path.c_str(), socket_path.size() + 1);
    const int fd = connect_until(to, deadline, answer.error);
    if (fd < 0) {
        answer.waited_ns = monotonic_ns() - start;
        return answer;
    }
    std::string received;
    std::vector<std::pair<int, std::string>> answers;  // enable's, then the command's
    char buffer[65536];
    bool reading = send_all(fd, std::string("enable") + '\0' + command + '\0', answer.error);
    while (reading) {
        pollfd pfd{fd, POLLIN, 0};
        const int ready = ::poll(&pfd, 1, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            answer.error = ready == 0 ? "no answer within " + std::to_string(timeout_ms) + " ms"
                                      : std::string("poll: ") + std::strerror(errno);
            break;
        }
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            answer.error = n == 0 ? "the daemon closed the socket before its answer ended"
                                  : std::string("recv: ") + std::strerror(errno);
            break;
        }
        received.append(buffer, size_t(n));
        for (auto& taken : take_vty_answers(received)) answers.push_back(std::move(taken));
        if (!answers.empty() && answers[0].first != 0) {
            answer.error = "enable refused: " + answers[0].second;
            break;
        }
        if (answers.size() == 2) {
            answer.answered = true;
            answer.status = answers[1].first;
            answer.output = answers[1].second;
            reading = false;
        }
    }
    ::close(fd);
    answer.waited_ns = monotonic_ns() - start;
    return answer;
}

}  // namespace vipcheck
