// A resilient nexthop group that follows a route. FRR 8.4's zebra cannot install a protocol route
// as a resilient group (8.5 offers one inside nexthop-group blocks, for PBR; zebra-wide resilience
// exists on FRR's master only), so the router's route to the VIP lives in a table of its own,
// reached by a rule (`ip rule add to VIP lookup TABLE`), through a group of type resilient whose
// members this watcher keeps in step with the gateways zebra installs in the main table. Members
// change by a replace of the group: the kernel refuses to change its type or bucket count.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vipcheck {

struct ResilientConfig {
    std::string netns;
    uint32_t vip = 0;                   // host byte order
    std::vector<std::string> gateways;  // every LB's gateway on this router: member i is group_id + 1 + i
    uint32_t table = 100;               // the VIP's own table
    uint32_t rule_priority = 100;       // before the main table's rule (32766)
    uint32_t group_id = 9000;
    uint16_t buckets = 64;
    // The kernel takes both timers in clock_t (1/100 s); `ip nexthop` and FRR 8.5's nexthop-group
    // `resilient idle-timer` take seconds.
    uint32_t idle_timer_ms = 120'000;      // a bucket idle this long may move to an underweight member
    uint32_t unbalanced_timer_ms = 0;      // unbalanced this long, busy buckets move too (0: never)
};

struct GroupChange {
    uint64_t at_ns = 0;                 // CLOCK_MONOTONIC: the group (or the VIP's route) changed
    std::vector<std::string> gateways;  // its members then; none: the VIP's route removed
    std::string error;                  // what the kernel refused, if anything
};

struct Bucket {
    uint16_t index = 0;
    std::string gateway;
    uint64_t idle_ms = 0;
};

class ResilientGroup {
public:
    // Installs the rule and follows the main table's route to the VIP: returns once the first
    // state is applied.
    explicit ResilientGroup(ResilientConfig config);
    ~ResilientGroup();
    ResilientGroup(const ResilientGroup&) = delete;
    ResilientGroup& operator=(const ResilientGroup&) = delete;

    std::vector<GroupChange> changes() const;
    // Blocks until the group's members are exactly `gateways` (any order), or timeout_ms.
    bool wait_for(std::vector<std::string> gateways, uint32_t timeout_ms);
    void stop();  // the kernel's state stays: the run's namespace goes with it

private:
    void follow(int events_fd, void* query_socket);
    void apply(void* socket, const std::vector<std::pair<std::string, int>>& hops);

    ResilientConfig config_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<GroupChange> changes_;
    std::vector<std::string> members_;  // as last applied
    bool routed_ = false;               // the VIP's route in its table exists
    int stop_fd_ = -1;
    std::thread thread_;
    bool stopped_ = false;
};

// Every bucket of a resilient group, with its member's gateway and idle time (`ip nexthop bucket`).
std::vector<Bucket> read_buckets(const std::string& netns, uint32_t group_id);

}  // namespace vipcheck
