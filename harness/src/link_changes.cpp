#include "link_changes.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cerrno>
#include <stdexcept>

#include "netlink.h"
#include "netns.h"
#include "packet_format.h"

namespace vipcheck {
namespace {

unsigned index_of(const std::string& ifname) {
    // if_nametoindex asks through a socket of this thread, so of the node's namespace.
    const unsigned index = ::if_nametoindex(ifname.c_str());
    if (index == 0) throw std::runtime_error("no interface " + ifname);
    return index;
}

// Sends one acknowledged request; false when the kernel answered `unchanged_errno`.
bool acknowledged(nlmsghdr* nlh, int unchanged_errno) {
    NlSocket sock = open_rtnl(0);
    try {
        request(sock.get(), nlh, nullptr, nullptr, false);
    } catch (const std::runtime_error&) {
        if (errno == unchanged_errno) return false;
        throw;
    }
    return true;
}

}  // namespace

void set_link_up(const std::string& netns, const std::string& ifname, bool up) {
    run_in_netns(netns, [&]() {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        nlmsghdr* nlh;
        auto* ifi = start_request<ifinfomsg>(buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &nlh);
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = int(index_of(ifname));
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = up ? IFF_UP : 0;
        acknowledged(nlh, 0);
    });
}

bool change_address(const std::string& netns, const std::string& ifname, const std::string& address,
                    uint32_t prefix_len, bool add) {
    if (prefix_len > 32) throw std::invalid_argument("prefix length above 32");
    const uint32_t local = htonl(parse_ipv4(address));
    return run_in_netns(netns, [&]() {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        nlmsghdr* nlh;
        const uint16_t flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
        auto* ifa = start_request<ifaddrmsg>(buf, add ? RTM_NEWADDR : RTM_DELADDR, flags, &nlh);
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = uint8_t(prefix_len);
        ifa->ifa_index = index_of(ifname);
        mnl_attr_put_u32(nlh, IFA_LOCAL, local);
        mnl_attr_put_u32(nlh, IFA_ADDRESS, local);
        return acknowledged(nlh, add ? EEXIST : EADDRNOTAVAIL);
    });
}

}  // namespace vipcheck
