#include "flow_gaps.h"

#include <algorithm>

namespace vipcheck {
namespace {

// Keeps the longer gap; a hole that lost packets beats none, even at 0 ms (sent in one burst).
void keep_worst(FlowGap& worst, double gap_ms, uint64_t lost) {
    if (lost == 0) return;
    if (worst.lost == 0 || gap_ms > worst.gap_ms) worst = {std::max(0.0, gap_ms), uint32_t(lost)};
}

}  // namespace

std::vector<FlowGap> flow_gaps(const std::vector<const SinkReport*>& sinks, uint32_t packets_per_flow,
                               double interval_ms) {
    size_t flows = 0;
    for (const SinkReport* sink : sinks) flows = std::max(flows, sink->runs.size());
    std::vector<FlowGap> gaps(flows);
    std::vector<SeqRun> runs;
    for (size_t flow = 0; flow < flows; ++flow) {
        runs.clear();
        bool overflowed = false;
        uint64_t received = 0;
        for (const SinkReport* sink : sinks) {
            if (flow >= sink->runs.size()) continue;
            const FlowRuns& at = sink->runs[flow];
            overflowed |= at.overflowed;
            runs.insert(runs.end(), at.runs.begin(), at.runs.end());
            if (flow < sink->flows.size()) received += sink->flows[flow].packets;
        }
        FlowGap& worst = gaps[flow];
        if (overflowed) {
            const uint64_t lost = packets_per_flow - std::min<uint64_t>(received, packets_per_flow);
            keep_worst(worst, double(lost) * interval_ms, lost);
        }
        if (runs.empty()) {
            keep_worst(worst, double(packets_per_flow) * interval_ms, packets_per_flow);
            continue;
        }
        std::sort(runs.begin(), runs.end(), [](const SeqRun& a, const SeqRun& b) { return a.first_seq < b.first_seq; });
        keep_worst(worst, double(runs.front().first_seq) * interval_ms, runs.front().first_seq);
        uint64_t covered = runs.front().last_seq;
        uint64_t covered_ns = runs.front().last_send_ns;
        for (const SeqRun& run : runs) {
            if (run.first_seq > covered + 1) {
                const double span_ms = (double(run.first_send_ns) - double(covered_ns)) / 1e6;
                keep_worst(worst, span_ms - interval_ms, run.first_seq - covered - 1);
            }
            if (run.last_seq > covered) {
                covered = run.last_seq;
                covered_ns = run.last_send_ns;
            }
        }
        if (!overflowed && covered + 1 < packets_per_flow) {  // overflowed: the tail was not kept
            const uint64_t lost = packets_per_flow - 1 - covered;
            keep_worst(worst, double(lost) * interval_ms, lost);
        }
    }
    return gaps;
}

}  // namespace vipcheck
