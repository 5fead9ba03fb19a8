#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "packet_format.h"

using namespace vipcheck;

TEST(PacketFormat, PayloadRoundTrips) {
    FlowPayload in{0xdeadbeef, 12345, 7, 0x0123456789abcdefULL};
    std::array<uint8_t, kPayloadSize> buf{};
    encode_payload(in, buf);
    auto out = decode_payload(buf);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->run_tag, in.run_tag);
    EXPECT_EQ(out->flow_id, in.flow_id);
    EXPECT_EQ(out->seq, in.seq);
    EXPECT_EQ(out->send_ns, in.send_ns);
}

TEST(PacketFormat, PayloadIsNetworkOrderWithMagic) {
    std::array<uint8_t, kPayloadSize> buf{};
    encode_payload({1, 2, 3, 4}, buf);
    EXPECT_EQ(buf[0], 'V');
    EXPECT_EQ(buf[1], 'C');
    EXPECT_EQ(buf[2], 'K');
    EXPECT_EQ(buf[3], '1');
    EXPECT_EQ(buf[11], 2);  // flow id, big-endian
}

TEST(PacketFormat, RejectsShortOrForeignPayloads) {
    std::array<uint8_t, kPayloadSize> buf{};
    encode_payload({1, 2, 3, 4}, buf);
    EXPECT_FALSE(decode_payload(std::span<const uint8_t>(buf.data(), kPayloadSize - 1)));
    buf[0] ^= 0xff;
    EXPECT_FALSE(decode_payload(buf));
    EXPECT_FALSE(decode_payload(std::span<const uint8_t>()));
}

TEST(PacketFormat, InternetChecksumKnownVector) {
    // RFC 1071 worked example.
    const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(internet_checksum(data), uint16_t(~0xddf2));
}

TEST(PacketFormat, UdpFrameChecksumsVerify) {
    std::array<uint8_t, kFrameSize> frame{};
    FiveTuple tuple{parse_ipv4("10.0.1.2"), parse_ipv4("10.99.0.1"), 40000, 5001};
    build_udp_frame(tuple, {9, 1, 2, 3}, frame);
    EXPECT_EQ(frame[0], 0x45);
    EXPECT_EQ(frame[9], 17);
    // A correct header sums to zero, so its checksum over itself is 0.
    EXPECT_EQ(internet_checksum(std::span<const uint8_t>(frame.data(), kIpv4HeaderSize)), 0);
    const uint32_t pseudo = (tuple.src_ip >> 16) + (tuple.src_ip & 0xffff) + (tuple.dst_ip >> 16) +
                            (tuple.dst_ip & 0xffff) + 17 + uint32_t(kUdpHeaderSize + kPayloadSize);
    EXPECT_EQ(internet_checksum(std::span<const uint8_t>(frame.data() + kIpv4HeaderSize, kFrameSize - kIpv4HeaderSize),
                                pseudo),
              0);
    EXPECT_EQ((frame[20] << 8) | frame[21], 40000);
    EXPECT_EQ((frame[22] << 8) | frame[23], 5001);
    auto payload = decode_payload(std::span<const uint8_t>(frame.data() + 28, kPayloadSize));
    ASSERT_TRUE(payload);
    EXPECT_EQ(payload->flow_id, 1u);
}

TEST(PacketFormat, Ipv4Parsing) {
    EXPECT_EQ(parse_ipv4("10.0.0.1"), 0x0a000001u);
    EXPECT_EQ(format_ipv4(0x0a000001u), "10.0.0.1");
    EXPECT_THROW(parse_ipv4("10.0.0"), std::invalid_argument);
    EXPECT_THROW(parse_ipv4("300.0.0.1"), std::invalid_argument);
}

TEST(PacketFormat, ArpRequestParsesBack) {
    MacAddress mac{0x02, 0, 0, 0, 0, 0x0a};
    auto frame = build_arp_request(mac, parse_ipv4("192.168.247.1"), parse_ipv4("192.168.247.100"));
    EXPECT_EQ(frame[0], 0xff);  // broadcast
    auto arp = parse_arp(frame);
    ASSERT_TRUE(arp);
    EXPECT_EQ(arp->op, 1);
    EXPECT_EQ(format_mac(arp->sender_mac), "02:00:00:00:00:0a");
    EXPECT_EQ(format_ipv4(arp->sender_ip), "192.168.247.1");
    EXPECT_EQ(format_ipv4(arp->target_ip), "192.168.247.100");
}

TEST(PacketFormat, ArpParserRejectsOtherFrames) {
    MacAddress mac{};
    auto frame = build_arp_request(mac, 1, 2);
    EXPECT_FALSE(parse_arp(std::span<const uint8_t>(frame.data(), frame.size() - 1)));
    auto ipv4 = frame;
    ipv4[13] = 0x00;  // ethertype 0x0800
    EXPECT_FALSE(parse_arp(ipv4));
    auto ipv6_arp = frame;
    ipv6_arp[19] = 16;  // protocol address length
    EXPECT_FALSE(parse_arp(ipv6_arp));
}

#if defined(__SANITIZE_ADDRESS__)
// Negative control for the sanitizer build: it must stop a read past a buffer's end, the
// kind of bug a parser of network input would have.
TEST(Sanitizers, StopAnOutOfBoundsRead) {
    EXPECT_DEATH(
        {
            std::vector<uint8_t> frame(20);
            volatile const uint8_t* past = frame.data() + frame.size();
            volatile uint8_t byte = *past;
            (void)byte;
        },
        "heap-buffer-overflow");
}
#endif
