// Flow sink: records, per flow, what reached one LB, and answers it when asked to: the return
// path. Tests ask it afterwards.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vipcheck {

// Shared by the sinks of one run so the harness can wait for "everything arrived".
class ArrivalCounter {
public:
    void add(uint64_t packets, uint64_t now_ns);
    uint64_t total() const;
    // Returns once total >= expected, or nothing arrived for quiet_ms, or timeout_ms passed.
    uint64_t wait_for(uint64_t expected, uint32_t quiet_ms, uint32_t timeout_ms);

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    uint64_t total_ = 0;
    uint64_t last_arrival_ns_ = 0;
};

struct FlowArrivals {
    uint64_t packets = 0;
    uint64_t first_ns = 0;     // CLOCK_MONOTONIC at the sink, per receive batch
    uint64_t last_ns = 0;
    uint32_t next_seq = 0;     // one past the highest sequence number seen
    uint32_t seq_gaps = 0;     // sequence numbers skipped when a later one arrived
    uint32_t reordered = 0;    // arrivals below next_seq (late or duplicate)
};

// A stretch of consecutive sequence numbers one sink received from one flow, with the sender's
// clock at both ends: the failover gap is the time between two stretches.
struct SeqRun {
    uint32_t first_seq = 0;
    uint32_t last_seq = 0;
    uint64_t first_send_ns = 0;
    uint64_t last_send_ns = 0;
};

inline constexpr size_t kMaxRunsPerFlow = 64;

struct FlowRuns {
    std::vector<SeqRun> runs;   // in arrival order
    bool overflowed = false;    // more than kMaxRunsPerFlow stretches: the later ones are not kept
};

struct SinkConfig {
    std::string netns;
    uint32_t vip = 0;          // host byte order
    uint16_t port = 0;
    uint32_t run_tag = 0;
    uint32_t flow_count = 0;   // flow ids are 0..flow_count-1
    int rcvbuf_bytes = 64 << 20;
    uint32_t max_timeline_ms = 600'000;  // per-ms counts stop growing after this (10 minutes)
    bool record_runs = false;  // keep each flow's SeqRuns (failover streams); costs memory per loss
    // A service's answers: every datagram of this run is answered to (its source address,
    // answer_port), from the address the sink is bound to (the VIP), or, answer_from_route, from
    // a socket bound to any address, so the route's source address (a service that forgets the VIP).
    uint16_t answer_port = 0;
    bool answer_from_route = false;
    bool record_sources = false;  // count this run's arrivals per source address (the client's answers)
};

struct SinkReport {
    std::vector<FlowArrivals> flows;
    std::vector<FlowRuns> runs;          // per flow, when SinkConfig::record_runs
    uint64_t origin_ns = 0;              // when the sink started: bucket 0 of per_ms
    std::vector<uint32_t> per_ms;        // packets per millisecond since origin_ns
    uint64_t packets = 0;          // this run's packets
    uint64_t foreign_packets = 0;  // datagrams that were not this run's flows
    uint64_t kernel_drops = 0;     // socket-queue overflows (SO_RXQ_OVFL)
    uint64_t memory_bytes = 0;     // what the record occupies: the figure the run reports
    uint64_t answers_sent = 0;     // with answer_port: answers the kernel took
    uint64_t answer_errors = 0;    // ... and refused (no route back, say)
    int answer_errno = 0;          // the last refusal's errno
    std::vector<std::pair<uint32_t, uint64_t>> sources;  // with record_sources: address -> packets
};

class FlowSink {
public:
    // Returns once the socket is bound in the namespace; throws if it cannot be.
    FlowSink(SinkConfig config, std::shared_ptr<ArrivalCounter> counter);
    ~FlowSink();
    FlowSink(const FlowSink&) = delete;
    FlowSink& operator=(const FlowSink&) = delete;

    // Packets per flow so far, while the sink runs: the harness cuts time windows with it.
    std::vector<uint64_t> snapshot() const;

    // Drains what is queued, stops the thread and hands over the record (once).
    SinkReport stop();

private:
    void receive_loop(int sock);

    SinkConfig config_;
    std::shared_ptr<ArrivalCounter> counter_;
    mutable std::mutex report_mutex_;  // the receive thread writes, snapshot() reads
    SinkReport report_;
    int stop_fd_ = -1;
    std::thread thread_;
    bool stopped_ = false;
};

}  // namespace vipcheck
