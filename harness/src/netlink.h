// One rtnetlink socket and one request on it: what every netlink driver shares.
#pragma once

#include <libmnl/libmnl.h>

#include <memory>

namespace vipcheck {

struct NlSocketCloser {
    void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using NlSocket = std::unique_ptr<mnl_socket, NlSocketCloser>;

// A NETLINK_ROUTE socket of the calling thread's namespace, subscribed to `groups`.
NlSocket open_rtnl(unsigned groups);

// Sends one request and feeds every answer to cb until the kernel says it is done; an error
// answer throws, except ENOENT when `missing_is_empty` (a dump of something that is not there).
void request(mnl_socket* sock, nlmsghdr* nlh, mnl_cb_t cb, void* data, bool missing_is_empty = true);

}  // namespace vipcheck
