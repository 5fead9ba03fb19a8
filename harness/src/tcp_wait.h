// Readiness: a daemon is up when its TCP socket accepts a connection, not after a sleep.
#pragma once

#include <cstdint>
#include <string>

namespace vipcheck {

struct TcpWait {
    bool answered = false;
    uint32_t attempts = 0;
    uint64_t waited_ns = 0;
    std::string last_error;
};

// Connects to address:port from the namespace until a connection is accepted or timeout_ms
// passes; a refused connection is retried after retry_ms (the listener is not there yet).
TcpWait wait_for_tcp(const std::string& netns, const std::string& address, uint16_t port, uint32_t timeout_ms,
                     uint32_t retry_ms = 5);

}  // namespace vipcheck
