// Injector and sink throughput through one router hop, against a plain sendmmsg loop measured
// in the same run and network. Prints one JSON object; ci/bench turns it into a table.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "clock.h"
#include "injector.h"
#include "netns.h"
#include "packet_format.h"
#include "sink.h"
#include "test_network.h"

using namespace vipcheck;
using vipcheck::testing::EcmpNetwork;

namespace {

constexpr uint16_t kPort = EcmpNetwork::kPort;
constexpr uint32_t kTag = 0xbe7c;
constexpr uint32_t kFlows = 1024;

struct Throughput {
    uint64_t sent = 0, received = 0;
    double seconds = 0;
    double sent_pps() const { return double(sent) / seconds; }
    double delivered_pps() const { return double(received) / seconds; }
};

Throughput measure(EcmpNetwork& net, const std::function<uint64_t()>& send) {
    auto counter = std::make_shared<ArrivalCounter>();
    FlowSink sink({net.lb1.path(), parse_ipv4(EcmpNetwork::kVip), kPort, kTag, kFlows}, counter);
    Throughput t;
    const uint64_t start = monotonic_ns();
    t.sent = send();
    t.seconds = double(monotonic_ns() - start) / 1e9;
    counter->wait_for(t.sent, 200, 10000);
    t.received = sink.stop().packets;
    return t;
}

// The simplest fast sender: one unconnected UDP socket, prebuilt payloads, sendmmsg, no pacing.
uint64_t plain_sendmmsg(const std::string& netns, uint64_t packets, const char* vip = EcmpNetwork::kVip) {
    return run_in_netns(netns, [packets, vip]() {
        int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in dst{};
        dst.sin_family = AF_INET;
        dst.sin_port = htons(kPort);
        dst.sin_addr.s_addr = htonl(parse_ipv4(vip));
        constexpr size_t batch = 64;
        std::array<std::array<uint8_t, kPayloadSize>, batch> payloads{};
        std::array<iovec, batch> iov{};
        std::array<mmsghdr, batch> msgs{};
        for (size_t i = 0; i < batch; ++i) {
            encode_payload({kTag, uint32_t(i % kFlows), 0, 0}, payloads[i]);
            iov[i] = {payloads[i].data(), kPayloadSize};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &dst;
            msgs[i].msg_hdr.msg_namelen = sizeof dst;
        }
        uint64_t sent = 0;
        while (sent < packets) {
            int n = ::sendmmsg(fd, msgs.data(), unsigned(std::min<uint64_t>(batch, packets - sent)), 0);
            if (n > 0) sent += uint64_t(n);
        }
        ::close(fd);
        return sent;
    });
}

}  // namespace

int main(int argc, char** argv) {
    // A whole number of packets per flow, so both senders send exactly the same count.
    const uint64_t packets = (argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000) / kFlows * kFlows;
    EcmpNetwork net;
    net.router.run({"ip", "route", "add", std::string(EcmpNetwork::kVip) + "/32", "via", EcmpNetwork::kLb1Uplink});

    Throughput plain = measure(net, [&]() { return plain_sendmmsg(net.client.path(), packets); });
    std::vector<uint16_t> ports;
    for (uint32_t i = 0; i < kFlows; ++i) ports.push_back(uint16_t(20000 + i));
    const uint32_t per_flow = uint32_t(packets / kFlows);
    // rate 1e9: unpaced, as fast as the sender's CPU forwards.
    Throughput injector = measure(net, [&]() { return inject_flows(net.flows(ports, per_flow, 1e9, kTag)).packets_sent; });
    // The senders alone: out of a veth whose peer is down, so the packet is built, routed and
    // dropped at transmit without any forwarding path behind it.
    net.client.run({"ip", "link", "add", "void0", "type", "veth", "peer", "name", "void1"});
    net.client.run({"ip", "link", "set", "void0", "up"});
    net.client.run({"ip", "route", "add", "10.98.0.0/24", "dev", "void0"});
    net.client.run({"ip", "neigh", "add", "10.98.0.1", "lladdr", "02:00:00:00:00:01", "dev", "void0", "nud", "permanent"});
    auto alone = [&](auto send) {
        const uint64_t start = monotonic_ns();
        const uint64_t sent = send();
        return double(sent) / (double(monotonic_ns() - start) / 1e9);
    };
    const double plain_alone = alone([&]() { return plain_sendmmsg(net.client.path(), packets, "10.98.0.1"); });
    const double injector_alone =
        alone([&]() { return inject_flows(net.flows(ports, per_flow, 1e9, kTag, "10.98.0.1")).packets_sent; });
    std::printf(
        "{\"plain_alone_pps\": %.0f, \"injector_alone_pps\": %.0f, \"packets\": %llu, \"plain_sent_pps\": %.0f, \"plain_delivered_pps\": %.0f, \"plain_delivered\": %llu, "
        "\"injector_sent_pps\": %.0f, \"injector_delivered_pps\": %.0f, \"injector_delivered\": %llu, "
        "\"ratio_delivered\": %.3f}\n",
        plain_alone, injector_alone, (unsigned long long)packets, plain.sent_pps(), plain.delivered_pps(), (unsigned long long)plain.received,
        injector.sent_pps(), injector.delivered_pps(), (unsigned long long)injector.received,
        injector.delivered_pps() / plain.delivered_pps());
    return 0;
}
