// The drivers for real: traffic across veth pairs and routes in namespaces made here.
#include <gtest/gtest.h>

#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "arp_probe.h"
#include "clock.h"
#include "connections.h"
#include "resilient_group.h"
#include "injector.h"
#include "link_changes.h"
#include "netlink_routes.h"
#include "kernel_tables.h"
#include "route_watch.h"
#include "packet_format.h"
#include "sink.h"
#include "sysctl.h"
#include "test_network.h"
#include "node_setup.h"
#include "veth_pairs.h"

using namespace vipcheck;
using vipcheck::testing::EcmpNetwork;
using vipcheck::testing::TestNamespace;

namespace {

constexpr uint16_t kPort = EcmpNetwork::kPort;
constexpr uint32_t kTag = 0x7e57;

struct Delivery {
    InjectionReport sent;
    SinkReport lb1, lb2;
};

Delivery send_flows(EcmpNetwork& net, size_t flows, uint32_t packets_per_flow, uint16_t first_port = 20000) {
    auto counter = std::make_shared<ArrivalCounter>();
    FlowSink sink1({net.lb1.path(), parse_ipv4(EcmpNetwork::kVip), kPort, kTag, uint32_t(flows)}, counter);
    FlowSink sink2({net.lb2.path(), parse_ipv4(EcmpNetwork::kVip), kPort, kTag, uint32_t(flows)}, counter);
    std::vector<uint16_t> ports;
    for (size_t i = 0; i < flows; ++i) ports.push_back(uint16_t(first_port + i));
    Delivery d;
    d.sent = inject_flows(net.flows(ports, packets_per_flow, 50000, kTag));
    counter->wait_for(d.sent.packets_sent, 500, 5000);
    d.lb1 = sink1.stop();
    d.lb2 = sink2.stop();
    return d;
}

bool root() { return ::geteuid() == 0; }

}  // namespace

class Drivers : public ::testing::Test {
protected:
    void SetUp() override {
        if (!root()) GTEST_FAIL() << "driver tests create namespaces: run as root (sudo make test)";
    }
};

TEST_F(Drivers, RouteReaderSeesEveryNexthopOfAMultipathRoute) {
    EcmpNetwork net;
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "nexthop", "via", "10.0.2.2", "nexthop", "via", "10.0.3.2"});
    VipRoute route = read_route(net.router.path(), EcmpNetwork::kVip, 32);
    ASSERT_TRUE(route.present);
    EXPECT_EQ(route.type, "unicast");
    ASSERT_EQ(route.nexthops.size(), 2u);
    std::set<std::string> gateways{route.nexthops[0].gateway, route.nexthops[1].gateway};
    EXPECT_EQ(gateways, (std::set<std::string>{"10.0.2.2", "10.0.3.2"}));
    EXPECT_EQ(route.nexthops[0].ifname, route.nexthops[0].gateway == "10.0.2.2" ? "l1" : "l2");
    EXPECT_FALSE(read_route(net.router.path(), "10.99.0.2", 32).present);
}

TEST_F(Drivers, RouteReaderResolvesANexthopGroupWithoutCompatMode) {
    EcmpNetwork net;
    net.router.run({"sysctl", "-q", "-w", "net.ipv4.nexthop_compat_mode=0"});
    net.router.run({"ip", "nexthop", "add", "id", "11", "via", "10.0.2.2", "dev", "l1"});
    net.router.run({"ip", "nexthop", "add", "id", "12", "via", "10.0.3.2", "dev", "l2"});
    net.router.run({"ip", "nexthop", "add", "id", "20", "group", "11,3/12"});
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "nhid", "20"});
    VipRoute route = read_route(net.router.path(), EcmpNetwork::kVip, 32);
    ASSERT_TRUE(route.present);
    EXPECT_EQ(route.nhid, 20u);
    ASSERT_EQ(route.nexthops.size(), 2u);
    EXPECT_EQ(route.nexthops[0].gateway, "10.0.2.2");
    EXPECT_EQ(route.nexthops[0].weight, 3u);
    EXPECT_EQ(route.nexthops[1].ifname, "l2");
}

TEST_F(Drivers, RouteWatcherWakesOnTheChangeThatCompletesTheRoute) {
    EcmpNetwork net;
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "via", "10.0.2.2"});
    // The watcher polls its cancel hook only once it is subscribed and waiting: change then.
    std::promise<void> waiting;
    bool told = false;
    auto waiter = std::async(std::launch::async, [&]() {
        return wait_for_nexthops(net.router.path(), EcmpNetwork::kVip, 32, {"10.0.3.2", "10.0.2.2"}, 5000, [&]() {
            if (!told) waiting.set_value();
            told = true;
            return false;
        });
    });
    waiting.get_future().wait();
    net.router.run({"ip", "route", "replace", "10.99.0.1/32", "nexthop", "via", "10.0.2.2", "nexthop", "via", "10.0.3.2"});
    RouteWait wait = waiter.get();
    EXPECT_TRUE(wait.reached);
    EXPECT_EQ(wait.route.nexthops.size(), 2u);
    EXPECT_GE(wait.reached_ns, wait.started_ns);
    ASSERT_EQ(wait.changes.size(), 2u);
    EXPECT_EQ(wait.changes[0].route.nexthops.size(), 1u);
}

TEST_F(Drivers, RouteWatcherTimesOutWhenTheRouteNeverCompletes) {
    EcmpNetwork net;
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "via", "10.0.2.2"});
    RouteWait wait = wait_for_nexthops(net.router.path(), EcmpNetwork::kVip, 32, {"10.0.2.2", "10.0.3.2"}, 300, {});
    EXPECT_FALSE(wait.reached);
    ASSERT_FALSE(wait.changes.empty());
    EXPECT_EQ(wait.changes.front().route.nexthops.size(), 1u);
}

TEST_F(Drivers, RouteWatcherWaitsForTheRightGatewaysNotJustTheirCount) {
    EcmpNetwork net;
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "via", "10.0.3.2"});
    RouteWait wait = wait_for_nexthops(net.router.path(), EcmpNetwork::kVip, 32, {"10.0.2.2"}, 200, {});
    EXPECT_FALSE(wait.reached);
}

TEST_F(Drivers, RouteWatcherHonoursCancellation) {
    EcmpNetwork net;
    EXPECT_THROW(wait_for_nexthops(net.router.path(), EcmpNetwork::kVip, 32, {"10.0.2.2"}, 60000, []() { return true; }),
                 std::runtime_error);
}

TEST_F(Drivers, EveryFlowArrivesWholeAtExactlyOneLb) {
    EcmpNetwork net;
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "nexthop", "via", "10.0.2.2", "nexthop", "via", "10.0.3.2"});
    const size_t flows = 1000;
    Delivery d = send_flows(net, flows, 4);
    EXPECT_EQ(d.sent.packets_sent, flows * 4);
    EXPECT_EQ(d.sent.send_errors, 0u);
    EXPECT_EQ(d.lb1.packets + d.lb2.packets, flows * 4);
    size_t on_lb1 = 0;
    for (size_t f = 0; f < flows; ++f) {
        const auto& a = d.lb1.flows[f];
        const auto& b = d.lb2.flows[f];
        EXPECT_TRUE((a.packets == 4 && b.packets == 0) || (a.packets == 0 && b.packets == 4)) << "flow " << f;
        const auto& got = a.packets ? a : b;
        EXPECT_EQ(got.seq_gaps, 0u);
        EXPECT_EQ(got.next_seq, 4u);
        EXPECT_LE(got.first_ns, got.last_ns);
        on_lb1 += a.packets ? 1 : 0;
    }
    // 1000 fair coin flips: 5.5 sd either side of 500 (false alarm about 4e-8).
    EXPECT_GT(on_lb1, 413u);
    EXPECT_LT(on_lb1, 587u);
}

TEST_F(Drivers, FlowsStayOnTheirLbAcrossInjections) {
    // Fresh sockets each time: nothing sender-side (like a socket hash) may move a flow.
    EcmpNetwork net;
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "nexthop", "via", "10.0.2.2", "nexthop", "via", "10.0.3.2"});
    Delivery first = send_flows(net, 300, 2);
    Delivery second = send_flows(net, 300, 2);
    for (size_t f = 0; f < 300; ++f) {
        EXPECT_EQ(first.lb1.flows[f].packets > 0, second.lb1.flows[f].packets > 0) << "flow " << f << " moved";
    }
}

TEST_F(Drivers, L3HashPutsEveryFlowOfOneClientOnOneLb) {
    EcmpNetwork net(/*hash_policy=*/0);
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "nexthop", "via", "10.0.2.2", "nexthop", "via", "10.0.3.2"});
    Delivery d = send_flows(net, 200, 2);
    EXPECT_TRUE(d.lb1.packets == 400 || d.lb2.packets == 400);
}

TEST_F(Drivers, SinkRecordsSequenceGapsAndIgnoresOtherRuns) {
    EcmpNetwork net;
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "via", "10.0.2.2"});
    auto counter = std::make_shared<ArrivalCounter>();
    FlowSink sink({net.lb1.path(), parse_ipv4(EcmpNetwork::kVip), kPort, kTag, 4}, counter);
    inject_flows(net.flows({30000}, 3, 1000, kTag + 1));  // another run's packets
    counter->wait_for(1, 300, 2000);
    SinkReport report = sink.stop();
    EXPECT_EQ(report.packets, 0u);
    EXPECT_EQ(report.foreign_packets, 3u);
}

TEST_F(Drivers, SinkSeesNothingWhereTheVipIsNotLocal) {
    EcmpNetwork net;
    net.lb1.run({"ip", "addr", "del", std::string(EcmpNetwork::kVip) + "/32", "dev", "lo"});
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "via", "10.0.2.2"});
    Delivery d = send_flows(net, 50, 2);
    EXPECT_EQ(d.sent.packets_sent, 100u);
    EXPECT_EQ(d.lb1.packets, 0u);
}

TEST_F(Drivers, AddressReaderListsTheVipOnLo) {
    EcmpNetwork net;
    auto addresses = read_addresses(net.lb1.path());
    auto vip = std::find_if(addresses.begin(), addresses.end(),
                            [](const InterfaceAddress& a) { return a.address == EcmpNetwork::kVip; });
    ASSERT_NE(vip, addresses.end());
    EXPECT_EQ(vip->ifname, "lo");
    EXPECT_EQ(vip->prefix_len, 32u);
}

TEST_F(Drivers, AddressChangeTakesTheVipOffLoAndBackInOneRequestEach) {
    EcmpNetwork net;
    auto holds_vip = [&net]() {
        auto addresses = read_addresses(net.lb1.path());
        return std::any_of(addresses.begin(), addresses.end(), [](const InterfaceAddress& a) {
            return a.address == EcmpNetwork::kVip && a.ifname == "lo" && a.prefix_len == 32;
        });
    };
    ASSERT_TRUE(holds_vip());
    EXPECT_TRUE(change_address(net.lb1.path(), "lo", EcmpNetwork::kVip, 32, false));
    EXPECT_FALSE(holds_vip());
    EXPECT_EQ(lookup_route(net.lb1.path(), EcmpNetwork::kVip).type, "unicast");  // no longer local
    EXPECT_FALSE(change_address(net.lb1.path(), "lo", EcmpNetwork::kVip, 32, false));  // already gone
    EXPECT_TRUE(change_address(net.lb1.path(), "lo", EcmpNetwork::kVip, 32, true));
    EXPECT_TRUE(holds_vip());
    EXPECT_FALSE(change_address(net.lb1.path(), "lo", EcmpNetwork::kVip, 32, true));   // already there
    EXPECT_THROW(change_address(net.lb1.path(), "nosuch0", EcmpNetwork::kVip, 32, true), std::runtime_error);
}

TEST_F(Drivers, LinkDownTakesTheUplinksRoutesAwayAndLinkUpBringsThemBack) {
    EcmpNetwork net;
    ASSERT_EQ(lookup_route(net.lb1.path(), "10.0.2.1").ifname, "eth0");
    set_link_up(net.lb1.path(), "eth0", false);
    RouteLookup down = lookup_route(net.lb1.path(), "10.0.2.1");
    EXPECT_FALSE(down.found);
    EXPECT_FALSE(down.error.empty());
    set_link_up(net.lb1.path(), "eth0", true);
    EXPECT_EQ(lookup_route(net.lb1.path(), "10.0.2.1").ifname, "eth0");
    EXPECT_THROW(set_link_up(net.lb1.path(), "nosuch0", false), std::runtime_error);
}

TEST_F(Drivers, WaitsUntilEveryLinkThatIsUpHasCarrier) {
    EcmpNetwork net;
    const std::vector<std::string> eth0{"eth0"};
    EXPECT_TRUE(wait_links_running(net.lb1.path(), eth0, 5000).empty());
    // The router's end of lb1's link goes down: lb1's eth0, still up, has no carrier.
    set_link_up(net.router.path(), "l1", false);
    EXPECT_EQ(wait_links_running(net.lb1.path(), eth0, 200), eth0);
    EXPECT_TRUE(wait_links_running(net.lb1.path(), {"lo"}, 200).empty());  // only the names asked for
    set_link_up(net.router.path(), "l1", true);
    EXPECT_TRUE(wait_links_running(net.lb1.path(), eth0, 5000).empty());
    set_link_up(net.lb1.path(), "eth0", false);  // a link that is down is not waited for
    EXPECT_TRUE(wait_links_running(net.lb1.path(), eth0, 200).empty());
}

// The client's link has index 2 at both ends, each the first link of its namespace: linkwatch
// defers such a veth's carrier up to a second. Raised, both ends are running without a wait.
TEST_F(Drivers, ARaisedLinkIsRunningAtOnce) {
    EcmpNetwork net;
    for (int round = 0; round < 3; ++round) {  // linkwatch has just run: it would defer the next change
        set_link_up(net.router.path(), "c0", false);
        ASSERT_EQ(wait_links_running(net.client.path(), {"eth0"}, 0), std::vector<std::string>{"eth0"});
        set_link_up(net.router.path(), "c0", true);
        EXPECT_TRUE(wait_links_running(net.router.path(), {"c0"}, 0).empty()) << "round " << round;
        EXPECT_TRUE(wait_links_running(net.client.path(), {"eth0"}, 0).empty()) << "round " << round;
    }
}

TEST_F(Drivers, AVethPairJoinsTwoNamespacesAndNeverTheRootOne) {
    TestNamespace a, b;
    add_veth_pairs({{a.path(), "va", b.path(), "vb"}});
    a.run({"ip", "link", "show", "dev", "va"});
    b.run({"ip", "link", "show", "dev", "vb"});
    EXPECT_THROW(a.run({"ip", "link", "show", "dev", "vb"}), std::runtime_error);  // each end where it belongs
    EXPECT_EQ(::if_nametoindex("va"), 0u);  // this test runs in the root namespace
    EXPECT_EQ(::if_nametoindex("vb"), 0u);
    set_link_up(a.path(), "va", true);
    set_link_up(b.path(), "vb", true);
    EXPECT_TRUE(wait_links_running(b.path(), {"vb"}, 1000).empty());  // peers of each other: carrier
    try {
        add_veth_pairs({{a.path(), "va", b.path(), "vc"}});
        FAIL() << "a taken name was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("veth va - vc"), std::string::npos) << e.what();
    }
}

TEST_F(Drivers, ABridgeTakesItsPortsAndRoutesGoThroughOneGatewayOrEach) {
    TestNamespace a, b;
    add_veth_pairs({{a.path(), "p1", b.path(), "q1"}, {a.path(), "p2", b.path(), "q2"}});
    add_bridge(a.path(), "br0", {"p1", "p2"});
    for (const char* port : {"p1", "p2"}) {
        a.run({"sh", "-c", std::string("ip link show dev ") + port + " | grep -q 'master br0'"});
    }
    a.run({"sh", "-c", "ip link show dev br0 | grep -q '[<,]UP[,>]'"});  // raised with it
    EXPECT_THROW(a.run({"sh", "-c", "ip -d link show dev br0 | grep -q 'stp_state 1'"}), std::runtime_error);

    set_link_up(b.path(), "q1", true);
    change_address(b.path(), "q1", "10.0.9.2", 24, true);
    add_route(b.path(), "0.0.0.0", 0, {"10.0.9.1"});
    VipRoute fallback = read_route(b.path(), "0.0.0.0", 0);
    ASSERT_TRUE(fallback.present);
    ASSERT_EQ(fallback.nexthops.size(), 1u);
    EXPECT_EQ(fallback.nexthops[0].gateway, "10.0.9.1");
    add_route(b.path(), "10.77.0.0", 16, {"10.0.9.3", "10.0.9.1"});
    VipRoute multipath = read_route(b.path(), "10.77.0.0", 16);
    ASSERT_EQ(multipath.nexthops.size(), 2u);  // in the order given
    EXPECT_EQ(multipath.nexthops[0].gateway, "10.0.9.3");
    EXPECT_EQ(multipath.nexthops[1].gateway, "10.0.9.1");
    EXPECT_THROW(add_route(b.path(), "10.77.0.0", 16, {"10.0.9.1"}), std::runtime_error);  // already there
}

TEST_F(Drivers, SysctlsAreWrittenAndReadInTheNodesNamespaceOnly) {
    TestNamespace node;
    const std::string key = "net.ipv4.conf.all.arp_ignore";
    const auto mine = read_sysctls("/proc/self/ns/net", {key});
    write_sysctls(node.path(), {{key, mine[0].second == "1" ? "2" : "1"}, {"net.ipv4.ip_forward", "1"}});
    const auto there = read_sysctls(node.path(), {key, "net.ipv4.ip_forward"});
    ASSERT_EQ(there.size(), 2u);
    EXPECT_EQ(there[0], Sysctl(key, mine[0].second == "1" ? "2" : "1"));
    EXPECT_EQ(there[1], Sysctl("net.ipv4.ip_forward", "1"));
    EXPECT_EQ(read_sysctls("/proc/self/ns/net", {key}), mine);  // the test's own namespace untouched
    EXPECT_THROW(write_sysctls(node.path(), {{"net.ipv4.no_such_key", "1"}}), std::invalid_argument);
    EXPECT_THROW(write_sysctls(node.path(), {{"net.ipv4.ip_forward", "yes"}}), std::invalid_argument);
    EXPECT_THROW(read_sysctls(node.path(), {"../../etc/passwd"}), std::invalid_argument);
}

TEST_F(Drivers, InjectorReportsPacketsItsStackRefused) {
    TestNamespace lonely;  // no route anywhere
    InjectionPlan plan;
    plan.netns = lonely.path();
    plan.src_ip = parse_ipv4("10.0.1.2");
    plan.dst_ip = parse_ipv4("10.99.0.1");
    plan.dst_port = kPort;
    plan.src_ports = {1000, 1001};
    plan.packets_per_flow = 2;
    plan.rate_pps = 10000;
    InjectionReport r = inject_flows(plan);
    EXPECT_EQ(r.packets_sent, 0u);
    EXPECT_EQ(r.send_errors, 4u);
    EXPECT_NE(r.last_errno, 0);
}

TEST_F(Drivers, RouteLookupSeesTheSubnetSwallowedByAWideVipOnLo) {
    EcmpNetwork net;
    RouteLookup before = lookup_route(net.lb1.path(), "10.99.0.7");
    EXPECT_EQ(before.type, "unicast");
    EXPECT_EQ(before.ifname, "eth0");
    EXPECT_EQ(before.gateway, "10.0.2.1");
    net.lb1.run({"ip", "addr", "add", "10.99.0.1/24", "dev", "lo"});
    RouteLookup after = lookup_route(net.lb1.path(), "10.99.0.7");
    EXPECT_EQ(after.type, "local");
    EXPECT_EQ(after.ifname, "lo");
    auto local = read_table(net.lb1.path(), 255);
    EXPECT_TRUE(std::any_of(local.begin(), local.end(), [](const RouteEntry& r) {
        return r.destination == "10.99.0.0" && r.prefix_len == 24 && r.ifname == "lo" && r.type == "local";
    }));
}

TEST_F(Drivers, RouteLookupReportsNoRouteAsAnAnswer) {
    TestNamespace lonely;
    RouteLookup r = lookup_route(lonely.path(), "10.1.2.3");
    EXPECT_FALSE(r.found);
    EXPECT_FALSE(r.error.empty());
}

TEST_F(Drivers, ArpProbeHearsTheVipOnLoOnlyWithoutArpIgnore) {
    EcmpNetwork net;
    // lb1 holds the VIP on lo; asked on its uplink, the default arp_ignore=0 makes it answer.
    ArpProbeResult flux = probe_arp(net.router.path(), "l1", "10.0.2.1", {EcmpNetwork::kVip, EcmpNetwork::kLb1Uplink},
                                    {EcmpNetwork::kLb1Uplink}, 1, 50, 2000);
    EXPECT_TRUE(flux.answered);
    auto vip_replies = std::count_if(flux.replies.begin(), flux.replies.end(),
                                     [](const ArpReply& r) { return r.sender_ip == EcmpNetwork::kVip; });
    EXPECT_EQ(vip_replies, 1);
    net.lb1.run({"sysctl", "-q", "-w", "net.ipv4.conf.all.arp_ignore=1"});
    ArpProbeResult quiet = probe_arp(net.router.path(), "l1", "10.0.2.1", {EcmpNetwork::kVip, EcmpNetwork::kLb1Uplink},
                                     {EcmpNetwork::kLb1Uplink}, 1, 50, 2000);
    EXPECT_TRUE(quiet.answered);
    ASSERT_EQ(quiet.replies.size(), 1u);
    EXPECT_EQ(quiet.replies[0].sender_ip, EcmpNetwork::kLb1Uplink);
    EXPECT_EQ(quiet.replies[0].sender_mac, flux.replies[0].sender_mac);
}

TEST_F(Drivers, RouteMonitorTimestampsEveryChangeOnTheMonotonicClock) {
    EcmpNetwork net;
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "nexthop", "via", "10.0.2.2", "nexthop", "via", "10.0.3.2"});
    RouteMonitor monitor(net.router.path(), EcmpNetwork::kVip, 32);
    ASSERT_TRUE(monitor.wait_for({"10.0.2.2", "10.0.3.2"}, 0, 1000));  // the state in force counts
    const uint64_t before_change = monotonic_ns();
    net.lb2.run({"ip", "link", "set", "eth0", "down"});  // r1 loses the carrier of l2
    net.router.run({"ip", "route", "replace", "10.99.0.1/32", "via", "10.0.2.2"});
    auto withdrawn = monitor.wait_for({"10.0.2.2"}, before_change, 2000);
    ASSERT_TRUE(withdrawn);
    EXPECT_GE(withdrawn->at_ns, before_change);
    EXPECT_LT(withdrawn->at_ns - before_change, 1'000'000'000ull);
    EXPECT_FALSE(monitor.wait_for({"10.0.3.2"}, before_change, 100));
    monitor.stop();
    auto changes = monitor.changes();
    ASSERT_GE(changes.size(), 2u);
    for (size_t i = 1; i < changes.size(); ++i) EXPECT_GE(changes[i].at_ns, changes[i - 1].at_ns);
}

TEST_F(Drivers, SinkSnapshotCountsWhileItRuns) {
    EcmpNetwork net;
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "via", "10.0.2.2"});
    auto counter = std::make_shared<ArrivalCounter>();
    FlowSink sink({net.lb1.path(), parse_ipv4(EcmpNetwork::kVip), kPort, kTag, 2}, counter);
    inject_flows(net.flows({30000, 30001}, 5, 10000, kTag));
    counter->wait_for(10, 300, 2000);
    EXPECT_EQ(sink.snapshot(), (std::vector<uint64_t>{5, 5}));
    SinkReport report = sink.stop();
    EXPECT_EQ(report.packets, 10u);
    uint64_t timeline = 0;
    for (uint32_t n : report.per_ms) timeline += n;
    EXPECT_EQ(timeline, 10u);  // every packet lands in one millisecond bucket
    EXPECT_GT(report.origin_ns, 0u);
}

TEST_F(Drivers, SinkKeepsEachFlowsSequenceRunsWithTheSendersClock) {
    EcmpNetwork net;
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "via", "10.0.2.2"});
    auto counter = std::make_shared<ArrivalCounter>();
    SinkConfig config{net.lb1.path(), parse_ipv4(EcmpNetwork::kVip), kPort, kTag, 2};
    config.record_runs = true;
    FlowSink sink(config, counter);
    InjectionReport sent = inject_flows(net.flows({30000, 30001}, 5, 1000, kTag));
    inject_flows(net.flows({30000}, 2, 1000, kTag));  // seq 0 and 1 again: late, no new run
    counter->wait_for(12, 300, 2000);
    SinkReport report = sink.stop();
    ASSERT_EQ(report.runs.size(), 2u);
    for (const FlowRuns& flow : report.runs) {
        ASSERT_EQ(flow.runs.size(), 1u);
        EXPECT_FALSE(flow.overflowed);
        EXPECT_EQ(flow.runs[0].first_seq, 0u);
        EXPECT_EQ(flow.runs[0].last_seq, 4u);
        EXPECT_GE(flow.runs[0].first_send_ns, sent.first_send_ns);
        EXPECT_LE(flow.runs[0].last_send_ns, sent.last_send_ns);
        EXPECT_GT(flow.runs[0].last_send_ns, flow.runs[0].first_send_ns);  // 4 packets at 1000 pps apart
    }
    EXPECT_GT(report.memory_bytes, 2 * sizeof(FlowRuns));
}

namespace {

constexpr uint16_t kAnswerPort = 5002;

struct Exchange {
    InjectionReport sent;
    SinkReport lb1, lb2, client;
};

// Requests from the client to the VIP, answered by every LB to the client's answer port; lb_config
// adjusts each LB's sink (how it answers).
Exchange exchange(EcmpNetwork& net, uint32_t flows, void (*lb_config)(SinkConfig&, int lb) = nullptr) {
    auto counter = std::make_shared<ArrivalCounter>();
    std::vector<std::unique_ptr<FlowSink>> sinks;
    for (int lb = 1; lb <= 2; ++lb) {
        SinkConfig config{(lb == 1 ? net.lb1 : net.lb2).path(), parse_ipv4(EcmpNetwork::kVip), kPort, kTag, flows};
        config.answer_port = kAnswerPort;
        if (lb_config) lb_config(config, lb);
        sinks.push_back(std::make_unique<FlowSink>(config, counter));
    }
    SinkConfig answers{net.client.path(), parse_ipv4(EcmpNetwork::kClient), kAnswerPort, kTag, flows};
    answers.record_sources = true;
    FlowSink client(answers, counter);
    std::vector<uint16_t> ports;
    for (uint32_t i = 0; i < flows; ++i) ports.push_back(uint16_t(30000 + i));
    Exchange e;
    e.sent = inject_flows(net.flows(ports, 2, 20000, kTag));
    counter->wait_for(2 * e.sent.packets_sent, 300, 5000);
    e.lb1 = sinks[0]->stop();
    e.lb2 = sinks[1]->stop();
    e.client = client.stop();
    return e;
}

}  // namespace

TEST_F(Drivers, EveryRequestIsAnsweredFromTheVipAndTheClientRecordsTheSource) {
    EcmpNetwork net;
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "nexthop", "via", "10.0.2.2", "nexthop", "via", "10.0.3.2"});
    const Exchange e = exchange(net, 128);
    ASSERT_EQ(e.sent.packets_sent, 256u);
    EXPECT_EQ(e.lb1.packets + e.lb2.packets, 256u);
    EXPECT_GT(e.lb1.answers_sent, 0u);
    EXPECT_GT(e.lb2.answers_sent, 0u);
    EXPECT_EQ(e.lb1.answers_sent + e.lb2.answers_sent, 256u);
    EXPECT_EQ(e.client.packets, 256u);
    ASSERT_EQ(e.client.sources.size(), 1u);
    EXPECT_EQ(format_ipv4(e.client.sources[0].first), EcmpNetwork::kVip);
}

TEST_F(Drivers, AnswersFromTheRoutesSourceOrWithoutARouteBackAreSeenForWhatTheyAre) {
    EcmpNetwork net;
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "nexthop", "via", "10.0.2.2", "nexthop", "via", "10.0.3.2"});
    net.lb2.run({"ip", "route", "del", "default"});  // lb2 cannot answer anyone off its link
    const Exchange e = exchange(net, 128, [](SinkConfig& config, int lb) { config.answer_from_route = lb == 1; });
    EXPECT_EQ(e.lb1.packets + e.lb2.packets, 256u);
    EXPECT_EQ(e.lb2.answers_sent, 0u);
    EXPECT_EQ(e.lb2.answer_errors, e.lb2.packets);
    EXPECT_EQ(e.lb2.answer_errno, ENETUNREACH);
    // lb1 answers from the address its route to the client picks: its uplink's, not the VIP.
    ASSERT_EQ(e.client.sources.size(), 1u);
    EXPECT_EQ(format_ipv4(e.client.sources[0].first), EcmpNetwork::kLb1Uplink);
    EXPECT_EQ(e.client.packets, e.lb1.packets);
}

TEST(ConnectionsParse, TakesOneResponseAtATimeAndWaitsForTheRest) {
    std::string buffer = "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nX-Other: 1\r\n\r\nlb1HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nlb";
    std::string body;
    bool malformed = true;
    ASSERT_TRUE(take_http_body(buffer, body, malformed));
    EXPECT_EQ(body, "lb1");
    EXPECT_FALSE(malformed);
    EXPECT_FALSE(take_http_body(buffer, body, malformed));  // the second body is cut: wait for it
    buffer += "2";
    ASSERT_TRUE(take_http_body(buffer, body, malformed));
    EXPECT_EQ(body, "lb2");
    EXPECT_TRUE(buffer.empty());
    std::string garbage = "SSH-2.0-OpenSSH\r\n";
    EXPECT_FALSE(take_http_body(garbage, body, malformed));
    EXPECT_TRUE(malformed);
}

TEST_F(Drivers, ConnectionsKeepTheirLbAndAreResetWhenTheRouterMovesThem) {
    EcmpNetwork net(3);  // the router hashes the headers, as a real one does
    net.router.run({"sysctl", "-q", "-w", "net.ipv4.fib_multipath_hash_fields=0x0037"});
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "nexthop", "via", "10.0.2.2", "nexthop", "via", "10.0.3.2"});
    vipcheck::testing::HttpNamer lb1(net.lb1, EcmpNetwork::kVip, 80, "lb1"), lb2(net.lb2, EcmpNetwork::kVip, 80, "lb2");
    ConnectionsPlan plan;
    plan.netns = net.client.path();
    plan.src_ip = parse_ipv4(EcmpNetwork::kClient);
    plan.dst_ip = parse_ipv4(EcmpNetwork::kVip);
    plan.dst_port = 80;
    for (uint16_t port = 40000; port < 40064; ++port) plan.src_ports.push_back(port);
    plan.ask_interval_ms = 20;
    plan.answer_timeout_ms = 500;
    plan.lb_names = {"lb1", "lb2"};
    Connections connections(plan);
    ASSERT_EQ(connections.wait_open(5000), 64u);
    auto answered = [&](uint32_t at_least) {  // every connection asks each 20 ms
        EXPECT_TRUE(connections.wait_answered(at_least, 5000));
        return connections.snapshot();
    };
    const auto before = answered(3);
    std::map<int, int> per_lb;
    for (const auto& r : before) {
        EXPECT_EQ(r.state, ConnectionState::kOpen);
        EXPECT_EQ(r.lb, r.last_lb);  // sticky: every answer from the LB of the first
        ++per_lb[r.lb];
    }
    EXPECT_GT(per_lb[1], 8);
    EXPECT_GT(per_lb[2], 8);
    // The router now sends everything to lb1: lb2's connections reach an LB with no state for them.
    net.router.run({"ip", "route", "replace", "10.99.0.1/32", "via", "10.0.2.2"});
    const auto after = answered(before[0].answers + 3);
    const ConnectionsReport report = connections.stop();
    for (size_t i = 0; i < report.connections.size(); ++i) {
        const auto& r = report.connections[i];
        if (before[i].lb == 1) {
            EXPECT_EQ(r.state, ConnectionState::kOpen) << i;
        } else {
            EXPECT_EQ(r.state, ConnectionState::kReset) << i;
            EXPECT_EQ(r.error, ECONNRESET);
        }
    }
    EXPECT_GT(report.requests, 64u * 3);
    EXPECT_LT(report.memory_bytes, 64u * 1024);  // per connection, not per request
}

TEST_F(Drivers, AResilientGroupMovesOnlyARemovedMembersFlowsAndFollowsTheMainRoute) {
    EcmpNetwork net(3);
    net.router.run({"sysctl", "-q", "-w", "net.ipv4.fib_multipath_hash_fields=0x0037"});
    net.router.run({"ip", "route", "add", "10.99.0.1/32", "nexthop", "via", "10.0.2.2", "nexthop", "via", "10.0.3.2"});
    ResilientConfig config;
    config.netns = net.router.path();
    config.vip = parse_ipv4(EcmpNetwork::kVip);
    config.gateways = {"10.0.2.2", "10.0.3.2"};
    config.buckets = 32;
    config.idle_timer_ms = 100'000;  // nothing idles during the test: an added member gets no bucket
    ResilientGroup group(config);
    auto buckets_of = [&](const std::string& gateway) {
        const auto buckets = read_buckets(net.router.path(), config.group_id);
        return std::count_if(buckets.begin(), buckets.end(), [&](const Bucket& b) { return b.gateway == gateway; });
    };
    ASSERT_EQ(read_buckets(net.router.path(), config.group_id).size(), 32u);
    EXPECT_EQ(buckets_of("10.0.2.2"), 16);
    const Delivery before = send_flows(net, 256, 2);
    ASSERT_GT(before.lb1.packets, 0u);
    ASSERT_GT(before.lb2.packets, 0u);

    // zebra's route loses lb2: the group follows, and only lb2's flows move.
    net.router.run({"ip", "route", "replace", "10.99.0.1/32", "via", "10.0.2.2"});
    ASSERT_TRUE(group.wait_for({"10.0.2.2"}, 2000));
    EXPECT_EQ(buckets_of("10.0.2.2"), 32);
    const Delivery after = send_flows(net, 256, 2);
    for (size_t flow = 0; flow < 256; ++flow) {
        if (before.lb1.flows[flow].packets) EXPECT_EQ(after.lb1.flows[flow].packets, 2u) << flow;
    }
    EXPECT_EQ(after.lb2.packets, 0u);

    // lb2 returns. A group of one member never selects a path (the kernel skips the selection for a
    // single path), so no bucket was marked busy: every bucket is idle, and lb2 gets its share at
    // once. (With two members or more, a returning one gets only buckets idle for idle_timer.)
    net.router.run({"ip", "route", "replace", "10.99.0.1/32", "nexthop", "via", "10.0.2.2", "nexthop", "via", "10.0.3.2"});
    ASSERT_TRUE(group.wait_for({"10.0.2.2", "10.0.3.2"}, 2000));
    EXPECT_EQ(buckets_of("10.0.3.2"), 16);
    // zebra withdraws every path: the VIP's own table loses its route, and the rule falls through.
    net.router.run({"ip", "route", "del", "10.99.0.1/32"});
    ASSERT_TRUE(group.wait_for({}, 2000));
    const auto changes = group.changes();
    for (const auto& change : changes) EXPECT_EQ(change.error, "");
    EXPECT_GE(changes.size(), 4u);
}

TEST_F(Drivers, TheArpWatchHearsWhoClaimsWhichAddressOnItsLinks) {
    EcmpNetwork net;
    // lb1 asks for the router with the VIP as its sender address, as arp_announce 0 lets a host do
    // for a packet from the VIP; the router's node records it.
    ArpWatch watch(net.router.path());
    const auto asked = probe_arp(net.lb1.path(), "eth0", EcmpNetwork::kVip, {"10.0.2.1"}, {"10.0.2.1"}, 1, 20, 2000);
    EXPECT_TRUE(asked.answered);
    const auto frames = watch.stop();
    const bool claimed = std::any_of(frames.begin(), frames.end(), [](const ArpFrame& f) {
        return f.op == 1 && f.sender_ip == EcmpNetwork::kVip && f.target_ip == "10.0.2.1" && f.ifname == "l1";
    });
    EXPECT_TRUE(claimed) << frames.size() << " frames";
}
