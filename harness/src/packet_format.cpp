#include "packet_format.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace vipcheck {
namespace {

void put32(uint8_t* p, uint32_t v) {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}

uint32_t get32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

}  // namespace

void encode_payload(const FlowPayload& payload, std::span<uint8_t> out) {
    if (out.size() < kPayloadSize) throw std::length_error("payload buffer too small");
    uint8_t* p = out.data();
    put32(p, kPayloadMagic);
    put32(p + 4, payload.run_tag);
    put32(p + 8, payload.flow_id);
    put32(p + 12, payload.seq);
    put32(p + 16, uint32_t(payload.send_ns >> 32));
    put32(p + 20, uint32_t(payload.send_ns));
}

std::optional<FlowPayload> decode_payload(std::span<const uint8_t> in) {
    if (in.size() < kPayloadSize) return std::nullopt;
    const uint8_t* p = in.data();
    if (get32(p) != kPayloadMagic) return std::nullopt;
    FlowPayload payload;
    payload.run_tag = get32(p + 4);
    payload.flow_id = get32(p + 8);
    payload.seq = get32(p + 12);
    payload.send_ns = (uint64_t(get32(p + 16)) << 32) | get32(p + 20);
    return payload;
}

uint16_t internet_checksum(std::span<const uint8_t> data, uint32_t partial) {
    uint64_t sum = partial;
    size_t i = 0;
    for (; i + 1 < data.size(); i += 2) sum += (uint32_t(data[i]) << 8) | data[i + 1];
    if (i < data.size()) sum += uint32_t(data[i]) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

void build_udp_frame(const FiveTuple& tuple, const FlowPayload& payload, std::span<uint8_t, kFrameSize> out) {
    uint8_t* ip = out.data();
    uint8_t* udp = ip + kIpv4HeaderSize;
    ip[0] = 0x45;  // IPv4, 5-word header
    ip[1] = 0;
    put16(ip + 2, uint16_t(kFrameSize));
    put16(ip + 4, 0);       // id: the kernel fills it for IP_HDRINCL when zero
    put16(ip + 6, 0x4000);  // DF: never fragment, fragments would hash on L3 only
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    put16(ip + 10, 0);
    put32(ip + 12, tuple.src_ip);
    put32(ip + 16, tuple.dst_ip);
    put16(ip + 10, internet_checksum({ip, kIpv4HeaderSize}));

    const uint16_t udp_len = uint16_t(kUdpHeaderSize + kPayloadSize);
    put16(udp, tuple.src_port);
    put16(udp + 2, tuple.dst_port);
    put16(udp + 4, udp_len);
    put16(udp + 6, 0);
    encode_payload(payload, {udp + kUdpHeaderSize, kPayloadSize});
    // The pseudo-header sum: addresses, protocol and UDP length.
    uint32_t pseudo = (tuple.src_ip >> 16) + (tuple.src_ip & 0xffff) + (tuple.dst_ip >> 16) +
                      (tuple.dst_ip & 0xffff) + IPPROTO_UDP + udp_len;
    uint16_t sum = internet_checksum({udp, udp_len}, pseudo);
    put16(udp + 6, sum == 0 ? 0xffff : sum);  // zero means "no checksum" in UDP
}

std::array<uint8_t, kArpFrameSize> build_arp_request(const MacAddress& sender_mac, uint32_t sender_ip,
                                                     uint32_t target_ip) {
    std::array<uint8_t, kArpFrameSize> f{};
    std::fill(f.begin(), f.begin() + 6, 0xff);  // broadcast
    std::copy(sender_mac.begin(), sender_mac.end(), f.begin() + 6);
    put16(&f[12], 0x0806);
    put16(&f[14], 1);       // Ethernet
    put16(&f[16], 0x0800);  // IPv4
    f[18] = 6;
    f[19] = 4;
    put16(&f[20], 1);       // request
    std::copy(sender_mac.begin(), sender_mac.end(), f.begin() + 22);
    put32(&f[28], sender_ip);
    put32(&f[38], target_ip);  // target MAC (32..37) stays zero
    return f;
}

std::optional<ArpMessage> parse_arp(std::span<const uint8_t> f) {
    if (f.size() < kArpFrameSize) return std::nullopt;
    auto get16 = [&](size_t at) { return uint16_t((f[at] << 8) | f[at + 1]); };
    if (get16(12) != 0x0806 || get16(14) != 1 || get16(16) != 0x0800 || f[18] != 6 || f[19] != 4) {
        return std::nullopt;
    }
    ArpMessage m;
    m.op = get16(20);
    std::copy(f.begin() + 22, f.begin() + 28, m.sender_mac.begin());
    m.sender_ip = get32(&f[28]);
    m.target_ip = get32(&f[38]);
    return m;
}

std::string format_mac(const MacAddress& mac) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return buf;
}

uint32_t parse_ipv4(const std::string& text) {
    in_addr addr{};
    if (::inet_pton(AF_INET, text.c_str(), &addr) != 1) {
        throw std::invalid_argument("not an IPv4 address: '" + text + "'");
    }
    return ntohl(addr.s_addr);
}

std::string format_ipv4(uint32_t host_order) {
    in_addr addr{htonl(host_order)};
    char buf[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &addr, buf, sizeof buf);
    return buf;
}

}  // namespace vipcheck
