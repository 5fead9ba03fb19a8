#include "netlink_routes.h"

#include <libmnl/libmnl.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "netlink.h"
#include "netns.h"

namespace vipcheck {
namespace {

struct RouteQuery {
    uint32_t dst_network = 0;
    uint32_t prefix_len = 0;
    VipRoute route;
};

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
    route.type = route_type_name(rtm->rtm_type);
    route.protocol = route_protocol_name(rtm->rtm_protocol);
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

}  // namespace

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

std::string nexthop_gateway_here(mnl_socket* sock, uint32_t id) { return read_nexthop(sock, id).hop.gateway; }

std::optional<VipRoute> parse_route_message(std::span<const uint8_t> message, const std::string& destination,
                                            uint32_t prefix_len) {
    // nlmsg_len is 32 bits: more bytes than that are never one message (and the bound lets the
    // compiler see that the aligned copy's size cannot wrap).
    if (message.size() < NLMSG_HDRLEN || message.size() > UINT32_MAX) return std::nullopt;
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

VipRoute read_route(const std::string& netns, const std::string& destination, uint32_t prefix_len) {
    const uint32_t dst = network_order(destination);
    return run_in_netns(netns, [&]() {
        NlSocket sock = open_rtnl(0);
        return read_route_here(sock.get(), dst, prefix_len);
    });
}

}  // namespace vipcheck
