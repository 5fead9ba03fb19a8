// Failures that take effect at one instant: each is one netlink request, in effect when the
// kernel acknowledges it (a forked `ip` added milliseconds, and more on a loaded machine).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vipcheck {

// Sets the interface administratively up or down. Raised, it is running (has carrier) when this
// returns if its peer is up; the peer's own end is running once wait_links_running looks at it.
void set_link_up(const std::string& netns, const std::string& ifname, bool up);

// Adds or deletes an IPv4 address on the interface; false when it was already there (add) or
// already gone (delete), so undoing a failure twice is harmless.
bool change_address(const std::string& netns, const std::string& ifname, const std::string& address,
                    uint32_t prefix_len, bool add);

// Waits, on the namespace's link events, until each of these interfaces that is up is also
// running (it has carrier: IFF_RUNNING, what routing daemons read as the link being usable). The
// kernel publishes a carrier change later than the request that caused it (linkwatch defers a
// veth up to a second), so a daemon started right after `set_link_up` can find its links down:
// this first makes the kernel publish what it holds, then waits. Returns the names still not
// running after timeout_ms; empty when all are.
std::vector<std::string> wait_links_running(const std::string& netns, const std::vector<std::string>& ifnames,
                                            int timeout_ms);

}  // namespace vipcheck
