#include "kernel_tables.h"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <stdexcept>

#include "netlink.h"
#include "netns.h"

namespace vipcheck {
namespace {

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
    r.type = route_type_name(rtm->rtm_type);
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
    entry.type = route_type_name(rtm->rtm_type);
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

std::vector<InterfaceAddress> read_addresses(const std::string& netns) {
    return run_in_netns(netns, []() {
        NlSocket sock = open_rtnl(0);
        std::vector<InterfaceAddress> out;
        dump_ipv4<ifaddrmsg>(sock.get(), RTM_GETADDR, address_cb, &out);
        return out;
    });
}

}  // namespace vipcheck
