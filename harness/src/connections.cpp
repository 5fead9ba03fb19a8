#include "connections.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <queue>
#include <stdexcept>

#include "clock.h"
#include "netns.h"

namespace vipcheck {
namespace {

constexpr uint64_t kNewTag = uint64_t(1) << 32;  // epoll data: a new connection's index, tagged
constexpr size_t kMaxResponse = 4096;            // a longer head is no answer of the service's

std::runtime_error sys_error(const std::string& what) {
    return std::runtime_error(what + ": " + std::strerror(errno));
}

// Room for every connection's descriptor in this process (the harness), up to the hard limit.
void allow_descriptors(size_t needed) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    const rlim_t wanted = std::min<rlim_t>(limit.rlim_max, rlim_t(needed) + 1024);
    if (limit.rlim_cur < wanted) {
        limit.rlim_cur = wanted;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

int connect_from(uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // one small request at a time
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in src{}, dst{};
    src.sin_family = dst.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(src_ip);
    src.sin_port = htons(src_port);
    dst.sin_addr.s_addr = htonl(dst_ip);
    dst.sin_port = htons(dst_port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
        (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS)) {
        const int error = errno;
        ::close(fd);
        return -error;
    }
    return fd;
}

int socket_error(int fd) {
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    return error;
}

}  // namespace

bool take_http_body(std::string& buffer, std::string& body, bool& malformed) {
    malformed = false;
    const size_t head_end = buffer.find("\r\n\r\n");
    if (buffer.size() >= 5 && buffer.compare(0, 5, "HTTP/") != 0) {
        malformed = true;
        return false;
    }
    if (head_end == std::string::npos) {
        malformed = buffer.size() > kMaxResponse;
        return false;
    }
    size_t length = 0;
    for (size_t line = buffer.find("\r\n") + 2; line < head_end;) {
        const size_t next = buffer.find("\r\n", line);
        static constexpr char kLength[] = "content-length:";
        if (next - line > sizeof kLength - 1 &&
            std::equal(kLength, kLength + sizeof kLength - 1, buffer.begin() + long(line),
                       [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
            length = std::strtoul(buffer.c_str() + line + sizeof kLength - 1, nullptr, 10);
        }
        line = next + 2;
    }
    if (length > kMaxResponse) {
        malformed = true;
        return false;
    }
    if (buffer.size() < head_end + 4 + length) return false;
    body.assign(buffer, head_end + 4, length);
    buffer.erase(0, head_end + 4 + length);
    return true;
}

struct Connections::State {
    struct Conn {
        int fd = -1;
        bool asking = false;       // a request is out and unanswered
        uint64_t asked_ns = 0;
        std::string received;      // the part of an answer read so far
    };
    std::vector<Conn> conns;
    std::vector<int> new_fds;      // per new connection, -1 once done
    std::vector<std::string> new_received;
    // (due time, connection): when each connection asks next.
    std::priority_queue<std::pair<uint64_t, uint32_t>, std::vector<std::pair<uint64_t, uint32_t>>,
                        std::greater<>> due;
    size_t opened_calls = 0;       // connect() called so far
    uint32_t settled = 0;          // opened or failed
    uint64_t start_ns = 0;
    uint64_t all_open_ns = 0;      // when the last one settled
    size_t next_new = 0;
    uint64_t next_new_ns = 0;
};

Connections::Connections(ConnectionsPlan plan) : plan_(std::move(plan)) {
    if (plan_.lb_names.size() > 254) throw std::invalid_argument("at most 254 LBs");
    if (plan_.ask_interval_ms == 0 || plan_.open_per_s == 0) throw std::invalid_argument("interval and rate > 0");
    allow_descriptors(plan_.src_ports.size() + plan_.new_ports.size());
    state_ = new State;
    state_->conns.resize(plan_.src_ports.size());
    state_->new_fds.assign(plan_.new_ports.size(), -1);
    state_->new_received.resize(plan_.new_ports.size());
    report_.connections.resize(plan_.src_ports.size());
    for (size_t i = 0; i < plan_.src_ports.size(); ++i) {
        report_.connections[i].id = plan_.first_id + uint32_t(i);
        report_.connections[i].src_port = plan_.src_ports[i];
    }
    report_.new_connections.resize(plan_.new_ports.size());
    for (size_t i = 0; i < plan_.new_ports.size(); ++i) report_.new_connections[i].src_port = plan_.new_ports[i];
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) throw sys_error("eventfd");
    std::promise<void> ready;
    auto ready_future = ready.get_future();
    thread_ = std::thread([this, &ready]() {
        int epoll_fd = -1;
        try {
            NetnsFd ns(plan_.netns);
            enter_netns(ns);
            epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
            if (epoll_fd < 0) throw sys_error("epoll_create1");
            epoll_event stop{EPOLLIN, {.u64 = UINT64_MAX}};
            if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, stop_fd_, &stop) != 0) throw sys_error("epoll_ctl");
        } catch (...) {
            if (epoll_fd >= 0) ::close(epoll_fd);
            ready.set_exception(std::current_exception());
            return;
        }
        ready.set_value();
        run(epoll_fd);
        ::close(epoll_fd);
    });
    await_setup(ready_future, thread_, stop_fd_);
}

Connections::~Connections() {
    if (!stopped_) stop();
    ::close(stop_fd_);
    delete state_;
}

void Connections::run(int epoll_fd) {
    State& s = *state_;
    const size_t total = s.conns.size();
    s.start_ns = monotonic_ns();
    const uint64_t interval_ns = uint64_t(plan_.ask_interval_ms) * 1'000'000;
    const uint64_t timeout_ns = uint64_t(plan_.answer_timeout_ms) * 1'000'000;
    static constexpr char kRequest[] = "GET / HTTP/1.1\r\nHost: vip\r\n\r\n";
    std::array<epoll_event, 256> events{};
    std::string body;

    auto lb_index = [&](const std::string& name) -> uint8_t {
        auto found = std::find(plan_.lb_names.begin(), plan_.lb_names.end(), name);
        return found == plan_.lb_names.end() ? 0 : uint8_t(found - plan_.lb_names.begin() + 1);
    };
    auto end = [&](uint32_t i, ConnectionState state, int error, uint64_t at) {
        ConnectionRecord& r = report_.connections[i];
        if (r.state == ConnectionState::kOpening) ++s.settled;
        r.state = state;
        r.error = error;
        r.ended_ns = at;
        if (s.conns[i].fd >= 0) {
            ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, s.conns[i].fd, nullptr);
            ::close(s.conns[i].fd);
            s.conns[i].fd = -1;
        }
    };
    auto ask = [&](uint32_t i, uint64_t now) {
        State::Conn& c = s.conns[i];
        ConnectionRecord& r = report_.connections[i];
        if (c.fd < 0 || r.state == ConnectionState::kOpening) return;
        s.due.emplace(now + interval_ns, i);
        if (c.asking) {  // the last request is still out: stalled once the timeout passed
            if (r.state == ConnectionState::kOpen && now - c.asked_ns >= timeout_ns) {
                r.state = ConnectionState::kStalled;
                r.ended_ns = c.asked_ns;
            }
            return;
        }
        if (::send(c.fd, kRequest, sizeof kRequest - 1, MSG_NOSIGNAL) != ssize_t(sizeof kRequest - 1)) {
            end(i, errno == ECONNRESET || errno == EPIPE ? ConnectionState::kReset : ConnectionState::kStalled,
                errno, now);
            return;
        }
        c.asking = true;
        c.asked_ns = now;
        ++report_.requests;
    };
    auto open_next = [&](uint64_t now) {
        const uint32_t i = uint32_t(s.opened_calls++);
        const int fd = connect_from(plan_.src_ip, plan_.src_ports[i], plan_.dst_ip, plan_.dst_port);
        if (fd < 0) {
            report_.connections[i].state = ConnectionState::kFailed;
            report_.connections[i].error = -fd;
            report_.connections[i].ended_ns = now;
            ++s.settled;
            return;
        }
        s.conns[i].fd = fd;
        epoll_event ev{EPOLLOUT | EPOLLIN | EPOLLRDHUP, {.u64 = i}};
        ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    };
    auto open_new = [&](uint64_t now) {
        const size_t k = s.next_new++;
        NewConnection& n = report_.new_connections[k];
        n.opened_ns = now;
        const int fd = connect_from(plan_.src_ip, plan_.new_ports[k], plan_.dst_ip, plan_.dst_port);
        if (fd < 0) {
            n.error = -fd;
            return;
        }
        s.new_fds[k] = fd;
        epoll_event ev{EPOLLOUT | EPOLLIN | EPOLLRDHUP, {.u64 = kNewTag | k}};
        ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    };
    auto close_new = [&](size_t k, int error) {
        if (s.new_fds[k] < 0) return;
        report_.new_connections[k].error = error;
        ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, s.new_fds[k], nullptr);
        ::close(s.new_fds[k]);
        s.new_fds[k] = -1;
    };

    while (true) {
        uint64_t now = monotonic_ns();
        {
            std::lock_guard lock(mutex_);
            // Open at plan_.open_per_s.
            const size_t allowed = std::min<size_t>(total, (now - s.start_ns) * plan_.open_per_s / 1'000'000'000 + 1);
            while (s.opened_calls < allowed) open_next(now);
            if (s.settled == total && !s.all_open_ns) {
                s.all_open_ns = now;
                settled_.notify_all();
            }
            // New connections, once every long-lived one settled.
            if (s.all_open_ns && plan_.new_every_ms && s.next_new < plan_.new_ports.size()) {
                if (!s.next_new_ns) s.next_new_ns = now;
                while (s.next_new < plan_.new_ports.size() && s.next_new_ns <= now) {
                    open_new(now);
                    s.next_new_ns += uint64_t(plan_.new_every_ms) * 1'000'000;
                }
            }
            while (!s.due.empty() && s.due.top().first <= now) {
                const uint32_t i = s.due.top().second;
                s.due.pop();
                ask(i, now);
            }
        }
        int wait_ms = 1;
        if (s.opened_calls == total && !s.due.empty()) {
            wait_ms = int(std::min<uint64_t>(50, (s.due.top().first > now ? s.due.top().first - now : 0) / 1'000'000));
        }
        const int n = ::epoll_wait(epoll_fd, events.data(), int(events.size()), wait_ms);
        if (n < 0 && errno != EINTR) break;
        now = monotonic_ns();
        std::lock_guard lock(mutex_);
        bool stopping = false;
        for (int e = 0; e < n; ++e) {
            const uint64_t key = events[size_t(e)].data.u64;
            const uint32_t flags = events[size_t(e)].events;
            if (key == UINT64_MAX) {
                stopping = true;
                continue;
            }
            if (key & kNewTag) {  // a new connection: ask once, record its LB, close it
                const size_t k = size_t(key & 0xffffffffu);
                const int fd = s.new_fds[k];
                if (fd < 0) continue;
                NewConnection& nc = report_.new_connections[k];
                if (flags & EPOLLOUT) {
                    const int error = socket_error(fd);
                    if (error) {
                        close_new(k, error);
                        continue;
                    }
                    epoll_event ev{EPOLLIN | EPOLLRDHUP, {.u64 = key}};
                    ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &ev);
                    ::send(fd, kRequest, sizeof kRequest - 1, MSG_NOSIGNAL);
                }
                if (flags & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
                    char buf[1024];
                    ssize_t got;
                    while ((got = ::recv(fd, buf, sizeof buf, 0)) > 0) s.new_received[k].append(buf, size_t(got));
                    bool malformed = false;
                    if (take_http_body(s.new_received[k], body, malformed)) {
                        nc.lb = lb_index(body);
                        nc.answered_ns = now;
                        close_new(k, 0);
                    } else if (malformed || got == 0 || (got < 0 && errno != EAGAIN)) {
                        close_new(k, got < 0 ? errno : (malformed ? EPROTO : ECONNABORTED));
                    }
                }
                continue;
            }
            const uint32_t i = uint32_t(key);
            State::Conn& c = s.conns[i];
            ConnectionRecord& r = report_.connections[i];
            if (c.fd < 0) continue;
            if (r.state == ConnectionState::kOpening && (flags & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                const int error = socket_error(c.fd);
                if (error) {
                    end(i, ConnectionState::kFailed, error, now);
                    continue;
                }
                r.state = ConnectionState::kOpen;
                r.opened_ns = now;
                ++s.settled;
                epoll_event ev{EPOLLIN | EPOLLRDHUP, {.u64 = i}};
                ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
                // Staggered: each asks first at its own phase of the interval.
                s.due.emplace(now + (uint64_t(i) * 2654435761u % interval_ns), i);
                continue;
            }
            if (flags & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
                char buf[1024];
                ssize_t got;
                while ((got = ::recv(c.fd, buf, sizeof buf, 0)) > 0) c.received.append(buf, size_t(got));
                const int error = got < 0 ? errno : 0;
                bool malformed = false;
                while (take_http_body(c.received, body, malformed)) {
                    const uint8_t lb = lb_index(body);
                    if (!r.lb) r.lb = lb;
                    r.last_lb = lb;
                    ++r.answers;
                    r.last_answer_ns = now;
                    c.asking = false;
                    if (r.state == ConnectionState::kStalled) {  // it came back: alive after all
                        r.state = ConnectionState::kOpen;
                        r.ended_ns = 0;
                    }
                }
                if (got == 0) {
                    end(i, ConnectionState::kClosed, 0, now);
                } else if (error && error != EAGAIN && error != EWOULDBLOCK) {
                    end(i, error == ECONNRESET ? ConnectionState::kReset : ConnectionState::kStalled, error, now);
                } else if ((flags & (EPOLLERR | EPOLLHUP)) && socket_error(c.fd)) {
                    const int e2 = socket_error(c.fd);
                    end(i, e2 == ECONNRESET ? ConnectionState::kReset : ConnectionState::kStalled, e2, now);
                } else if (malformed) {
                    end(i, ConnectionState::kClosed, EPROTO, now);
                }
            }
        }
        if (n > 0) answered_.notify_all();
        if (stopping) break;
    }
    // Every connection still open is left alive, then closed, as the client ends.
    for (auto& c : s.conns) {
        if (c.fd >= 0) ::close(c.fd), c.fd = -1;
    }
    for (int& fd : s.new_fds) {
        if (fd >= 0) ::close(fd), fd = -1;
    }
}

uint32_t Connections::wait_open(uint32_t timeout_ms) {
    std::unique_lock lock(mutex_);
    settled_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return state_->all_open_ns != 0; });
    return uint32_t(std::count_if(report_.connections.begin(), report_.connections.end(),
                                  [](const ConnectionRecord& r) { return r.state == ConnectionState::kOpen; }));
}

bool Connections::wait_answered(uint32_t answers, uint32_t timeout_ms) {
    std::unique_lock lock(mutex_);
    return answered_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
        return std::all_of(report_.connections.begin(), report_.connections.end(), [&](const ConnectionRecord& r) {
            return r.answers >= answers || (r.state != ConnectionState::kOpen && r.state != ConnectionState::kOpening);
        });
    });
}

std::vector<ConnectionRecord> Connections::snapshot() const {
    std::lock_guard lock(mutex_);
    return report_.connections;
}

ConnectionsReport Connections::stop() {
    if (stopped_) throw std::logic_error("connections already stopped");
    uint64_t one = 1;
    if (::write(stop_fd_, &one, sizeof one) != sizeof one) throw sys_error("eventfd write");
    thread_.join();
    stopped_ = true;
    report_.memory_bytes = report_.connections.capacity() * sizeof(ConnectionRecord) +
                           report_.new_connections.capacity() * sizeof(NewConnection) +
                           state_->conns.capacity() * sizeof(State::Conn) +
                           state_->due.size() * sizeof(std::pair<uint64_t, uint32_t>);
    for (const auto& c : state_->conns) report_.memory_bytes += c.received.capacity();
    return std::move(report_);
}

}  // namespace vipcheck
