#include "link_changes.h"

#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>

#include <cstring>

#include <cerrno>
#include <map>
#include <set>
#include <stdexcept>

#include "clock.h"
#include "netlink.h"
#include "netns.h"
#include "packet_format.h"

namespace vipcheck {
namespace {

// Asks ethtool for the link's state: the kernel then publishes a pending carrier change at once
// (linkwatch_sync_dev) instead of at linkwatch's next run, which for a veth comes up to a second
// later. An interface without ethtool's link query keeps linkwatch's timing.
void publish_carrier(const std::string& ifname) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // of this thread's namespace
    if (fd < 0) throw std::runtime_error("socket for ethtool");
    ethtool_value value{};
    value.cmd = ETHTOOL_GLINK;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = reinterpret_cast<char*>(&value);
    ::ioctl(fd, SIOCETHTOOL, &ifr);
    ::close(fd);
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

// The interfaces waited for, and of those, by index, the ones up but not running.
struct CarrierWait {
    std::set<std::string> names;
    std::map<int, std::string> pending;
};

int note_link(const nlmsghdr* nlh, void* data) {
    auto& wait = *static_cast<CarrierWait*>(data);
    const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
    std::string name;
    for_each_attr(nlh, sizeof(*ifi), [&name](const nlattr* attr) {
        if (mnl_attr_get_type(attr) == IFLA_IFNAME) name = mnl_attr_get_str(attr);
    });
    const bool waiting = nlh->nlmsg_type == RTM_NEWLINK && (ifi->ifi_flags & IFF_UP) &&
                         !(ifi->ifi_flags & IFF_RUNNING) && wait.names.count(name);
    if (waiting) {
        wait.pending[ifi->ifi_index] = name;
    } else {
        wait.pending.erase(ifi->ifi_index);
    }
    return MNL_CB_OK;
}

}  // namespace

std::vector<std::string> wait_links_running(const std::string& netns, const std::vector<std::string>& ifnames,
                                            int timeout_ms) {
    return run_in_netns(netns, [&]() {
        NlSocket events = open_rtnl(RTMGRP_LINK);  // before the dump: no change falls between
        CarrierWait wait{{ifnames.begin(), ifnames.end()}, {}};
        for (const auto& name : ifnames) publish_carrier(name);
        auto dump = [&wait]() {
            wait.pending.clear();
            char buf[MNL_SOCKET_BUFFER_SIZE];
            nlmsghdr* nlh;
            auto* ifi = start_request<ifinfomsg>(buf, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &nlh);
            ifi->ifi_family = AF_UNSPEC;
            NlSocket sock = open_rtnl(0);
            request(sock.get(), nlh, note_link, &wait);
        };
        dump();
        const int64_t deadline = int64_t(monotonic_ns()) + int64_t(timeout_ms) * 1'000'000;
        std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
        while (!wait.pending.empty()) {
            const int64_t left_ms = (deadline - int64_t(monotonic_ns())) / 1'000'000;
            if (left_ms <= 0) break;
            pollfd pfd{mnl_socket_get_fd(events.get()), POLLIN, 0};
            if (::poll(&pfd, 1, int(left_ms)) <= 0) continue;  // a timeout or a signal: the deadline decides
            const ssize_t n = mnl_socket_recvfrom(events.get(), buf.data(), buf.size());
            if (n < 0 && errno == ENOBUFS) {  // events were lost: ask for the whole state again
                dump();
                continue;
            }
            if (n < 0) throw std::runtime_error("netlink receive on link events");
            mnl_cb_run(buf.data(), size_t(n), 0, 0, note_link, &wait);
        }
        std::vector<std::string> names;
        for (const auto& [index, name] : wait.pending) names.push_back(name);
        return names;
    });
}

void set_link_up(const std::string& netns, const std::string& ifname, bool up) {
    run_in_netns(netns, [&]() {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        nlmsghdr* nlh;
        auto* ifi = start_request<ifinfomsg>(buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &nlh);
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = int(interface_index(ifname));
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = up ? IFF_UP : 0;
        acknowledged(nlh, 0);
        if (up) publish_carrier(ifname);  // running when this returns, if its peer is up
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
        ifa->ifa_index = interface_index(ifname);
        mnl_attr_put_u32(nlh, IFA_LOCAL, local);
        mnl_attr_put_u32(nlh, IFA_ADDRESS, local);
        return acknowledged(nlh, add ? EEXIST : EADDRNOTAVAIL);
    });
}

}  // namespace vipcheck
