#include "test_network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <stdexcept>

#include "netns.h"
#include "packet_format.h"

namespace vipcheck::testing {

TestNamespace::TestNamespace() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
        ::close(fds[1]);
        ::close(ready[0]);
        char ok = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
        (void)!::write(ready[1], &ok, 1);
        char byte;
        while (::read(fds[0], &byte, 1) < 0 && errno == EINTR) {
        }
        ::_exit(0);
    }
    ::close(fds[0]);
    ::close(ready[1]);
    keepalive_fd_ = fds[1];
    char ok = 'n';
    (void)!::read(ready[0], &ok, 1);
    ::close(ready[0]);
    if (ok != 'y') throw std::runtime_error("unshare(CLONE_NEWNET) failed: are we root?");
    run({"ip", "link", "set", "lo", "up"});
}

TestNamespace::~TestNamespace() {
    ::close(keepalive_fd_);
    ::waitpid(pid_, nullptr, 0);
}

std::string TestNamespace::path() const {
    return "/proc/" + std::to_string(pid_) + "/ns/net";
}

void TestNamespace::run(const std::vector<std::string>& argv) const {
    const std::string ns = path();
    pid_t child = ::fork();
    if (child < 0) throw std::runtime_error("fork");
    if (child == 0) {
        int fd = ::open(ns.c_str(), O_RDONLY);
        if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) ::_exit(126);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, STDOUT_FILENO);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::string cmd;
        for (const auto& a : argv) cmd += a + " ";
        throw std::runtime_error("command failed in test namespace: " + cmd);
    }
}

namespace {

// Links a and b with a veth pair named by the caller, created inside a's namespace.
void link(const TestNamespace& a, const std::string& a_if, const TestNamespace& b, const std::string& b_if) {
    a.run({"ip", "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", std::to_string(b.pid())});
    a.run({"ip", "link", "set", a_if, "up"});
    b.run({"ip", "link", "set", b_if, "up"});
}

}  // namespace

EcmpNetwork::EcmpNetwork(int hash_policy) {
    link(client, "eth0", router, "c0");
    link(router, "l1", lb1, "eth0");
    link(router, "l2", lb2, "eth0");
    client.run({"ip", "addr", "add", "10.0.1.2/24", "dev", "eth0"});
    client.run({"ip", "route", "add", "default", "via", "10.0.1.1"});
    router.run({"ip", "addr", "add", "10.0.1.1/24", "dev", "c0"});
    router.run({"ip", "addr", "add", "10.0.2.1/24", "dev", "l1"});
    router.run({"ip", "addr", "add", "10.0.3.1/24", "dev", "l2"});
    router.run({"sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
                "net.ipv4.fib_multipath_hash_policy=" + std::to_string(hash_policy)});
    lb1.run({"ip", "addr", "add", "10.0.2.2/24", "dev", "eth0"});
    lb2.run({"ip", "addr", "add", "10.0.3.2/24", "dev", "eth0"});
    for (auto* lb : {&lb1, &lb2}) {
        lb->run({"ip", "addr", "add", std::string(kVip) + "/32", "dev", "lo"});
        lb->run({"ip", "route", "add", "default", "via", lb == &lb1 ? "10.0.2.1" : "10.0.3.1"});
    }
}

InjectionPlan EcmpNetwork::flows(std::vector<uint16_t> src_ports, uint32_t packets_per_flow, double rate_pps,
                                  uint32_t run_tag, const char* dst) const {
    return {.netns = client.path(), .src_ip = parse_ipv4(kClient), .dst_ip = parse_ipv4(dst), .dst_port = kPort,
            .src_ports = std::move(src_ports), .packets_per_flow = packets_per_flow, .rate_pps = rate_pps,
            .run_tag = run_tag};
}

HttpNamer::HttpNamer(const TestNamespace& ns, const std::string& address, uint16_t port, std::string name) {
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    std::promise<void> ready;
    auto ready_future = ready.get_future();
    thread_ = std::thread([this, path = ns.path(), address, port, name, &ready]() {
        int listener = -1;
        try {
            NetnsFd netns(path);
            enter_netns(netns);
            listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            int one = 1;
            ::setsockopt(listener, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
            sockaddr_in at{};
            at.sin_family = AF_INET;
            at.sin_port = htons(port);
            at.sin_addr.s_addr = htonl(parse_ipv4(address));
            if (::bind(listener, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 || ::listen(listener, 1024) != 0) {
                throw std::runtime_error("HttpNamer: bind or listen failed");
            }
        } catch (...) {
            ready.set_exception(std::current_exception());
            return;
        }
        ready.set_value();
        const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(name.size()) + "\r\n\r\n" + name;
        std::vector<pollfd> fds{{stop_fd_, POLLIN, 0}, {listener, POLLIN, 0}};
        std::vector<std::string> pending{"", ""};
        while (true) {
            ::poll(fds.data(), fds.size(), -1);
            if (fds[0].revents & POLLIN) break;
            if (fds[1].revents & POLLIN) {
                int client;
                while ((client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    fds.push_back({client, POLLIN, 0});
                    pending.emplace_back();
                }
            }
            for (size_t i = 2; i < fds.size(); ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                char buf[512];
                const ssize_t got = ::recv(fds[i].fd, buf, sizeof buf, 0);
                if (got <= 0) {
                    ::close(fds[i].fd);
                    fds[i].fd = -1;  // poll skips it
                    continue;
                }
                pending[i].append(buf, size_t(got));
                size_t end;
                while ((end = pending[i].find("\r\n\r\n")) != std::string::npos) {
                    pending[i].erase(0, end + 4);
                    ::send(fds[i].fd, answer.data(), answer.size(), MSG_NOSIGNAL);
                }
            }
        }
        for (size_t i = 1; i < fds.size(); ++i) {
            if (fds[i].fd >= 0) ::close(fds[i].fd);
        }
    });
    try {
        ready_future.get();
    } catch (...) {
        thread_.join();
        ::close(stop_fd_);
        throw;
    }
}

HttpNamer::~HttpNamer() {
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    thread_.join();
    ::close(stop_fd_);
}

}  // namespace vipcheck::testing
