// ARP prober: asks a segment who holds an address, from a packet socket, and records every reply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vipcheck {

struct ArpReply {
    std::string sender_ip;   // the address the replier claims
    std::string sender_mac;
    uint64_t at_ns = 0;      // CLOCK_MONOTONIC
};

struct ArpProbeResult {
    std::vector<ArpReply> replies;
    uint32_t requests_sent = 0;
    bool answered = false;       // every target in must_answer replied before the timeout
    uint64_t listened_ns = 0;
};

// Broadcasts `rounds` ARP requests for every target from ifname, with src_ip as the sender,
// and records each reply addressed to src_ip. It listens until every target in must_answer has
// replied, then as long again (at least grace_ms) so that any other replier is heard too;
// timeout_ms bounds the whole probe.
ArpProbeResult probe_arp(const std::string& netns, const std::string& ifname, const std::string& src_ip,
                         const std::vector<std::string>& targets, const std::vector<std::string>& must_answer,
                         uint32_t rounds, uint32_t grace_ms, uint32_t timeout_ms);

}  // namespace vipcheck
