// One rtnetlink socket and one request on it: what every netlink driver shares.
#pragma once

#include <libmnl/libmnl.h>

#include <cstdint>
#include <memory>

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

// A NETLINK_ROUTE socket of the calling thread's namespace, subscribed to `groups`.
NlSocket open_rtnl(unsigned groups);

// Sends one request and feeds every answer to cb until the kernel says it is done; an error
// answer throws, except ENOENT when `missing_is_empty` (a dump of something that is not there).
void request(mnl_socket* sock, nlmsghdr* nlh, mnl_cb_t cb, void* data, bool missing_is_empty = true);

}  // namespace vipcheck
