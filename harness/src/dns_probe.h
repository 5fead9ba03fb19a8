// DNS probe: builds A queries and parses answers itself (no resolver library, no cache), so
// every answer is exactly what the server sent, in the server's order.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vipcheck {

struct DnsAnswer {
    uint16_t id = 0;
    uint8_t rcode = 0;
    bool authoritative = false;
    bool truncated = false;
    std::vector<std::string> addresses;  // A records, in the order of the answer section
    uint32_t ttl = 0;                    // the smallest TTL among them
    uint64_t rtt_ns = 0;
};

struct DnsProbeResult {
    std::vector<DnsAnswer> answers;  // one per query that was answered, in query order
    uint32_t sent = 0;
    uint32_t timeouts = 0;
};

// The wire form of a recursion-free query for `name` (dotted, no trailing dot needed).
std::vector<uint8_t> build_dns_query(uint16_t id, const std::string& name, uint16_t qtype = 1);

// Parses a response to query `id`; nullopt when malformed, truncated mid-record or not ours.
std::optional<DnsAnswer> parse_dns_response(std::span<const uint8_t> message, uint16_t id);

// Sends `count` queries one after another, each from a fresh socket with a fresh random id,
// waiting up to timeout_ms for each answer.
DnsProbeResult probe_dns(const std::string& netns, const std::string& server, uint16_t port, const std::string& name,
                         uint32_t count, uint32_t timeout_ms, uint64_t seed);

}  // namespace vipcheck
