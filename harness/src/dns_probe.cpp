#include "dns_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>

#include "clock.h"
#include "netns.h"
#include "packet_format.h"

namespace vipcheck {
namespace {

constexpr size_t kHeader = 12;
constexpr int kMaxPointerHops = 32;  // a loop of compression pointers must not hang the parser

uint16_t get16(std::span<const uint8_t> m, size_t at) { return uint16_t((m[at] << 8) | m[at + 1]); }
uint32_t get32(std::span<const uint8_t> m, size_t at) { return (uint32_t(get16(m, at)) << 16) | get16(m, at + 2); }

// Returns the offset just past the name at `at`, or nullopt when it runs off the message.
std::optional<size_t> skip_name(std::span<const uint8_t> m, size_t at) {
    for (int hops = 0; hops < 256; ++hops) {
        if (at >= m.size()) return std::nullopt;
        const uint8_t len = m[at];
        if (len == 0) return at + 1;
        if ((len & 0xc0) == 0xc0) {  // a pointer ends the name in place
            if (at + 1 >= m.size()) return std::nullopt;
            return at + 2;
        }
        if (len & 0xc0) return std::nullopt;  // reserved label types
        at += 1 + len;
    }
    return std::nullopt;
}

// Checks that a name is well formed, following pointers, without building it.
bool valid_name(std::span<const uint8_t> m, size_t at) {
    for (int hops = 0; hops < kMaxPointerHops; ++hops) {
        while (true) {
            if (at >= m.size()) return false;
            const uint8_t len = m[at];
            if (len == 0) return true;
            if ((len & 0xc0) == 0xc0) {
                if (at + 1 >= m.size()) return false;
                at = size_t(get16(m, at) & 0x3fff);
                break;
            }
            if (len & 0xc0) return false;
            at += 1 + len;
        }
    }
    return false;
}

}  // namespace

std::vector<uint8_t> build_dns_query(uint16_t id, const std::string& name, uint16_t qtype) {
    std::vector<uint8_t> q = {uint8_t(id >> 8), uint8_t(id), 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};  // RD=0, 1 question
    size_t start = 0;
    std::string trimmed = name;
    if (!trimmed.empty() && trimmed.back() == '.') trimmed.pop_back();
    if (trimmed.empty() || trimmed.size() > 253) throw std::invalid_argument("bad DNS name: '" + name + "'");
    while (start <= trimmed.size()) {
        size_t dot = trimmed.find('.', start);
        if (dot == std::string::npos) dot = trimmed.size();
        const size_t len = dot - start;
        if (len == 0 || len > 63) throw std::invalid_argument("bad DNS label in '" + name + "'");
        q.push_back(uint8_t(len));
        q.insert(q.end(), trimmed.begin() + long(start), trimmed.begin() + long(dot));
        start = dot + 1;
    }
    q.push_back(0);
    q.insert(q.end(), {uint8_t(qtype >> 8), uint8_t(qtype), 0, 1});  // class IN
    return q;
}

std::optional<DnsAnswer> parse_dns_response(std::span<const uint8_t> m, uint16_t id) {
    if (m.size() < kHeader || get16(m, 0) != id) return std::nullopt;
    const uint16_t flags = get16(m, 2);
    if (!(flags & 0x8000)) return std::nullopt;  // a query, not a response
    DnsAnswer answer;
    answer.id = id;
    answer.rcode = uint8_t(flags & 0x000f);
    answer.authoritative = flags & 0x0400;
    answer.truncated = flags & 0x0200;
    const uint16_t questions = get16(m, 4), records = get16(m, 6);
    size_t at = kHeader;
    for (uint16_t i = 0; i < questions; ++i) {
        auto next = skip_name(m, at);
        if (!next || *next + 4 > m.size()) return std::nullopt;
        at = *next + 4;
    }
    uint32_t min_ttl = std::numeric_limits<uint32_t>::max();
    for (uint16_t i = 0; i < records; ++i) {
        if (!valid_name(m, at)) return std::nullopt;
        auto next = skip_name(m, at);
        if (!next || *next + 10 > m.size()) return std::nullopt;
        at = *next;
        const uint16_t type = get16(m, at), klass = get16(m, at + 2), rdlength = get16(m, at + 8);
        const uint32_t ttl = get32(m, at + 4);
        at += 10;
        if (at + rdlength > m.size()) return std::nullopt;
        if (type == 1 && klass == 1) {
            if (rdlength != 4) return std::nullopt;
            answer.addresses.push_back(format_ipv4(get32(m, at)));
            min_ttl = std::min(min_ttl, ttl);
        }
        at += rdlength;
    }
    answer.ttl = answer.addresses.empty() ? 0 : min_ttl;
    return answer;
}

DnsProbeResult probe_dns(const std::string& netns, const std::string& server, uint16_t port, const std::string& name,
                         uint32_t count, uint32_t timeout_ms, uint64_t seed) {
    const uint32_t server_ip = parse_ipv4(server);
    build_dns_query(0, name);  // reject a bad name before entering the namespace
    return run_in_netns(netns, [&]() {
        std::mt19937_64 rng(seed);
        DnsProbeResult result;
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(port);
        to.sin_addr.s_addr = htonl(server_ip);
        std::array<uint8_t, 4096> buf{};
        for (uint32_t i = 0; i < count; ++i) {
            const uint16_t id = uint16_t(rng());
            const auto query = build_dns_query(id, name);
            // A fresh socket per query: a fresh source port, as a stub resolver without a cache.
            int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (fd < 0) throw std::runtime_error(std::string("DNS socket: ") + std::strerror(errno));
            const uint64_t sent_at = monotonic_ns();
            if (::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
                ::close(fd);
                throw std::runtime_error(std::string("DNS send: ") + std::strerror(errno));
            }
            ++result.sent;
            const uint64_t deadline = sent_at + uint64_t(timeout_ms) * 1'000'000;
            bool answered = false;
            while (!answered) {
                const uint64_t now = monotonic_ns();
                if (now >= deadline) break;
                pollfd pfd{fd, POLLIN, 0};
                if (::poll(&pfd, 1, int((deadline - now) / 1'000'000 + 1)) <= 0) continue;
                sockaddr_in from{};
                socklen_t from_len = sizeof from;
                ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
                if (n <= 0 || from.sin_addr.s_addr != to.sin_addr.s_addr || from.sin_port != to.sin_port) continue;
                auto answer = parse_dns_response({buf.data(), size_t(n)}, id);
                if (!answer) continue;  // not ours or malformed: keep waiting for the real one
                answer->rtt_ns = monotonic_ns() - sent_at;
                result.answers.push_back(*answer);
                answered = true;
            }
            if (!answered) ++result.timeouts;
            ::close(fd);
        }
        return result;
    });
}

}  // namespace vipcheck
