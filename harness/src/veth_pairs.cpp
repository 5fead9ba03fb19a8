#include "veth_pairs.h"

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include <map>
#include <stdexcept>

#include "netlink.h"
#include "netns.h"

namespace vipcheck {
namespace {

// RTM_NEWLINK for NAME_A of kind veth, whose peer (an ifinfomsg and its own attributes nested
// in IFLA_INFO_DATA) is NAME_B in the namespace of peer_fd.
void put_veth_request(char* buf, const VethPair& pair, int peer_fd) {
    nlmsghdr* nlh;
    auto* ifi = start_request<ifinfomsg>(buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &nlh);
    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, pair.name_a.c_str());
    nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    nlattr* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)))->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, pair.name_b.c_str());
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, uint32_t(peer_fd));
    mnl_attr_nest_end(nlh, peer);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, linkinfo);
}

}  // namespace

void add_veth_pairs(const std::vector<VethPair>& pairs) {
    // One thread and one socket per namespace that holds first ends.
    std::map<std::string, std::vector<const VethPair*>> by_first;
    for (const auto& pair : pairs) by_first[pair.netns_a].push_back(&pair);
    for (const auto& [netns, group] : by_first) {
        run_in_netns(netns, [&group]() {
            NlSocket sock = open_rtnl(0);
            char buf[MNL_SOCKET_BUFFER_SIZE];
            for (const VethPair* pair : group) {
                NetnsFd peer(pair->netns_b);
                put_veth_request(buf, *pair, peer.fd());
                change(sock.get(), reinterpret_cast<nlmsghdr*>(buf), "veth " + pair->name_a + " - " + pair->name_b);
            }
        });
    }
}

}  // namespace vipcheck
