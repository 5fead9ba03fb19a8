// Route reader and watcher: the kernel's view of a VIP route, nexthops included, over netlink.
#pragma once

#include <cstdint>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <string>
#include <vector>

namespace vipcheck {

struct Nexthop {
    std::string gateway;   // empty for a device route
    int ifindex = 0;
    std::string ifname;
    uint32_t weight = 1;   // 1-based, as `ip route` shows it

    bool operator==(const Nexthop&) const = default;
};

struct VipRoute {
    bool present = false;
    std::string destination;
    uint32_t prefix_len = 0;
    uint32_t table = 0;
    std::string type;       // unicast, blackhole, local, ...
    std::string protocol;   // ospf, kernel, static, ...
    uint32_t nhid = 0;      // nexthop object, when zebra installed one
    std::vector<Nexthop> nexthops;

    bool operator==(const VipRoute&) const = default;
};

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

struct InterfaceAddress {
    std::string ifname;
    int ifindex = 0;
    std::string address;
    uint32_t prefix_len = 0;
};

// Reads the route for destination/prefix_len from the main table (a dump, not a lookup,
// so a multipath route keeps all its nexthops).
VipRoute read_route(const std::string& netns, const std::string& destination, uint32_t prefix_len);

// The route to destination/prefix_len in one RTM_NEWROUTE message of the main table, as the
// kernel sends it; nullopt when the message is malformed, truncated or about another route.
std::optional<VipRoute> parse_route_message(std::span<const uint8_t> message, const std::string& destination,
                                            uint32_t prefix_len);

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

// What the kernel decides for one destination, as `ip route get` shows it.
struct RouteLookup {
    bool found = false;
    std::string destination;
    std::string type;      // unicast, local, ...
    std::string ifname;    // the output interface ("lo" for local delivery)
    std::string gateway;   // empty when on-link
    std::string source;    // preferred source address
    uint32_t table = 0;
    std::string error;     // the kernel's answer when there is no route
};

// One entry of a routing table dump.
struct RouteEntry {
    std::string destination;
    uint32_t prefix_len = 0;
    std::string type;
    std::string ifname;
    uint32_t table = 0;
};

// Asks the kernel to resolve a route for destination (RTM_GETROUTE without NLM_F_DUMP).
RouteLookup lookup_route(const std::string& netns, const std::string& destination);

// Every IPv4 route of one table (255 local, 254 main).
std::vector<RouteEntry> read_table(const std::string& netns, uint32_t table);

// Every IPv4 address in the namespace.
std::vector<InterfaceAddress> read_addresses(const std::string& netns);

}  // namespace vipcheck
