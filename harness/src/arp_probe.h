// ARP on a segment, from packet sockets: a prober that asks who holds an address and records every
// reply, and a watcher that records every ARP frame a node sees.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
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

struct ArpFrame {
    uint16_t op = 0;         // 1 request, 2 reply
    std::string sender_ip;   // the address the sender claims
    std::string sender_mac;
    std::string target_ip;
    std::string ifname;      // where the node received it
    uint64_t at_ns = 0;      // CLOCK_MONOTONIC
};

// Records every ARP frame any interface of a node receives (a bridge node sees a segment's), until
// stopped: who asked for whom, claiming which address. Frames the node itself sends are left out.
class ArpWatch {
public:
    // Returns once the packet socket listens in the node's namespace.
    explicit ArpWatch(const std::string& netns);
    ~ArpWatch();
    ArpWatch(const ArpWatch&) = delete;
    ArpWatch& operator=(const ArpWatch&) = delete;
    std::vector<ArpFrame> stop();  // drains what is queued and hands over the frames (once)

private:
    void record(int sock);

    mutable std::mutex mutex_;
    std::vector<ArpFrame> frames_;
    int stop_fd_ = -1;
    std::thread thread_;
    bool stopped_ = false;
};

}  // namespace vipcheck
