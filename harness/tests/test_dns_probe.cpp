#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "dns_probe.h"
#include "netns.h"
#include "packet_format.h"
#include "test_network.h"

using namespace vipcheck;

namespace {

// A response to `query` carrying the given A records, owner names compressed to the question.
std::vector<uint8_t> respond(std::vector<uint8_t> query, const std::vector<std::string>& addresses, uint32_t ttl) {
    std::vector<uint8_t> r = query;
    r[2] = 0x84;  // QR, AA
    r[3] = 0x00;
    r[7] = uint8_t(addresses.size());
    for (const auto& a : addresses) {
        const uint32_t ip = parse_ipv4(a);
        r.insert(r.end(), {0xc0, 0x0c, 0, 1, 0, 1, uint8_t(ttl >> 24), uint8_t(ttl >> 16), uint8_t(ttl >> 8),
                           uint8_t(ttl), 0, 4, uint8_t(ip >> 24), uint8_t(ip >> 16), uint8_t(ip >> 8), uint8_t(ip)});
    }
    return r;
}

}  // namespace

TEST(DnsProbe, QueryWireFormat) {
    auto q = build_dns_query(0x1234, "www.lb.test");
    const std::vector<uint8_t> expected = {0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 2, 'l', 'b',
                                           4,    't',  'e', 's', 't', 0, 0, 1, 0, 1};
    EXPECT_EQ(q, expected);
    EXPECT_EQ(build_dns_query(1, "www.lb.test."), build_dns_query(1, "www.lb.test"));
    EXPECT_THROW(build_dns_query(1, "a..b"), std::invalid_argument);
    EXPECT_THROW(build_dns_query(1, std::string(64, 'x') + ".test"), std::invalid_argument);
}

TEST(DnsProbe, ParsesAddressesInOrderWithTheSmallestTtl) {
    auto q = build_dns_query(7, "www.lb.test");
    auto r = respond(q, {"10.10.1.100", "10.10.2.100"}, 30);
    r[r.size() - 16 + 9] = 20;  // the last record's TTL low byte: 20 s
    auto a = parse_dns_response(r, 7);
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->authoritative);
    EXPECT_EQ(a->addresses, (std::vector<std::string>{"10.10.1.100", "10.10.2.100"}));
    EXPECT_EQ(a->ttl, 20u);
}

TEST(DnsProbe, RejectsOtherIdsQueriesAndTruncatedRecords) {
    auto q = build_dns_query(7, "www.lb.test");
    auto r = respond(q, {"10.10.1.100"}, 30);
    EXPECT_FALSE(parse_dns_response(r, 8));
    EXPECT_FALSE(parse_dns_response(q, 7));  // a query is not an answer
    for (size_t cut = 0; cut < r.size(); ++cut) {
        EXPECT_FALSE(parse_dns_response(std::span<const uint8_t>(r.data(), cut), 7)) << "cut at " << cut;
    }
}

TEST(DnsProbe, SurvivesACompressionPointerLoop) {
    auto q = build_dns_query(7, "www.lb.test");
    auto r = respond(q, {"10.10.1.100"}, 30);
    const size_t owner = q.size();
    r[owner] = 0xc0;
    r[owner + 1] = uint8_t(owner);  // points at itself
    EXPECT_FALSE(parse_dns_response(r, 7));
}

TEST(DnsProbe, ReportsNxdomainWithNoAddresses) {
    auto q = build_dns_query(9, "nope.lb.test");
    auto r = respond(q, {}, 0);
    r[3] = 0x03;  // NXDOMAIN
    auto a = parse_dns_response(r, 9);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->rcode, 3);
    EXPECT_TRUE(a->addresses.empty());
}

TEST(DnsProbe, AsksARealServerOverUdpWithFreshIds) {
    if (::geteuid() != 0) GTEST_FAIL() << "needs root for namespaces";
    vipcheck::testing::EcmpNetwork net;
    // A one-record server on lb1's uplink that answers every query it gets, echoing the id.
    std::atomic<bool> ready{false};
    std::vector<uint16_t> ids;
    std::thread server([&]() {
        NetnsFd ns(net.lb1.path());
        enter_netns(ns);
        int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(5353);
        addr.sin_addr.s_addr = htonl(parse_ipv4(vipcheck::testing::EcmpNetwork::kLb1Uplink));
        ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ready = true;
        for (int i = 0; i < 5; ++i) {
            uint8_t buf[512];
            sockaddr_in from{};
            socklen_t len = sizeof from;
            ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
            std::vector<uint8_t> query(buf, buf + n);
            ids.push_back(uint16_t((buf[0] << 8) | buf[1]));
            auto r = respond(query, {"10.10.1.100", "10.10.2.100"}, 60);
            ::sendto(fd, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
        }
        ::close(fd);
    });
    while (!ready) std::this_thread::yield();
    DnsProbeResult result = probe_dns(net.router.path(), vipcheck::testing::EcmpNetwork::kLb1Uplink, 5353, "www.lb.test", 5, 2000, 1);
    server.join();
    EXPECT_EQ(result.sent, 5u);
    EXPECT_EQ(result.timeouts, 0u);
    ASSERT_EQ(result.answers.size(), 5u);
    EXPECT_EQ(result.answers[0].addresses.size(), 2u);
    EXPECT_EQ(result.answers[0].ttl, 60u);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "ids repeat";
}
