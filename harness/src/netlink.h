// One rtnetlink socket and one request on it: what every netlink driver shares.
#pragma once

#include <libmnl/libmnl.h>

#include <cstdint>
#include <memory>
#include <string>

namespace vipcheck {

struct NlSocketCloser {
    void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using NlSocket = std::unique_ptr<mnl_socket, NlSocketCloser>;

// Starts a request in buf (MNL_SOCKET_BUFFER_SIZE bytes): the netlink header with its type and
// flags, then the zeroed family header, which it returns.
template <class FamilyHeader>
FamilyHeader* start_request(char* buf, uint16_t type, uint16_t flags, nlmsghdr** nlh) {
    *nlh = mnl_nlmsg_put_header(buf);
    (*nlh)->nlmsg_type = type;
    (*nlh)->nlmsg_flags = flags;
    return static_cast<FamilyHeader*>(mnl_nlmsg_put_extra_header(*nlh, sizeof(FamilyHeader)));
}

// Calls fn for each attribute after the family header (mnl_attr_for_each is C-only).
template <class Fn>
void for_each_attr(const nlmsghdr* nlh, size_t header_len, Fn fn) {
    const char* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
    auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, header_len));
    while (mnl_attr_ok(attr, int(tail - reinterpret_cast<const char*>(attr)))) {
        fn(attr);
        attr = static_cast<const nlattr*>(mnl_attr_next(attr));
    }
}

// Dumps every IPv4 object of one kind (RTM_GETROUTE, RTM_GETADDR) into cb.
template <class FamilyHeader>
void dump_ipv4(mnl_socket* sock, uint16_t type, mnl_cb_t cb, void* data);

// An attribute's payload, checked for size before it is read: a truncated or malformed message
// is skipped, never read past (the parsers are fuzzed, see ci/fuzz).
bool attr_u32(const nlattr* attr, uint32_t& out);
bool attr_ipv4(const nlattr* attr, std::string& out);

std::string ipv4_text(const void* network_order);
uint32_t network_order(const std::string& address);
// The interface's name in the calling thread's namespace; its index when it has none.
std::string interface_name(int ifindex);
// The interface's index in the calling thread's namespace; throws naming it when there is none.
unsigned interface_index(const std::string& ifname);
// The names `ip route` prints for a route's type (unicast, local, ...) and protocol (kernel, ospf,
// ...); the number where it has none.
std::string route_type_name(unsigned type);
std::string route_protocol_name(unsigned protocol);

// A NETLINK_ROUTE socket of the calling thread's namespace, subscribed to `groups`.
NlSocket open_rtnl(unsigned groups);
// A socket that hears every IPv4 route change and every nexthop object change: a route through
// a nexthop group changes when the group does, and no route event says so.
NlSocket open_route_events();

// Sends one request and feeds every answer to cb until the kernel says it is done; an error
// answer throws, except ENOENT when `missing_is_empty` (a dump of something that is not there).
void request(mnl_socket* sock, nlmsghdr* nlh, mnl_cb_t cb, void* data, bool missing_is_empty = true);

// Sends one change and waits for the kernel's acknowledgement; a refusal throws "what: reason".
void change(mnl_socket* sock, nlmsghdr* nlh, const std::string& what);

template <class FamilyHeader>
void dump_ipv4(mnl_socket* sock, uint16_t type, mnl_cb_t cb, void* data) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh;
    auto* header = start_request<FamilyHeader>(buf, type, NLM_F_REQUEST | NLM_F_DUMP, &nlh);
    *reinterpret_cast<uint8_t*>(header) = AF_INET;  // rtm_family and ifa_family both come first
    request(sock, nlh, cb, data);
}

}  // namespace vipcheck
