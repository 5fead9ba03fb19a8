// Flow injector: paced UDP flows with distinct 5-tuples, batched with sendmmsg.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace vipcheck {

struct InjectionPlan {
    std::string netns;                  // namespace of the client that sends
    uint32_t src_ip = 0;                // host byte order
    uint32_t dst_ip = 0;                // the VIP
    uint16_t dst_port = 0;
    std::vector<uint16_t> src_ports;    // one per flow; flow i is first_flow_id + i
    uint32_t first_flow_id = 0;
    uint32_t packets_per_flow = 1;
    double rate_pps = 10000;            // this client's share of the offered load
    uint32_t run_tag = 0;
    const std::atomic<bool>* cancel = nullptr;  // checked between batches
};

struct InjectionReport {
    uint64_t packets_sent = 0;
    uint64_t send_errors = 0;   // packets the client's own stack refused
    int last_errno = 0;
    uint64_t first_send_ns = 0; // CLOCK_MONOTONIC
    uint64_t last_send_ns = 0;
};

// Sends every flow's packets round-robin (flow-major per sequence number) at plan.rate_pps.
// Uses one raw IP socket, so no socket hash rides on the packets and any 5-tuple can be sent.
InjectionReport inject_flows(const InjectionPlan& plan);

}  // namespace vipcheck
