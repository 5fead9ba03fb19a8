// Namespaces and veth pairs that a GoogleTest creates and removes itself.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "injector.h"

namespace vipcheck::testing {

// A fresh network namespace, held open by a child process that exits when this object
// dies or when the test binary dies (it blocks on a pipe that then closes).
class TestNamespace {
public:
    TestNamespace();
    ~TestNamespace();
    TestNamespace(const TestNamespace&) = delete;
    TestNamespace& operator=(const TestNamespace&) = delete;

    std::string path() const;  // /proc/<pid>/ns/net, as the drivers take it
    pid_t pid() const { return pid_; }
    // Runs argv inside the namespace; throws when it exits non-zero.
    void run(const std::vector<std::string>& argv) const;

private:
    pid_t pid_ = -1;
    int keepalive_fd_ = -1;
};

// client -- router -- {lb1, lb2}, each LB holding the VIP on lo /32, the router with a
// two-way multipath route to the VIP and the L4 hash.
struct EcmpNetwork {
    static constexpr const char* kVip = "10.99.0.1";
    static constexpr const char* kClient = "10.0.1.2";
    static constexpr const char* kLb1Uplink = "10.0.2.2";
    static constexpr const char* kLb2Uplink = "10.0.3.2";
    static constexpr uint16_t kPort = 5001;

    TestNamespace client, router, lb1, lb2;
    explicit EcmpNetwork(int hash_policy = 1);

    // Flows from the client to dst:kPort, one per source port.
    InjectionPlan flows(std::vector<uint16_t> src_ports, uint32_t packets_per_flow, double rate_pps,
                        uint32_t run_tag, const char* dst = kVip) const;
};

// A keep-alive HTTP service in a namespace, answering every request with its name as the body:
// what an LB's service does for the connection driver. Runs until destroyed.
class HttpNamer {
public:
    HttpNamer(const TestNamespace& ns, const std::string& address, uint16_t port, std::string name);
    ~HttpNamer();
    HttpNamer(const HttpNamer&) = delete;
    HttpNamer& operator=(const HttpNamer&) = delete;

private:
    int stop_fd_ = -1;
    std::thread thread_;
};

}  // namespace vipcheck::testing
