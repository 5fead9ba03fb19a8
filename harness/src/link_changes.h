// Failures that take effect at one instant: each is one netlink request, in effect when the
// kernel acknowledges it (a forked `ip` added milliseconds, and more on a loaded machine).
#pragma once

#include <cstdint>
#include <string>

namespace vipcheck {

// Sets the interface administratively up or down.
void set_link_up(const std::string& netns, const std::string& ifname, bool up);

// Adds or deletes an IPv4 address on the interface; false when it was already there (add) or
// already gone (delete), so undoing a failure twice is harmless.
bool change_address(const std::string& netns, const std::string& ifname, const std::string& address,
                    uint32_t prefix_len, bool add);

}  // namespace vipcheck
