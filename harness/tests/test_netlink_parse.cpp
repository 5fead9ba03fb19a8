// The route parser on messages built here: a multipath route as the kernel sends it, and the
// same message cut short or lying about an attribute's size.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include <vector>

#include "netlink_routes.h"

namespace {

std::vector<uint8_t> multipath_route() {
    std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = RTM_NEWROUTE;
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = 32;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_OSPF;
    rtm->rtm_type = RTN_UNICAST;
    mnl_attr_put_u32(nlh, RTA_DST, inet_addr("10.100.0.1"));
    nlattr* multipath = mnl_attr_nest_start(nlh, RTA_MULTIPATH);
    for (auto [gateway, ifindex] : {std::pair{"10.2.0.2", 3}, std::pair{"10.2.0.6", 4}}) {
        auto* rtnh = static_cast<rtnexthop*>(mnl_nlmsg_get_payload_tail(nlh));
        nlh->nlmsg_len += MNL_ALIGN(sizeof(rtnexthop));
        rtnh->rtnh_ifindex = ifindex;
        rtnh->rtnh_hops = 0;
        rtnh->rtnh_flags = 0;
        mnl_attr_put_u32(nlh, RTA_GATEWAY, inet_addr(gateway));
        rtnh->rtnh_len = static_cast<unsigned short>(static_cast<char*>(mnl_nlmsg_get_payload_tail(nlh)) -
                                                     reinterpret_cast<char*>(rtnh));
    }
    mnl_attr_nest_end(nlh, multipath);
    buf.resize(nlh->nlmsg_len);
    return buf;
}

}  // namespace

TEST(ParseRouteMessage, ReadsEveryNexthopOfAMultipathRoute) {
    auto route = vipcheck::parse_route_message(multipath_route(), "10.100.0.1", 32);
    ASSERT_TRUE(route);
    EXPECT_EQ(route->protocol, "ospf");
    ASSERT_EQ(route->nexthops.size(), 2u);
    EXPECT_EQ(route->nexthops[0].gateway, "10.2.0.2");
    EXPECT_EQ(route->nexthops[1].gateway, "10.2.0.6");
}

TEST(ParseRouteMessage, IgnoresAnotherDestination) {
    EXPECT_FALSE(vipcheck::parse_route_message(multipath_route(), "10.100.0.2", 32));
}

TEST(ParseRouteMessage, RejectsEveryTruncation) {
    auto message = multipath_route();
    for (size_t len = 0; len < message.size(); ++len) {
        std::vector<uint8_t> cut(message.begin(), message.begin() + static_cast<long>(len));
        EXPECT_FALSE(vipcheck::parse_route_message(cut, "10.100.0.1", 32)) << "cut at " << len;
    }
}

TEST(ParseRouteMessage, SkipsAnAttributeTooShortForItsType) {
    auto message = multipath_route();
    // RTA_DST follows the rtmsg header: claim it holds 2 bytes instead of 4.
    auto* dst = reinterpret_cast<nlattr*>(message.data() + NLMSG_HDRLEN + MNL_ALIGN(sizeof(rtmsg)));
    ASSERT_EQ(dst->nla_type, RTA_DST);
    dst->nla_len = NLA_HDRLEN + 2;
    EXPECT_FALSE(vipcheck::parse_route_message(message, "10.100.0.1", 32));
}
