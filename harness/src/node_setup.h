// What a build writes into a node by netlink besides its links and addresses: bridges and
// static routes, one request each (a forked `ip` through mnexec cost 5-10 ms a command).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vipcheck {

// Makes bridge `name` (no STP) in the namespace, raised, and makes each of `ports` one of its
// ports; the ports keep their state (Lab.bring_up raises them).
void add_bridge(const std::string& netns, const std::string& name, const std::vector<std::string>& ports);

// Adds destination/prefix_len to the main table: through the one gateway, or through each of
// several gateways in this order (one multipath route, as `ip route add ... nexthop via ...`).
void add_route(const std::string& netns, const std::string& destination, uint32_t prefix_len,
               const std::vector<std::string>& gateways);

}  // namespace vipcheck
