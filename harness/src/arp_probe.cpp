#include "arp_probe.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <future>
#include <set>
#include <stdexcept>

#include "clock.h"
#include "netns.h"
#include "packet_format.h"

namespace vipcheck {
namespace {

std::runtime_error sys_error(const std::string& what) {
    return std::runtime_error(what + ": " + std::strerror(errno));
}

class PacketSocket {
public:
    explicit PacketSocket(const std::string& ifname) {
        fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
        if (fd_ < 0) throw sys_error("packet socket");
        ifindex_ = int(::if_nametoindex(ifname.c_str()));
        if (ifindex_ == 0) {
            ::close(fd_);
            throw sys_error("interface " + ifname);
        }
        ifreq req{};
        std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
        if (::ioctl(fd_, SIOCGIFHWADDR, &req) != 0) {
            ::close(fd_);
            throw sys_error("SIOCGIFHWADDR " + ifname);
        }
        std::memcpy(mac_.data(), req.ifr_hwaddr.sa_data, 6);
        sockaddr_ll addr{};
        addr.sll_family = AF_PACKET;
        addr.sll_protocol = htons(ETH_P_ARP);
        addr.sll_ifindex = ifindex_;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd_);
            throw sys_error("bind packet socket");
        }
    }
    ~PacketSocket() { ::close(fd_); }
    int fd() const { return fd_; }
    int ifindex() const { return ifindex_; }
    const MacAddress& mac() const { return mac_; }

private:
    int fd_ = -1;
    int ifindex_ = 0;
    MacAddress mac_{};
};

}  // namespace

ArpProbeResult probe_arp(const std::string& netns, const std::string& ifname, const std::string& src_ip,
                         const std::vector<std::string>& targets, const std::vector<std::string>& must_answer,
                         uint32_t rounds, uint32_t grace_ms, uint32_t timeout_ms) {
    const uint32_t source = parse_ipv4(src_ip);
    std::vector<uint32_t> target_ips;
    for (const auto& t : targets) target_ips.push_back(parse_ipv4(t));
    std::set<std::string> waiting(must_answer.begin(), must_answer.end());
    return run_in_netns(netns, [&]() {
        PacketSocket sock(ifname);
        ArpProbeResult result;
        sockaddr_ll to{};
        to.sll_family = AF_PACKET;
        to.sll_protocol = htons(ETH_P_ARP);
        to.sll_ifindex = sock.ifindex();
        to.sll_halen = 6;
        std::fill(to.sll_addr, to.sll_addr + 6, 0xff);
        const uint64_t start = monotonic_ns();
        for (uint32_t round = 0; round < rounds; ++round) {
            for (uint32_t target : target_ips) {
                auto frame = build_arp_request(sock.mac(), source, target);
                if (::sendto(sock.fd(), frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) !=
                    ssize_t(frame.size())) {
                    throw sys_error("send ARP request");
                }
                ++result.requests_sent;
            }
        }
        const uint64_t deadline = start + uint64_t(timeout_ms) * 1'000'000;
        uint64_t stop_at = deadline;
        if (waiting.empty()) stop_at = std::min(deadline, start + uint64_t(grace_ms) * 1'000'000);
        std::array<uint8_t, 1514> buf{};
        while (true) {
            const uint64_t now = monotonic_ns();
            if (now >= stop_at) break;
            pollfd pfd{sock.fd(), POLLIN, 0};
            if (::poll(&pfd, 1, int((stop_at - now) / 1'000'000 + 1)) <= 0) continue;
            ssize_t n = ::recv(sock.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
            if (n <= 0) continue;
            auto arp = parse_arp({buf.data(), size_t(n)});
            if (!arp || arp->op != 2 || arp->target_ip != source) continue;
            const uint64_t at = monotonic_ns();
            result.replies.push_back({format_ipv4(arp->sender_ip), format_mac(arp->sender_mac), at});
            if (waiting.erase(format_ipv4(arp->sender_ip)) && waiting.empty()) {
                // Every expected answer is in: listen as long again, so slower repliers are heard.
                const uint64_t took = at - start;
                stop_at = std::min(deadline, at + std::max<uint64_t>(took, uint64_t(grace_ms) * 1'000'000));
            }
        }
        result.answered = waiting.empty();
        result.listened_ns = monotonic_ns() - start;
        return result;
    });
}

ArpWatch::ArpWatch(const std::string& netns) {
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) throw sys_error("eventfd");
    std::promise<void> listening;
    auto listening_future = listening.get_future();
    thread_ = std::thread([this, netns, &listening]() {
        int sock = -1;
        try {
            NetnsFd ns(netns);
            enter_netns(ns);
            // Unbound to an interface: every one of the node's, a bridge's ports included.
            sock = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ARP));
            if (sock < 0) throw sys_error("packet socket");
        } catch (...) {
            listening.set_exception(std::current_exception());
            return;
        }
        listening.set_value();
        record(sock);
        ::close(sock);
    });
    await_setup(listening_future, thread_, stop_fd_);
}

ArpWatch::~ArpWatch() {
    if (!stopped_) stop();
    ::close(stop_fd_);
}

void ArpWatch::record(int sock) {
    std::array<uint8_t, 1514> buf{};
    pollfd fds[2] = {{sock, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    bool stopping = false;
    while (true) {
        sockaddr_ll from{};
        socklen_t length = sizeof from;
        const ssize_t n = ::recvfrom(sock, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &length);
        if (n > 0) {
            auto arp = parse_arp({buf.data(), size_t(n)});
            // A bridge node sees a frame on the port it came in by, then on the bridge itself (for
            // a broadcast) and on every port it floods out of: the ingress copy is the one kept.
            if (arp && from.sll_pkttype != PACKET_OUTGOING) {
                char name[IF_NAMESIZE] = "";
                ::if_indextoname(unsigned(from.sll_ifindex), name);
                std::lock_guard lock(mutex_);
                frames_.push_back({arp->op, format_ipv4(arp->sender_ip), format_mac(arp->sender_mac),
                                   format_ipv4(arp->target_ip), name, monotonic_ns()});
            }
            continue;
        }
        if (stopping) break;  // drained
        ::poll(fds, 2, -1);
        if (fds[1].revents & POLLIN) stopping = true;
    }
}

std::vector<ArpFrame> ArpWatch::stop() {
    if (stopped_) throw std::logic_error("ARP watch already stopped");
    uint64_t one = 1;
    if (::write(stop_fd_, &one, sizeof one) != sizeof one) throw sys_error("eventfd write");
    thread_.join();
    stopped_ = true;
    std::lock_guard lock(mutex_);
    return std::move(frames_);
}

}  // namespace vipcheck
