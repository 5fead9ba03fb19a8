// libFuzzer target: rtnetlink route messages, as the route monitor reads them.
#include <cstddef>
#include <cstdint>
#include <span>

#include "netlink_routes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    vipcheck::parse_route_message(std::span<const uint8_t>(data, size), "10.100.0.1", 32);
    return 0;
}
