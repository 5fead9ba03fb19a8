// What a namespace's kernel holds and decides, asked over netlink: route lookups, a routing
// table, the addresses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vipcheck {

struct InterfaceAddress {
    std::string ifname;
    int ifindex = 0;
    std::string address;
    uint32_t prefix_len = 0;
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
