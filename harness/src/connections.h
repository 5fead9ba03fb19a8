// TCP connections: long-lived connections from one client to a service on the VIP, each asking a
// small HTTP request at a steady pace and recording its fate: the LB that answers (an answer's body
// names it), whether it is still alive, and if not whether it was reset, stalled or closed. Memory
// per connection, nothing per packet. New connections can be opened while the others run, each
// asking once, to see where the router puts a new connection.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vipcheck {

struct ConnectionsPlan {
    std::string netns;                  // the client's namespace
    uint32_t src_ip = 0;                // host byte order
    uint32_t dst_ip = 0;                // the VIP
    uint16_t dst_port = 0;
    std::vector<uint16_t> src_ports;    // one per connection: its 4-tuple, fixed by the run's seed
    uint32_t first_id = 0;              // connection i is first_id + i
    uint32_t open_per_s = 5000;         // how fast the connections open
    uint32_t ask_interval_ms = 200;     // each open connection asks once per interval, staggered
    uint32_t answer_timeout_ms = 1000;  // a request unanswered this long: the connection stalled
    std::vector<std::string> lb_names;  // an answer names its LB: 1 + its index here (0: none yet)
    std::vector<uint16_t> new_ports;    // new connections, one every new_every_ms once all are open
    uint32_t new_every_ms = 0;
};

enum class ConnectionState : uint8_t {
    kOpening = 0,  // connecting
    kOpen = 1,     // alive: every request answered within the timeout, or waiting less long
    kReset = 2,    // the peer reset it (a router moved it to an LB that has no state for it)
    kStalled = 3,  // a request unanswered for answer_timeout_ms
    kClosed = 4,   // the peer closed it (FIN)
    kFailed = 5,   // it never opened (refused, unreachable, timed out)
};

struct ConnectionRecord {
    uint32_t id = 0;
    uint16_t src_port = 0;
    ConnectionState state = ConnectionState::kOpening;
    uint8_t lb = 0;               // the LB of its first answer (1-based in lb_names), 0 before any
    uint8_t last_lb = 0;          // the LB of its latest answer: another than `lb` means it moved
    uint32_t answers = 0;
    uint64_t opened_ns = 0;       // CLOCK_MONOTONIC: the handshake completed
    uint64_t last_answer_ns = 0;
    uint64_t ended_ns = 0;        // reset, stalled (its unanswered request's time), closed or failed
    int error = 0;                // errno of the end, when one
};

struct NewConnection {
    uint16_t src_port = 0;
    uint64_t opened_ns = 0;       // connect() called
    uint64_t answered_ns = 0;     // 0: no answer
    uint8_t lb = 0;
    int error = 0;
};

struct ConnectionsReport {
    std::vector<ConnectionRecord> connections;
    std::vector<NewConnection> new_connections;
    uint64_t requests = 0;
    uint64_t memory_bytes = 0;    // the records and per-connection state the driver held
};

class Connections {
public:
    // Returns once the thread runs in the client's namespace; it then opens the connections.
    explicit Connections(ConnectionsPlan plan);
    ~Connections();
    Connections(const Connections&) = delete;
    Connections& operator=(const Connections&) = delete;

    // Blocks until every connection opened or failed, or timeout_ms; returns how many are open.
    uint32_t wait_open(uint32_t timeout_ms);
    // Blocks until every connection has `answers` answers or has ended, or timeout_ms; true if so.
    bool wait_answered(uint32_t answers, uint32_t timeout_ms);
    // The records so far, while the connections run: the harness cuts an event's window with it.
    std::vector<ConnectionRecord> snapshot() const;
    // Closes every connection, stops the thread and hands over the records (once).
    ConnectionsReport stop();

private:
    struct State;
    void run(int epoll_fd);

    ConnectionsPlan plan_;
    mutable std::mutex mutex_;
    std::condition_variable settled_;  // every connection opened or failed
    std::condition_variable answered_;  // an answer came or a connection ended
    ConnectionsReport report_;
    State* state_ = nullptr;
    int stop_fd_ = -1;
    std::thread thread_;
    bool stopped_ = false;
};

// Reads one HTTP/1.1 response from the front of `buffer` (status line, headers, Content-Length
// body); returns its body and removes it, or false while the response is incomplete. `malformed`
// is set for bytes that are no HTTP response.
bool take_http_body(std::string& buffer, std::string& body, bool& malformed);

}  // namespace vipcheck
