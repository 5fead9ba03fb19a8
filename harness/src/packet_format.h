// Wire formats the injector writes and the sinks read: the flow payload and its IPv4/UDP frame.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace vipcheck {

// Carried in every injected packet so a sink can attribute it to a flow and order it.
struct FlowPayload {
    uint32_t run_tag = 0;  // tells this run's packets from strays
    uint32_t flow_id = 0;
    uint32_t seq = 0;
    uint64_t send_ns = 0;  // CLOCK_MONOTONIC, shared by all namespaces
};

inline constexpr uint32_t kPayloadMagic = 0x56434b31;  // "VCK1"
inline constexpr size_t kPayloadSize = 24;
inline constexpr size_t kIpv4HeaderSize = 20;
inline constexpr size_t kUdpHeaderSize = 8;
inline constexpr size_t kFrameSize = kIpv4HeaderSize + kUdpHeaderSize + kPayloadSize;

// Writes the payload in network byte order; out must hold kPayloadSize bytes.
void encode_payload(const FlowPayload& payload, std::span<uint8_t> out);

// Reads a payload; nullopt when the bytes are too short or not ours.
std::optional<FlowPayload> decode_payload(std::span<const uint8_t> in);

// The addressing of one flow; addresses and ports in host byte order.
struct FiveTuple {
    uint32_t src_ip = 0;
    uint32_t dst_ip = 0;
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
};

// Writes a complete IPv4 + UDP datagram (checksums filled) for a raw IP_HDRINCL socket.
void build_udp_frame(const FiveTuple& tuple, const FlowPayload& payload, std::span<uint8_t, kFrameSize> out);

// Internet checksum (RFC 1071) over data, seeded with a partial sum.
uint16_t internet_checksum(std::span<const uint8_t> data, uint32_t partial = 0);

inline constexpr size_t kArpFrameSize = 42;  // Ethernet header + ARP for IPv4 over Ethernet

using MacAddress = std::array<uint8_t, 6>;

struct ArpMessage {
    uint16_t op = 0;          // 1 request, 2 reply
    MacAddress sender_mac{};
    uint32_t sender_ip = 0;   // host byte order
    uint32_t target_ip = 0;
};

// A broadcast "who has target_ip" from sender_mac/sender_ip.
std::array<uint8_t, kArpFrameSize> build_arp_request(const MacAddress& sender_mac, uint32_t sender_ip,
                                                     uint32_t target_ip);

// Reads an Ethernet frame carrying IPv4-over-Ethernet ARP; nullopt for anything else.
std::optional<ArpMessage> parse_arp(std::span<const uint8_t> frame);

std::string format_mac(const MacAddress& mac);

// Parses a dotted IPv4 address into host byte order; throws std::invalid_argument.
uint32_t parse_ipv4(const std::string& text);
std::string format_ipv4(uint32_t host_order);

}  // namespace vipcheck
