// Failover gap per flow: the longest stretch of a flow's packets that reached no sink, timed on
// the sender's clock from the sinks' sequence runs.
#pragma once

#include <cstdint>
#include <vector>

#include "sink.h"

namespace vipcheck {

struct FlowGap {
    double gap_ms = 0;   // the longest stretch of lost packets, sender's clock (0: none lost)
    uint32_t lost = 0;   // packets lost in that stretch
};

// Per flow id: between the last packet that arrived before a hole and the first after it, less
// one packet interval. Timed by the sender, so a sender catching up after a stall does not
// stretch the gap, as counting lost packets would. A hole at either end of the stream has no
// sender time on one side and counts lost packets times interval_ms; so does a flow whose
// runs overflowed (its whole loss, the upper bound).
std::vector<FlowGap> flow_gaps(const std::vector<const SinkReport*>& sinks, uint32_t packets_per_flow,
                               double interval_ms);

}  // namespace vipcheck
