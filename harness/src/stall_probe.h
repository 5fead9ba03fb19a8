// How much the machine let a measurement measure: while it runs, a thread wakes on a 1 ms
// absolute timer and records how late each wake-up came, and every 10 ms reads the kernel's
// CPU pressure stall totals (PSI). Afterwards any window of the run can be asked what stalled.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vipcheck {

struct StallWindow {
    double worst_late_ms = 0;     // the latest a 1 ms timer woke inside the window
    std::vector<double> some_ms;  // per pressure file: time some task waited for a CPU
    std::vector<double> full_ms;  // ... and time every task of it waited (a cgroup's file)
    uint64_t wakeups = 0;         // timer wake-ups inside the window (0: the probe saw none of it)
};

// One pressure file's "some ... total=US" and "full ... total=US" lines, in microseconds;
// a missing line reads 0. Exposed for the tests.
bool parse_pressure(const std::string& text, uint64_t& some_us, uint64_t& full_us);

class StallProbe {
public:
    // pressure_files: e.g. /proc/pressure/cpu and the run cgroup's cpu.pressure; one that
    // cannot be read counts 0 throughout.
    explicit StallProbe(std::vector<std::string> pressure_files, uint32_t period_us = 1000);
    ~StallProbe();
    StallProbe(const StallProbe&) = delete;
    StallProbe& operator=(const StallProbe&) = delete;

    void stop();
    // Everything the probe saw between two CLOCK_MONOTONIC times.
    StallWindow window(uint64_t from_ns, uint64_t to_ns) const;

private:
    struct Wake {
        uint64_t at_ns;
        uint64_t late_ns;
    };
    struct Pressure {
        uint64_t at_ns;
        std::vector<uint64_t> some_us, full_us;
    };
    void run();
    Pressure read_pressure(uint64_t now) const;

    std::vector<std::string> files_;
    uint32_t period_us_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::vector<Wake> wakes_;
    std::vector<Pressure> pressure_;
    std::thread thread_;
};

}  // namespace vipcheck
