// Route reader: the kernel's view of a VIP route, nexthops included, over netlink.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

struct mnl_socket;

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

// Reads the route for destination/prefix_len from the main table (a dump, not a lookup,
// so a multipath route keeps all its nexthops).
VipRoute read_route(const std::string& netns, const std::string& destination, uint32_t prefix_len);

// The route to destination/prefix_len in one RTM_NEWROUTE message of the main table, as the
// kernel sends it; nullopt when the message is malformed, truncated or about another route.
std::optional<VipRoute> parse_route_message(std::span<const uint8_t> message, const std::string& destination,
                                            uint32_t prefix_len);

// The same in the calling thread's namespace, on an open NETLINK_ROUTE socket; dst_network in
// network byte order.
VipRoute read_route_here(mnl_socket* sock, uint32_t dst_network, uint32_t prefix_len);

// The gateway of one nexthop object, in the calling thread's namespace ("" for none).
std::string nexthop_gateway_here(mnl_socket* sock, uint32_t id);

}  // namespace vipcheck
