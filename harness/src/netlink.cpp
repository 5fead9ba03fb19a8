#include "netlink.h"

#include <cerrno>
#include <cstring>
#include <atomic>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace vipcheck {

NlSocket open_rtnl(unsigned groups) {
    NlSocket sock(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC));
    if (!sock) throw std::runtime_error(std::string("netlink socket: ") + std::strerror(errno));
    if (mnl_socket_bind(sock.get(), groups, MNL_SOCKET_AUTOPID) < 0) {
        throw std::runtime_error(std::string("netlink bind: ") + std::strerror(errno));
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

}  // namespace vipcheck
