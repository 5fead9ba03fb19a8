#include "tcp_wait.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "clock.h"
#include "netns.h"
#include "packet_format.h"

namespace vipcheck {

TcpWait wait_for_tcp(const std::string& netns, const std::string& address, uint16_t port, uint32_t timeout_ms,
                     uint32_t retry_ms) {
    const uint32_t ip = parse_ipv4(address);
    return run_in_netns(netns, [&]() {
        TcpWait wait;
        const uint64_t start = monotonic_ns();
        const uint64_t deadline = start + uint64_t(timeout_ms) * 1'000'000;
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(port);
        to.sin_addr.s_addr = htonl(ip);
        while (monotonic_ns() < deadline) {
            ++wait.attempts;
            int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
            if (rc != 0 && errno == EINPROGRESS) {
                pollfd pfd{fd, POLLOUT, 0};
                const uint64_t now = monotonic_ns();
                rc = ::poll(&pfd, 1, int((deadline > now ? deadline - now : 0) / 1'000'000 + 1)) > 0 ? 0 : -1;
                int err = ETIMEDOUT;
                socklen_t len = sizeof err;
                if (rc == 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                rc = err == 0 ? 0 : -1;
                errno = err;
            }
            const int error = errno;
            ::close(fd);
            if (rc == 0) {
                wait.answered = true;
                break;
            }
            wait.last_error = std::strerror(error);
            const timespec pause{0, long(retry_ms) * 1'000'000};
            ::nanosleep(&pause, nullptr);  // a refused connect returns at once: pace the retries
        }
        wait.waited_ns = monotonic_ns() - start;
        return wait;
    });
}

}  // namespace vipcheck
