// libFuzzer target: UDP payloads arriving at a flow sink, ours or anyone's.
#include <cstddef>
#include <cstdint>
#include <span>

#include "packet_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    vipcheck::decode_payload(std::span<const uint8_t>(data, size));
    vipcheck::parse_arp(std::span<const uint8_t>(data, size));
    return 0;
}
