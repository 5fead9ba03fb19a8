// Route watcher: every change of a VIP route, timestamped as the kernel announces it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "netlink_routes.h"

namespace vipcheck {

struct RouteChange {
    uint64_t at_ns = 0;     // CLOCK_MONOTONIC when the change was read
    VipRoute route;
};

struct RouteWait {
    bool reached = false;
    uint64_t started_ns = 0;
    uint64_t reached_ns = 0;
    VipRoute route;                    // the last route read
    std::vector<RouteChange> changes;  // every distinct state seen, the first included
};

// Blocks until the route is unicast through exactly `gateways` (in any order), watching
// RTNLGRP_IPV4_ROUTE and RTNLGRP_NEXTHOP; cancelled() is polled every 50 ms and aborts the wait.
RouteWait wait_for_nexthops(const std::string& netns, const std::string& destination, uint32_t prefix_len,
                            std::vector<std::string> gateways, uint32_t timeout_ms,
                            const std::function<bool()>& cancelled);

// Watches one route in the background and timestamps every change of it (CLOCK_MONOTONIC, the
// clock the harness stamps its failures with), until stopped.
class RouteMonitor {
public:
    // Returns once subscribed and the first state is recorded.
    RouteMonitor(const std::string& netns, const std::string& destination, uint32_t prefix_len);
    ~RouteMonitor();
    RouteMonitor(const RouteMonitor&) = delete;
    RouteMonitor& operator=(const RouteMonitor&) = delete;

    std::vector<RouteChange> changes() const;
    // Blocks until a change recorded at or after since_ns is unicast via exactly `gateways`.
    std::optional<RouteChange> wait_for(std::vector<std::string> gateways, uint64_t since_ns, uint32_t timeout_ms);
    void stop();

private:
    void watch(int events_fd, void* query_socket);

    uint32_t destination_;
    uint32_t prefix_len_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<RouteChange> changes_;
    int stop_fd_ = -1;
    std::thread thread_;
    bool stopped_ = false;
};

}  // namespace vipcheck
