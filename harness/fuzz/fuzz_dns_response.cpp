// libFuzzer target: DNS answers as a resolver on the network might send them.
#include <cstddef>
#include <cstdint>
#include <span>

#include "dns_probe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> message(data, size);
    vipcheck::parse_dns_response(message, size >= 2 ? uint16_t(data[0] << 8 | data[1]) : 0);
    return 0;
}
