// The one clock every driver stamps with: CLOCK_MONOTONIC, as Python's time.monotonic_ns().
#pragma once

#include <cstdint>
#include <ctime>

namespace vipcheck {

inline uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
}

}  // namespace vipcheck
