#include "stall_probe.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "clock.h"

namespace vipcheck {

namespace {
constexpr uint64_t kPressureEveryNs = 10'000'000;

uint64_t total_of(const std::string& line) {
    auto at = line.find("total=");
    return at == std::string::npos ? 0 : std::stoull(line.substr(at + 6));
}
}  // namespace

bool parse_pressure(const std::string& text, uint64_t& some_us, uint64_t& full_us) {
    some_us = full_us = 0;
    std::istringstream lines(text);
    std::string line;
    bool any = false;
    while (std::getline(lines, line)) {
        try {
            if (line.rfind("some ", 0) == 0) {
                some_us = total_of(line);
                any = true;
            } else if (line.rfind("full ", 0) == 0) {
                full_us = total_of(line);
            }
        } catch (const std::exception&) {  // a malformed total: not a pressure file
            return false;
        }
    }
    return any;
}

StallProbe::StallProbe(std::vector<std::string> pressure_files, uint32_t period_us)
    : files_(std::move(pressure_files)), period_us_(period_us ? period_us : 1000) {
    wakes_.reserve(1 << 14);
    pressure_.push_back(read_pressure(monotonic_ns()));
    thread_ = std::thread([this] { run(); });
}

StallProbe::~StallProbe() { stop(); }

void StallProbe::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

StallProbe::Pressure StallProbe::read_pressure(uint64_t now) const {
    Pressure sample{now, {}, {}};
    for (const auto& path : files_) {
        std::ifstream file(path);
        std::stringstream text;
        text << file.rdbuf();
        uint64_t some = 0, full = 0;
        parse_pressure(text.str(), some, full);
        sample.some_us.push_back(some);
        sample.full_us.push_back(full);
    }
    return sample;
}

void StallProbe::run() {
    const uint64_t period = uint64_t(period_us_) * 1000;
    uint64_t next = monotonic_ns() + period, next_pressure = next + kPressureEveryNs;
    while (!stop_) {
        timespec ts{time_t(next / 1'000'000'000), long(next % 1'000'000'000)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
        }
        uint64_t now = monotonic_ns();
        Pressure sample;
        bool sampled = now >= next_pressure;
        if (sampled) sample = read_pressure(now);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            wakes_.push_back({now, now - next});
            if (sampled) pressure_.push_back(std::move(sample));
        }
        if (sampled) next_pressure = now + kPressureEveryNs;
        // After a stall, the next wake-up is one period from now: one late wake per stall.
        next = std::max(next + period, now + period / 2);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    pressure_.push_back(read_pressure(monotonic_ns()));
}

StallWindow StallProbe::window(uint64_t from_ns, uint64_t to_ns) const {
    std::lock_guard<std::mutex> lock(mutex_);
    StallWindow w;
    for (const auto& wake : wakes_) {
        // A wake-up late into the window stalled inside it, even if it was due before.
        if (wake.at_ns >= from_ns && wake.at_ns - wake.late_ns <= to_ns) {
            w.worst_late_ms = std::max(w.worst_late_ms, wake.late_ns / 1e6);
            ++w.wakeups;
        }
    }
    // The pressure samples that bracket the window (it is widened by at most one sample period).
    auto first = pressure_.front(), last = pressure_.back();
    for (const auto& p : pressure_) {
        if (p.at_ns <= from_ns) first = p;
        if (p.at_ns >= to_ns) {
            last = p;
            break;
        }
    }
    for (size_t i = 0; i < files_.size(); ++i) {
        w.some_ms.push_back(last.some_us[i] >= first.some_us[i] ? (last.some_us[i] - first.some_us[i]) / 1e3 : 0);
        w.full_ms.push_back(last.full_us[i] >= first.full_us[i] ? (last.full_us[i] - first.full_us[i]) / 1e3 : 0);
    }
    return w;
}

}  // namespace vipcheck
