#include "netlink.h"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>
#include <atomic>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <map>
#include <vector>

#include "packet_format.h"

namespace vipcheck {

NlSocket open_rtnl(unsigned groups) {
    NlSocket sock(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC));
    if (!sock) throw std::runtime_error(std::string("netlink socket: ") + std::strerror(errno));
    if (mnl_socket_bind(sock.get(), groups, MNL_SOCKET_AUTOPID) < 0) {
        throw std::runtime_error(std::string("netlink bind: ") + std::strerror(errno));
    }
    return sock;
}

NlSocket open_route_events() {
    NlSocket sock = open_rtnl(RTMGRP_IPV4_ROUTE);
    int group = RTNLGRP_NEXTHOP;
    if (mnl_socket_setsockopt(sock.get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
        throw std::runtime_error(std::string("netlink nexthop group: ") + std::strerror(errno));
    }
    return sock;
}

void request(mnl_socket* sock, nlmsghdr* nlh, mnl_cb_t cb, void* data, bool missing_is_empty) {
    static std::atomic<uint32_t> seq_counter{0};
    nlh->nlmsg_seq = ++seq_counter;
    const uint32_t portid = mnl_socket_get_portid(sock);
    if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0) {
        throw std::runtime_error(std::string("netlink send: ") + std::strerror(errno));
    }
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    int ret;
    do {
        ssize_t n = mnl_socket_recvfrom(sock, buf.data(), buf.size());
        if (n < 0) throw std::runtime_error(std::string("netlink receive: ") + std::strerror(errno));
        ret = mnl_cb_run(buf.data(), size_t(n), nlh->nlmsg_seq, portid, cb, data);
    } while (ret > MNL_CB_STOP);
    if (ret < 0 && !(missing_is_empty && errno == ENOENT)) {
        throw std::runtime_error(std::string("netlink request: ") + std::strerror(errno));
    }
}

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

std::string ipv4_text(const void* network_order) {
    char buf[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, network_order, buf, sizeof buf);
    return buf;
}

uint32_t network_order(const std::string& address) {
    return htonl(parse_ipv4(address));
}

std::string interface_name(int ifindex) {
    char name[IF_NAMESIZE] = {};
    // if_indextoname asks through a socket of this thread, so of this namespace.
    return ::if_indextoname(unsigned(ifindex), name) ? name : std::to_string(ifindex);
}

unsigned interface_index(const std::string& ifname) {
    const unsigned index = ::if_nametoindex(ifname.c_str());  // of this thread's namespace, as above
    if (index == 0) throw std::runtime_error("no interface " + ifname);
    return index;
}

void change(mnl_socket* sock, nlmsghdr* nlh, const std::string& what) {
    try {
        request(sock, nlh, nullptr, nullptr, false);
    } catch (const std::runtime_error&) {
        throw std::runtime_error(what + ": " + std::strerror(errno));
    }
}

namespace {

std::string name_or_number(unsigned value, const std::map<unsigned, std::string>& names) {
    auto it = names.find(value);
    return it == names.end() ? std::to_string(value) : it->second;
}

}  // namespace

std::string route_type_name(unsigned type) {
    static const std::map<unsigned, std::string> names = {
        {RTN_UNICAST, "unicast"}, {RTN_LOCAL, "local"}, {RTN_BROADCAST, "broadcast"},
        {RTN_BLACKHOLE, "blackhole"}, {RTN_UNREACHABLE, "unreachable"}, {RTN_PROHIBIT, "prohibit"}};
    return name_or_number(type, names);
}

std::string route_protocol_name(unsigned protocol) {
    static const std::map<unsigned, std::string> names = {
        {RTPROT_KERNEL, "kernel"}, {RTPROT_BOOT, "boot"}, {RTPROT_STATIC, "static"},
        {RTPROT_ZEBRA, "zebra"},   {RTPROT_OSPF, "ospf"}, {RTPROT_BGP, "bgp"}};
    return name_or_number(protocol, names);
}

}  // namespace vipcheck
