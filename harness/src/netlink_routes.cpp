#include "netlink_routes.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <vector>

#include "clock.h"
#include "netlink.h"
#include "netns.h"
#include "packet_format.h"

namespace vipcheck {
namespace {

// Dumps every object of one kind (RTM_GETROUTE, RTM_GETADDR) for IPv4 into cb.
template <class FamilyHeader>
void dump_ipv4(mnl_socket* sock, uint16_t type, mnl_cb_t cb, void* data) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh;
    auto* header = start_request<FamilyHeader>(buf, type, NLM_F_REQUEST | NLM_F_DUMP, &nlh);
    *reinterpret_cast<uint8_t*>(header) = AF_INET;  // rtm_family and ifa_family both come first
    request(sock, nlh, cb, data);
}

std::string ipv4_text(const void* network_order) {
    char buf[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, network_order, buf, sizeof buf);
    return buf;
}

std::string interface_name(int ifindex) {
    char name[IF_NAMESIZE] = {};
    // if_indextoname asks through a socket of this thread, so of this namespace.
    return ::if_indextoname(unsigned(ifindex), name) ? name : std::to_string(ifindex);
}

// The name `ip route` prints for a route's protocol or type; the number when it has none.
std::string name_of(unsigned value, const std::map<unsigned, std::string>& names) {
    auto it = names.find(value);
    return it == names.end() ? std::to_string(value) : it->second;
}

const std::map<unsigned, std::string> kProtocols = {
    {RTPROT_KERNEL, "kernel"}, {RTPROT_BOOT, "boot"}, {RTPROT_STATIC, "static"},
    {RTPROT_ZEBRA, "zebra"},   {RTPROT_OSPF, "ospf"}, {RTPROT_BGP, "bgp"}};
const std::map<unsigned, std::string> kTypes = {
    {RTN_UNICAST, "unicast"}, {RTN_LOCAL, "local"}, {RTN_BROADCAST, "broadcast"},
    {RTN_BLACKHOLE, "blackhole"}, {RTN_UNREACHABLE, "unreachable"}, {RTN_PROHIBIT, "prohibit"}};

struct RouteQuery {
    uint32_t dst_network = 0;
    uint32_t prefix_len = 0;
    VipRoute route;
};

// Attribute payloads are checked for size before they are read: a truncated or malformed
// message is skipped, never read past (the parsers are fuzzed, see ci/fuzz).
bool attr_u32(const nlattr* attr, uint32_t& out) {
    if (mnl_attr_get_payload_len(attr) < sizeof(uint32_t)) return false;
    std::memcpy(&out, mnl_attr_get_payload(attr), sizeof(out));
    return true;
}

bool attr_ipv4(const nlattr* attr, std::string& out) {
    if (mnl_attr_get_payload_len(attr) < 4) return false;
    out = ipv4_text(mnl_attr_get_payload(attr));
    return true;
}

int route_cb(const nlmsghdr* nlh, void* data) {
    auto* q = static_cast<RouteQuery*>(data);
    if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(rtmsg)) return MNL_CB_OK;
    const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
    if (rtm->rtm_family != AF_INET || rtm->rtm_dst_len != q->prefix_len) return MNL_CB_OK;
    uint32_t table = rtm->rtm_table;
    uint32_t dst = 0;
    const nlattr* multipath = nullptr;
    VipRoute route;
    Nexthop single;
    uint32_t value = 0;
    for_each_attr(nlh, sizeof(*rtm), [&](const nlattr* attr) {
        switch (mnl_attr_get_type(attr)) {
            case RTA_TABLE: attr_u32(attr, table); break;
            case RTA_DST: attr_u32(attr, dst); break;
            case RTA_GATEWAY: attr_ipv4(attr, single.gateway); break;
            case RTA_OIF: if (attr_u32(attr, value)) single.ifindex = int(value); break;
            case RTA_MULTIPATH: multipath = attr; break;
            case RTA_NH_ID: attr_u32(attr, route.nhid); break;
            default: break;
        }
    });
    if (table != RT_TABLE_MAIN || dst != q->dst_network) return MNL_CB_OK;
    route.present = true;
    route.destination = ipv4_text(&dst);
    route.prefix_len = rtm->rtm_dst_len;
    route.table = table;
    route.type = name_of(rtm->rtm_type, kTypes);
    route.protocol = name_of(rtm->rtm_protocol, kProtocols);
    if (multipath) {
        const auto* rtnh = static_cast<const rtnexthop*>(mnl_attr_get_payload(multipath));
        int remaining = int(mnl_attr_get_payload_len(multipath));
        // RTNH_OK reads rtnh_len before it checks the length left: check that first (ASan found it).
        while (remaining >= int(sizeof(rtnexthop)) && RTNH_OK(rtnh, remaining)) {
            Nexthop hop;
            hop.ifindex = rtnh->rtnh_ifindex;
            hop.weight = rtnh->rtnh_hops + 1u;
            const auto* attr = reinterpret_cast<const nlattr*>(RTNH_DATA(rtnh));
            int attr_len = int(rtnh->rtnh_len) - int(RTNH_LENGTH(0));
            while (mnl_attr_ok(attr, attr_len)) {
                if (mnl_attr_get_type(attr) == RTA_GATEWAY) attr_ipv4(attr, hop.gateway);
                attr_len -= int(MNL_ALIGN(attr->nla_len));
                attr = mnl_attr_next(attr);
            }
            route.nexthops.push_back(hop);
            remaining -= int(RTNH_ALIGN(rtnh->rtnh_len));
            rtnh = RTNH_NEXT(rtnh);
        }
    } else if (single.ifindex || !single.gateway.empty()) {
        route.nexthops.push_back(single);
    }
    q->route = route;
    return MNL_CB_OK;
}

struct NexthopObject {
    Nexthop hop;
    std::vector<std::pair<uint32_t, uint32_t>> group;  // member id, weight
};

int nexthop_cb(const nlmsghdr* nlh, void* data) {
    auto* obj = static_cast<NexthopObject*>(data);
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nhmsg)) return MNL_CB_OK;
    const auto* nhm = static_cast<const nhmsg*>(mnl_nlmsg_get_payload(nlh));
    for_each_attr(nlh, sizeof(*nhm), [&](const nlattr* attr) {
        switch (mnl_attr_get_type(attr)) {
            case NHA_GATEWAY: attr_ipv4(attr, obj->hop.gateway); break;
            case NHA_OIF: {
                uint32_t ifindex = 0;
                if (attr_u32(attr, ifindex)) obj->hop.ifindex = int(ifindex);
                break;
            }
            case NHA_GROUP: {
                const auto* grp = static_cast<const nexthop_grp*>(mnl_attr_get_payload(attr));
                size_t count = mnl_attr_get_payload_len(attr) / sizeof(nexthop_grp);
                for (size_t i = 0; i < count; ++i) obj->group.emplace_back(grp[i].id, grp[i].weight + 1u);
                break;
            }
            default: break;
        }
    });
    return MNL_CB_OK;
}

NexthopObject read_nexthop(mnl_socket* sock, uint32_t id) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh;
    // The ack ends a non-dump answer.
    auto* nhm = start_request<nhmsg>(buf, RTM_GETNEXTHOP, NLM_F_REQUEST | NLM_F_ACK, &nlh);
    nhm->nh_family = AF_UNSPEC;
    mnl_attr_put_u32(nlh, NHA_ID, id);
    NexthopObject obj;
    request(sock, nlh, nexthop_cb, &obj);
    return obj;
}

// Reads the route in the calling thread's namespace.
VipRoute read_route_here(mnl_socket* sock, uint32_t dst_network, uint32_t prefix_len) {
    RouteQuery q{dst_network, prefix_len, {}};
    dump_ipv4<rtmsg>(sock, RTM_GETROUTE, route_cb, &q);
    VipRoute& route = q.route;
    // Without nexthop compat mode a route on a nexthop object carries only its id.
    if (route.present && route.nhid && route.nexthops.empty()) {
        NexthopObject obj = read_nexthop(sock, route.nhid);
        if (obj.group.empty()) {
            route.nexthops.push_back(obj.hop);
        } else {
            for (auto [id, weight] : obj.group) {
                Nexthop hop = read_nexthop(sock, id).hop;
                hop.weight = weight;
                route.nexthops.push_back(hop);
            }
        }
    }
    for (auto& hop : route.nexthops) hop.ifname = hop.ifindex ? interface_name(hop.ifindex) : "";
    return route;
}

uint32_t network_order(const std::string& address) {
    return htonl(parse_ipv4(address));
}

int address_cb(const nlmsghdr* nlh, void* data) {
    auto* out = static_cast<std::vector<InterfaceAddress>*>(data);
    const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
    if (ifa->ifa_family != AF_INET) return MNL_CB_OK;
    InterfaceAddress entry;
    entry.ifindex = int(ifa->ifa_index);
    entry.prefix_len = ifa->ifa_prefixlen;
    for_each_attr(nlh, sizeof(*ifa), [&](const nlattr* attr) {
        if (mnl_attr_get_type(attr) == IFA_LOCAL) entry.address = ipv4_text(mnl_attr_get_payload(attr));
    });
    entry.ifname = interface_name(entry.ifindex);
    out->push_back(entry);
    return MNL_CB_OK;
}

struct LookupQuery {
    RouteLookup lookup;
};

int lookup_cb(const nlmsghdr* nlh, void* data) {
    auto* q = static_cast<LookupQuery*>(data);
    const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
    RouteLookup& r = q->lookup;
    r.found = true;
    r.type = name_of(rtm->rtm_type, kTypes);
    r.table = rtm->rtm_table;
    for_each_attr(nlh, sizeof(*rtm), [&](const nlattr* attr) {
        switch (mnl_attr_get_type(attr)) {
            case RTA_DST: r.destination = ipv4_text(mnl_attr_get_payload(attr)); break;
            case RTA_OIF: r.ifname = interface_name(int(mnl_attr_get_u32(attr))); break;
            case RTA_GATEWAY: r.gateway = ipv4_text(mnl_attr_get_payload(attr)); break;
            case RTA_PREFSRC: r.source = ipv4_text(mnl_attr_get_payload(attr)); break;
            case RTA_TABLE: r.table = mnl_attr_get_u32(attr); break;
            default: break;
        }
    });
    return MNL_CB_OK;
}

struct TableQuery {
    uint32_t table = 0;
    std::vector<RouteEntry> routes;
};

int table_cb(const nlmsghdr* nlh, void* data) {
    auto* q = static_cast<TableQuery*>(data);
    if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(rtmsg)) return MNL_CB_OK;
    const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
    if (rtm->rtm_family != AF_INET) return MNL_CB_OK;
    RouteEntry entry;
    entry.table = rtm->rtm_table;
    entry.prefix_len = rtm->rtm_dst_len;
    entry.type = name_of(rtm->rtm_type, kTypes);
    entry.destination = "0.0.0.0";
    for_each_attr(nlh, sizeof(*rtm), [&](const nlattr* attr) {
        switch (mnl_attr_get_type(attr)) {
            case RTA_TABLE: attr_u32(attr, entry.table); break;
            case RTA_DST: attr_ipv4(attr, entry.destination); break;
            case RTA_OIF: {
                uint32_t ifindex = 0;
                if (attr_u32(attr, ifindex)) entry.ifname = interface_name(int(ifindex));
                break;
            }
            default: break;
        }
    });
    if (entry.table == q->table) q->routes.push_back(entry);
    return MNL_CB_OK;
}

}  // namespace

std::optional<VipRoute> parse_route_message(std::span<const uint8_t> message, const std::string& destination,
                                            uint32_t prefix_len) {
    if (message.size() < NLMSG_HDRLEN) return std::nullopt;
    // A netlink message must be 4-byte aligned; the caller's bytes may not be.
    std::vector<uint32_t> aligned((message.size() + 3) / 4);
    std::memcpy(aligned.data(), message.data(), message.size());
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(aligned.data());
    // mnl_nlmsg_ok compares nlmsg_len as an int: a length of 2^31 or more passes it (the fuzzer found it).
    if (nlh->nlmsg_len > message.size() || !mnl_nlmsg_ok(nlh, int(message.size()))) return std::nullopt;
    RouteQuery q{network_order(destination), prefix_len, {}};
    route_cb(nlh, &q);
    if (!q.route.present) return std::nullopt;
    return q.route;
}

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
            events = open_rtnl(RTMGRP_IPV4_ROUTE);
            int group = RTNLGRP_NEXTHOP;
            if (mnl_socket_setsockopt(events.get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
                throw std::runtime_error(std::string("netlink nexthop group: ") + std::strerror(errno));
            }
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
    try {
        ready_future.get();
    } catch (...) {
        thread_.join();
        ::close(stop_fd_);
        throw;
    }
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

RouteLookup lookup_route(const std::string& netns, const std::string& destination) {
    const uint32_t dst = network_order(destination);
    return run_in_netns(netns, [dst, &destination]() {
        NlSocket sock = open_rtnl(0);
        char buf[MNL_SOCKET_BUFFER_SIZE];
        nlmsghdr* nlh;
        // The ack ends a non-dump answer.
        auto* rtm = start_request<rtmsg>(buf, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK, &nlh);
        rtm->rtm_family = AF_INET;
        rtm->rtm_dst_len = 32;
        mnl_attr_put_u32(nlh, RTA_DST, dst);
        LookupQuery q;
        try {
            request(sock.get(), nlh, lookup_cb, &q);
        } catch (const std::runtime_error& e) {
            q.lookup.error = e.what();  // e.g. "Network is unreachable": an answer, not a fault
        }
        if (q.lookup.destination.empty()) q.lookup.destination = destination;
        return q.lookup;
    });
}

std::vector<RouteEntry> read_table(const std::string& netns, uint32_t table) {
    return run_in_netns(netns, [table]() {
        NlSocket sock = open_rtnl(0);
        TableQuery q{table, {}};
        dump_ipv4<rtmsg>(sock.get(), RTM_GETROUTE, table_cb, &q);
        return q.routes;
    });
}

VipRoute read_route(const std::string& netns, const std::string& destination, uint32_t prefix_len) {
    const uint32_t dst = network_order(destination);
    return run_in_netns(netns, [&]() {
        NlSocket sock = open_rtnl(0);
        return read_route_here(sock.get(), dst, prefix_len);
    });
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

std::vector<InterfaceAddress> read_addresses(const std::string& netns) {
    return run_in_netns(netns, []() {
        NlSocket sock = open_rtnl(0);
        std::vector<InterfaceAddress> out;
        dump_ipv4<ifaddrmsg>(sock.get(), RTM_GETADDR, address_cb, &out);
        return out;
    });
}

}  // namespace vipcheck
