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

// A NETLINK_ROUTE socket of the calling thread's namespace, subscribed to `groups`.
NlSocket open_rtnl(unsigned groups);

// Sends one request and feeds every answer to cb until the kernel says it is done; an error
// answer throws, except ENOENT when `missing_is_empty` (a dump of something that is not there).
void request(mnl_socket* sock, nlmsghdr* nlh, mnl_cb_t cb, void* data, bool missing_is_empty = true);

}  // namespace vipcheck
