"""An independent reading of a failing ECMP failover run: r1's capture, decoded here from the
pcap bytes, against the per-flow gaps and the failure stamp vipcheck reported."""
import struct
from collections import defaultdict
from pathlib import Path

import pytest


def egress_packets(pcap):
    """(flow id, seq, send_ns, egress MAC) of every injected packet r1 sent out, from a capture
    of its interfaces (Linux cooked capture v1 or v2); the payload's send time is the sender's."""
    data = pcap.read_bytes()
    magic, linktype = struct.unpack_from("<I", data)[0], struct.unpack_from("<I", data, 20)[0]
    assert magic == 0xA1B2C3D4, "a little-endian microsecond pcap"
    found, offset = [], 24
    while offset + 16 <= len(data):
        _, _, caplen, _ = struct.unpack_from("<IIII", data, offset)
        frame = data[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen
        if linktype == 113:      # SLL: packet type, ARPHRD, address length, address, protocol
            pkttype, _, addr_len = struct.unpack_from(">HHH", frame)
            mac, protocol, ip = frame[6:6 + addr_len], struct.unpack_from(">H", frame, 14)[0], frame[16:]
        elif linktype == 276:    # SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, address
            protocol, _, _, _, pkttype, addr_len = struct.unpack_from(">HHIHBB", frame)
            mac, ip = frame[12:12 + addr_len], frame[20:]
        else:
            pytest.fail(f"capture link type {linktype}")
        if pkttype != 4 or protocol != 0x0800 or len(ip) < 28 + 24 or ip[9] != 17:
            continue             # only what r1 sent out, IPv4 UDP
        payload = ip[(ip[0] & 0x0F) * 4 + 8:]
        if struct.unpack_from(">I", payload)[0] != 0x56434B31:
            continue
        _, _, flow, seq, high, low = struct.unpack_from(">IIIIII", payload)
        found.append((flow, seq, (high << 32) | low, bytes(mac)))
    return found


def assert_gaps_agree_with_the_capture(run):
    """An independent reading of a failing run: r1's capture says, per sampled flow, the send time
    of the last packet it forwarded to lb2 and of the first it forwarded to lb1. lb2 accepted a
    packet only if it was sent before the failure took effect, which the stamp bounds from both
    sides; so each flow's reported gap must lie between the two holes the capture allows."""
    artifacts = Path(run.result["artifacts"])
    timeline, interval = run.result["timeline"], run.check("failover_gap")["details"]["flow_interval_ms"] * 1e6
    in_effect = timeline["origin_ns"] + timeline["failure_ms"] * 1e6   # known in effect
    not_before = in_effect - timeline["failure_uncertainty_ms"] * 1e6 - 1e6   # less 1 ms to cross r1
    packets = [p for pcap in sorted((artifacts / "capture").glob("r1-*.pcap")) for p in egress_packets(pcap)]
    by_flow = defaultdict(list)
    for flow, seq, send_ns, mac in packets:
        by_flow[flow].append((seq, send_ns, mac))
    lb1_mac = max(packets, key=lambda p: p[2])[3]   # after the withdrawal every flow leaves towards lb1
    reported = run.check("failover_gap")["details"]["gap_ms_per_flow"]
    judged = 0
    for flow, seen in by_flow.items():
        seen.sort()
        seqs = [seq for seq, _, _ in seen]
        to_lb2 = [send for _, send, mac in seen if mac != lb1_mac]
        if not to_lb2 or str(flow) not in reported or seqs != list(range(seqs[0], seqs[-1] + 1)):
            continue             # lb1's own flows, and flows whose capture lost a packet
        first_to_lb1 = min(send for _, send, mac in seen if mac == lb1_mac and send > not_before)
        latest = max(send for send in to_lb2 if send <= in_effect)
        earliest = max(send for send in to_lb2 if send <= not_before)
        low, high = (first_to_lb1 - latest - interval) / 1e6, (first_to_lb1 - earliest - interval) / 1e6
        assert low - 0.01 <= reported[str(flow)] <= high + 0.01, (flow, low, reported[str(flow)], high)
        judged += 1
    # The capture keeps 1 flow in 16: of 256 flows, 16, each on lb2 with probability 1/2 (the
    # kernel's hash seed is random per boot). None on lb2: 2^-16, below 1 in 10,000.
    assert judged >= 1, "no sampled flow of lb2 was captured whole"
