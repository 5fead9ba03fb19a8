#include "route_watch.h"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <stdexcept>

#include "clock.h"
#include "netlink.h"
#include "netns.h"

namespace vipcheck {
namespace {

std::vector<std::string> sorted_gateways(const VipRoute& route) {
    std::vector<std::string> out;
    for (const auto& hop : route.nexthops) out.push_back(hop.gateway);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

RouteMonitor::RouteMonitor(const std::string& netns, const std::string& destination, uint32_t prefix_len)
    : destination_(network_order(destination)), prefix_len_(prefix_len) {
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    std::promise<void> ready;
    auto ready_future = ready.get_future();
    thread_ = std::thread([this, netns, &ready]() {
        NlSocket events, query;
        try {
            NetnsFd ns(netns);
            enter_netns(ns);
            events = open_route_events();
            query = open_rtnl(0);
            VipRoute first = read_route_here(query.get(), destination_, prefix_len_);
            std::lock_guard lock(mutex_);
            changes_.push_back({monotonic_ns(), first});
        } catch (...) {
            ready.set_exception(std::current_exception());
            return;
        }
        ready.set_value();
        watch(mnl_socket_get_fd(events.get()), query.get());
    });
    await_setup(ready_future, thread_, stop_fd_);
}

void RouteMonitor::watch(int events_fd, void* query_socket) {
    auto* query = static_cast<mnl_socket*>(query_socket);
    char buf[MNL_SOCKET_BUFFER_SIZE];
    pollfd fds[2] = {{events_fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    while (true) {
        if (::poll(fds, 2, -1) < 0) continue;
        if (fds[1].revents & POLLIN) return;
        const uint64_t at = monotonic_ns();  // when the kernel's message reached us
        while (::recv(events_fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
        }
        VipRoute route = read_route_here(query, destination_, prefix_len_);
        {
            std::lock_guard lock(mutex_);
            if (changes_.back().route == route) continue;
            changes_.push_back({at, route});
        }
        changed_.notify_all();
    }
}

RouteMonitor::~RouteMonitor() {
    if (!stopped_) stop();
    ::close(stop_fd_);
}

void RouteMonitor::stop() {
    if (stopped_) return;
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    thread_.join();
    stopped_ = true;
}

std::vector<RouteChange> RouteMonitor::changes() const {
    std::lock_guard lock(mutex_);
    return changes_;
}

std::optional<RouteChange> RouteMonitor::wait_for(std::vector<std::string> gateways, uint64_t since_ns,
                                                  uint32_t timeout_ms) {
    std::sort(gateways.begin(), gateways.end());
    std::unique_lock lock(mutex_);
    std::optional<RouteChange> found;
    auto match = [&]() {
        // The state in force at since_ns counts too: it is the last change before it.
        for (size_t i = 0; i < changes_.size(); ++i) {
            const bool current_at_since = i + 1 == changes_.size() || changes_[i + 1].at_ns > since_ns;
            if ((changes_[i].at_ns >= since_ns || current_at_since) && changes_[i].route.present &&
                changes_[i].route.type == "unicast" && sorted_gateways(changes_[i].route) == gateways) {
                found = changes_[i];
                return true;
            }
        }
        return false;
    };
    changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), match);
    return found;
}

RouteWait wait_for_nexthops(const std::string& netns, const std::string& destination, uint32_t prefix_len,
                            std::vector<std::string> gateways, uint32_t timeout_ms,
                            const std::function<bool()>& cancelled) {
    RouteWait wait;
    wait.started_ns = monotonic_ns();
    RouteMonitor monitor(netns, destination, prefix_len);
    const uint64_t deadline = wait.started_ns + uint64_t(timeout_ms) * 1'000'000;
    std::optional<RouteChange> found;
    // Wake on the matching route event, or every 50 ms to honour cancellation.
    while (!found) {
        const uint64_t now = monotonic_ns();
        if (now >= deadline) break;
        if (cancelled && cancelled()) throw std::runtime_error("route wait cancelled");
        found = monitor.wait_for(gateways, 0, uint32_t(std::min<uint64_t>(50, (deadline - now) / 1'000'000 + 1)));
    }
    monitor.stop();
    wait.changes = monitor.changes();
    wait.route = found ? found->route : wait.changes.back().route;
    wait.reached = bool(found);
    wait.reached_ns = found ? found->at_ns : 0;
    return wait;
}

}  // namespace vipcheck
