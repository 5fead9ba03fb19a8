#include "resilient_group.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/nexthop.h>
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
#include "netlink_routes.h"
#include "netns.h"

namespace vipcheck {
namespace {

constexpr uint16_t kCreateOrReplace = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
constexpr uint32_t kMsPerClockTick = 10;  // the kernel's clock_t for these timers: USER_HZ, 100 a second

int found_cb(const nlmsghdr*, void* data) {
    *static_cast<bool*>(data) = true;
    return MNL_CB_OK;
}

bool nexthop_exists(mnl_socket* sock, uint32_t id) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh;
    auto* nhm = start_request<nhmsg>(buf, RTM_GETNEXTHOP, NLM_F_REQUEST | NLM_F_ACK, &nlh);
    nhm->nh_family = AF_UNSPEC;
    mnl_attr_put_u32(nlh, NHA_ID, id);
    bool found = false;
    request(sock, nlh, found_cb, &found, true);  // a nexthop the kernel deleted (its link went down): ENOENT
    return found;
}

void add_member(mnl_socket* sock, uint32_t id, const std::string& gateway, int ifindex) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh;
    auto* nhm = start_request<nhmsg>(buf, RTM_NEWNEXTHOP, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, &nlh);
    nhm->nh_family = AF_INET;
    mnl_attr_put_u32(nlh, NHA_ID, id);
    mnl_attr_put_u32(nlh, NHA_GATEWAY, network_order(gateway));
    mnl_attr_put_u32(nlh, NHA_OIF, uint32_t(ifindex));
    change(sock, nlh, "nexthop " + std::to_string(id) + " via " + gateway);
}

void replace_group(mnl_socket* sock, const ResilientConfig& config, const std::vector<uint32_t>& members) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh;
    auto* nhm = start_request<nhmsg>(buf, RTM_NEWNEXTHOP, kCreateOrReplace, &nlh);
    nhm->nh_family = AF_UNSPEC;
    mnl_attr_put_u32(nlh, NHA_ID, config.group_id);
    std::vector<nexthop_grp> group(members.size());
    for (size_t i = 0; i < members.size(); ++i) group[i] = {members[i], 0, 0, 0};  // weight 1 each
    mnl_attr_put(nlh, NHA_GROUP, group.size() * sizeof(nexthop_grp), group.data());
    mnl_attr_put_u16(nlh, NHA_GROUP_TYPE, NEXTHOP_GRP_TYPE_RES);
    nlattr* res = mnl_attr_nest_start(nlh, NHA_RES_GROUP);
    mnl_attr_put_u16(nlh, NHA_RES_GROUP_BUCKETS, config.buckets);
    mnl_attr_put_u32(nlh, NHA_RES_GROUP_IDLE_TIMER, config.idle_timer_ms / kMsPerClockTick);
    mnl_attr_put_u32(nlh, NHA_RES_GROUP_UNBALANCED_TIMER, config.unbalanced_timer_ms / kMsPerClockTick);
    mnl_attr_nest_end(nlh, res);
    change(sock, nlh, "resilient group " + std::to_string(config.group_id));
}

void vip_route(mnl_socket* sock, const ResilientConfig& config, bool present) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh;
    auto* rtm = start_request<rtmsg>(buf, present ? RTM_NEWROUTE : RTM_DELROUTE,
                                     present ? kCreateOrReplace : NLM_F_REQUEST | NLM_F_ACK, &nlh);
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = 32;
    rtm->rtm_table = RT_TABLE_UNSPEC;
    rtm->rtm_protocol = RTPROT_STATIC;
    rtm->rtm_scope = RT_SCOPE_UNIVERSE;
    rtm->rtm_type = RTN_UNICAST;
    mnl_attr_put_u32(nlh, RTA_TABLE, config.table);
    mnl_attr_put_u32(nlh, RTA_DST, htonl(config.vip));
    if (present) mnl_attr_put_u32(nlh, RTA_NH_ID, config.group_id);
    change(sock, nlh, std::string(present ? "route" : "removing the route") + " to the VIP in table " +
                          std::to_string(config.table));
}

void vip_rule(mnl_socket* sock, const ResilientConfig& config) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh;
    auto* frh = start_request<fib_rule_hdr>(buf, RTM_NEWRULE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                                             &nlh);
    frh->family = AF_INET;
    frh->dst_len = 32;
    frh->action = FR_ACT_TO_TBL;
    mnl_attr_put_u32(nlh, FRA_DST, htonl(config.vip));
    mnl_attr_put_u32(nlh, FRA_TABLE, config.table);
    mnl_attr_put_u32(nlh, FRA_PRIORITY, config.rule_priority);
    change(sock, nlh, "rule to the VIP");
}

struct BucketDump {
    std::vector<std::pair<uint32_t, Bucket>> buckets;  // member id, bucket
};

int bucket_cb(const nlmsghdr* nlh, void* data) {
    auto* dump = static_cast<BucketDump*>(data);
    if (nlh->nlmsg_type != RTM_NEWNEXTHOPBUCKET || mnl_nlmsg_get_payload_len(nlh) < sizeof(nhmsg)) return MNL_CB_OK;
    Bucket bucket;
    uint32_t member = 0;
    for_each_attr(nlh, sizeof(nhmsg), [&](const nlattr* attr) {
        if (mnl_attr_get_type(attr) != NHA_RES_BUCKET) return;
        const char* tail = static_cast<const char*>(mnl_attr_get_payload(attr)) + mnl_attr_get_payload_len(attr);
        auto* inner = static_cast<const nlattr*>(mnl_attr_get_payload(attr));
        while (mnl_attr_ok(inner, int(tail - reinterpret_cast<const char*>(inner)))) {
            switch (mnl_attr_get_type(inner)) {
                case NHA_RES_BUCKET_INDEX:
                    if (mnl_attr_get_payload_len(inner) >= 2) bucket.index = mnl_attr_get_u16(inner);
                    break;
                case NHA_RES_BUCKET_IDLE_TIME:
                    if (mnl_attr_get_payload_len(inner) >= 8) bucket.idle_ms = mnl_attr_get_u64(inner) * kMsPerClockTick;
                    break;
                case NHA_RES_BUCKET_NH_ID: attr_u32(inner, member); break;
                default: break;
            }
            inner = mnl_attr_next(inner);
        }
    });
    dump->buckets.emplace_back(member, bucket);
    return MNL_CB_OK;
}

}  // namespace

ResilientGroup::ResilientGroup(ResilientConfig config) : config_(std::move(config)) {
    if (config_.buckets == 0) throw std::invalid_argument("a resilient group needs buckets");
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    std::promise<void> ready;
    auto ready_future = ready.get_future();
    thread_ = std::thread([this, &ready]() {
        NlSocket events, query;
        try {
            NetnsFd ns(config_.netns);
            enter_netns(ns);
            events = open_route_events();
            query = open_rtnl(0);
            vip_rule(query.get(), config_);
            VipRoute main = read_route_here(query.get(), htonl(config_.vip), 32);
            std::vector<std::pair<std::string, int>> hops;
            for (const auto& hop : main.nexthops) hops.emplace_back(hop.gateway, hop.ifindex);
            apply(query.get(), hops);
        } catch (...) {
            ready.set_exception(std::current_exception());
            return;
        }
        ready.set_value();
        follow(mnl_socket_get_fd(events.get()), query.get());
    });
    await_setup(ready_future, thread_, stop_fd_);
}

ResilientGroup::~ResilientGroup() {
    if (!stopped_) stop();
    ::close(stop_fd_);
}

void ResilientGroup::apply(void* socket, const std::vector<std::pair<std::string, int>>& hops) {
    auto* sock = static_cast<mnl_socket*>(socket);
    std::vector<uint32_t> members;
    std::vector<std::string> gateways;
    for (size_t i = 0; i < config_.gateways.size(); ++i) {
        auto hop = std::find_if(hops.begin(), hops.end(), [&](const auto& h) { return h.first == config_.gateways[i]; });
        if (hop == hops.end()) continue;
        members.push_back(config_.group_id + 1 + uint32_t(i));
        gateways.push_back(hop->first);
    }
    if (gateways == members_ && routed_ == !members.empty()) {
        // Still check the members: the kernel deletes a nexthop whose link went down.
        if (std::all_of(members.begin(), members.end(), [&](uint32_t id) { return nexthop_exists(sock, id); })) return;
    }
    GroupChange change{monotonic_ns(), gateways, ""};
    try {
        if (members.empty()) {
            if (routed_) vip_route(sock, config_, false);  // no path: traffic falls to the main table's none
            routed_ = false;
        } else {
            for (size_t m = 0; m < members.size(); ++m) {
                if (!nexthop_exists(sock, members[m])) {
                    auto hop = std::find_if(hops.begin(), hops.end(), [&](const auto& h) { return h.first == gateways[m]; });
                    add_member(sock, members[m], hop->first, hop->second);
                }
            }
            replace_group(sock, config_, members);
            vip_route(sock, config_, true);
            routed_ = true;
        }
    } catch (const std::runtime_error& e) {
        change.error = e.what();
    }
    change.at_ns = monotonic_ns();
    {
        std::lock_guard lock(mutex_);  // wait_for() reads the members from other threads
        if (change.error.empty()) members_ = gateways;
        changes_.push_back(change);
    }
    changed_.notify_all();
}

void ResilientGroup::follow(int events_fd, void* query_socket) {
    auto* query = static_cast<mnl_socket*>(query_socket);
    char buf[MNL_SOCKET_BUFFER_SIZE];
    pollfd fds[2] = {{events_fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    while (true) {
        if (::poll(fds, 2, -1) < 0) continue;
        if (fds[1].revents & POLLIN) return;
        while (::recv(events_fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
        }
        try {
            VipRoute main = read_route_here(query, htonl(config_.vip), 32);
            std::vector<std::pair<std::string, int>> hops;
            if (main.present && main.type == "unicast") {
                for (const auto& hop : main.nexthops) hops.emplace_back(hop.gateway, hop.ifindex);
            }
            apply(query, hops);
        } catch (const std::runtime_error& e) {
            std::lock_guard lock(mutex_);
            changes_.push_back({monotonic_ns(), members_, e.what()});
        }
    }
}

std::vector<GroupChange> ResilientGroup::changes() const {
    std::lock_guard lock(mutex_);
    return changes_;
}

bool ResilientGroup::wait_for(std::vector<std::string> gateways, uint32_t timeout_ms) {
    std::sort(gateways.begin(), gateways.end());
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
        std::vector<std::string> now = members_;
        std::sort(now.begin(), now.end());
        return now == gateways;
    });
}

void ResilientGroup::stop() {
    if (stopped_) return;
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    thread_.join();
    stopped_ = true;
}

std::vector<Bucket> read_buckets(const std::string& netns, uint32_t group_id) {
    return run_in_netns(netns, [&]() {
        NlSocket sock = open_rtnl(0);
        char buf[MNL_SOCKET_BUFFER_SIZE];
        nlmsghdr* nlh;
        auto* nhm = start_request<nhmsg>(buf, RTM_GETNEXTHOPBUCKET, NLM_F_REQUEST | NLM_F_DUMP, &nlh);
        nhm->nh_family = AF_UNSPEC;
        mnl_attr_put_u32(nlh, NHA_ID, group_id);
        BucketDump dump;
        request(sock.get(), nlh, bucket_cb, &dump);
        // A member's gateway, from its nexthop object: one request per member, not per bucket.
        std::vector<std::pair<uint32_t, std::string>> gateways;
        std::vector<Bucket> buckets;
        for (auto& [member, bucket] : dump.buckets) {
            auto known = std::find_if(gateways.begin(), gateways.end(), [&](const auto& g) { return g.first == member; });
            if (known == gateways.end()) {
                gateways.emplace_back(member, nexthop_gateway_here(sock.get(), member));
                known = gateways.end() - 1;
            }
            bucket.gateway = known->second;
            buckets.push_back(bucket);
        }
        std::sort(buckets.begin(), buckets.end(), [](const Bucket& a, const Bucket& b) { return a.index < b.index; });
        return buckets;
    });
}

}  // namespace vipcheck
