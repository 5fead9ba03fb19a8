// Network-namespace entry: a driver thread joins a node's namespace for its whole life.
#pragma once

#include <functional>
#include <future>
#include <string>
#include <thread>
#include <utility>

namespace vipcheck {

// An open file descriptor on a network namespace (e.g. /proc/<pid>/ns/net).
class NetnsFd {
public:
    explicit NetnsFd(const std::string& path);
    ~NetnsFd();
    NetnsFd(const NetnsFd&) = delete;
    NetnsFd& operator=(const NetnsFd&) = delete;
    NetnsFd(NetnsFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    int fd() const { return fd_; }

private:
    int fd_;
};

// Moves the calling thread into the namespace; only for threads the driver owns.
void enter_netns(const NetnsFd& ns);

// Waits until a worker thread that joined a namespace has set up there (a socket bound, a
// route read); a setup that threw is rethrown here, once the worker is joined and its stop
// eventfd closed, so a constructor never returns a half-started worker.
void await_setup(std::future<void>& setup, std::thread& worker, int stop_fd);

// Runs fn on a fresh thread inside the namespace at ns_path and returns its result.
template <class Fn>
auto run_in_netns(const std::string& ns_path, Fn fn) -> decltype(fn()) {
    using Result = decltype(fn());
    NetnsFd ns(ns_path);
    std::packaged_task<Result()> task([&ns, &fn]() {
        enter_netns(ns);
        return fn();
    });
    auto result = task.get_future();
    std::thread(std::move(task)).join();
    return result.get();
}

}  // namespace vipcheck
