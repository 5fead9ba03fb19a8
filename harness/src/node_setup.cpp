#include "node_setup.h"

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <stdexcept>

#include "netlink.h"
#include "netns.h"
#include "packet_format.h"

namespace vipcheck {
namespace {

constexpr uint16_t kCreate = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

// Runs body(socket, buffer) in the node's namespace: every change here is a request on one socket.
template <class Body>
void with_rtnl(const std::string& netns, Body body) {
    run_in_netns(netns, [&]() {
        NlSocket sock = open_rtnl(0);
        char buf[MNL_SOCKET_BUFFER_SIZE];
        body(sock.get(), buf);
    });
}

}  // namespace

void add_bridge(const std::string& netns, const std::string& name, const std::vector<std::string>& ports) {
    with_rtnl(netns, [&](mnl_socket* sock, char* buf) {
        nlmsghdr* nlh;
        auto* ifi = start_request<ifinfomsg>(buf, RTM_NEWLINK, kCreate, &nlh);
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_change = ifi->ifi_flags = IFF_UP;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
        nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
        nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        mnl_attr_put_u32(nlh, IFLA_BR_STP_STATE, 0);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, linkinfo);
        change(sock, nlh, "bridge " + name);
        const uint32_t bridge = interface_index(name);
        for (const auto& port : ports) {
            auto* port_ifi = start_request<ifinfomsg>(buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &nlh);
            port_ifi->ifi_family = AF_UNSPEC;
            port_ifi->ifi_index = int(interface_index(port));
            mnl_attr_put_u32(nlh, IFLA_MASTER, bridge);
            change(sock, nlh, "port " + port + " of bridge " + name);
        }
    });
}

void add_route(const std::string& netns, const std::string& destination, uint32_t prefix_len,
               const std::vector<std::string>& gateways) {
    if (prefix_len > 32) throw std::invalid_argument("prefix length above 32");
    if (gateways.empty()) throw std::invalid_argument("a route needs a gateway");
    with_rtnl(netns, [&](mnl_socket* sock, char* buf) {
        nlmsghdr* nlh;
        auto* rtm = start_request<rtmsg>(buf, RTM_NEWROUTE, kCreate, &nlh);
        rtm->rtm_family = AF_INET;
        rtm->rtm_dst_len = uint8_t(prefix_len);
        rtm->rtm_table = RT_TABLE_MAIN;
        rtm->rtm_protocol = RTPROT_BOOT;  // what `ip route add` gives a route
        rtm->rtm_scope = RT_SCOPE_UNIVERSE;
        rtm->rtm_type = RTN_UNICAST;
        if (prefix_len > 0) mnl_attr_put_u32(nlh, RTA_DST, htonl(parse_ipv4(destination)));
        if (gateways.size() == 1) {
            mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(parse_ipv4(gateways[0])));
        } else {
            nlattr* multipath = mnl_attr_nest_start(nlh, RTA_MULTIPATH);
            for (const auto& gateway : gateways) {
                auto* hop = static_cast<rtnexthop*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtnexthop)));
                mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(parse_ipv4(gateway)));
                hop->rtnh_len = uint16_t(static_cast<char*>(mnl_nlmsg_get_payload_tail(nlh)) - reinterpret_cast<char*>(hop));
            }
            mnl_attr_nest_end(nlh, multipath);
        }
        change(sock, nlh, "route " + destination + "/" + std::to_string(prefix_len));
    });
}

}  // namespace vipcheck
