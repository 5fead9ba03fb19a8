#include <gtest/gtest.h>

#include "flow_gaps.h"

using namespace vipcheck;

namespace {

constexpr double kIntervalMs = 5.0;
constexpr uint64_t kMs = 1'000'000;

// One sink's record of one flow: runs of sequence numbers, each with its sender times.
SinkReport sink_with(std::vector<SeqRun> runs, bool overflowed = false) {
    SinkReport report;
    report.flows.resize(1);
    report.runs.resize(1);
    for (const SeqRun& run : runs) report.flows[0].packets += run.last_seq - run.first_seq + 1;
    report.runs[0] = {std::move(runs), overflowed};
    return report;
}

// seq a..b sent on the 5 ms schedule, shifted by late_ms.
SeqRun on_schedule(uint32_t a, uint32_t b, double late_ms = 0) {
    return {a, b, uint64_t((a * kIntervalMs + late_ms) * kMs), uint64_t((b * kIntervalMs + late_ms) * kMs)};
}

FlowGap gap_of(const std::vector<const SinkReport*>& sinks, uint32_t packets = 10) {
    auto gaps = flow_gaps(sinks, packets, kIntervalMs);
    EXPECT_EQ(gaps.size(), 1u);
    return gaps.at(0);
}

}  // namespace

TEST(FlowGaps, OnScheduleTheGapIsTheLostPacketsTimesTheInterval) {
    SinkReport lb2 = sink_with({on_schedule(0, 2)}), lb1 = sink_with({on_schedule(6, 9)});
    FlowGap gap = gap_of({&lb1, &lb2});
    EXPECT_EQ(gap.lost, 3u);
    EXPECT_DOUBLE_EQ(gap.gap_ms, 15.0);
}

TEST(FlowGaps, ASenderCatchingUpDoesNotStretchTheGap) {
    // The sender ran 150 ms late; the lost packets 3..8 left in one burst within 4 ms.
    SinkReport lb2 = sink_with({{0, 2, 150 * kMs, 160 * kMs}});
    SinkReport lb1 = sink_with({{9, 19, 169 * kMs, 200 * kMs}});
    FlowGap gap = gap_of({&lb2, &lb1}, 20);
    EXPECT_EQ(gap.lost, 6u);
    EXPECT_DOUBLE_EQ(gap.gap_ms, 4.0);  // counting would say 6 x 5 = 30 ms
}

TEST(FlowGaps, TheLongestHoleNotTheWholeLoss) {
    // Lost 3..5 on the failure (15 ms) and 12..13 on the restore (10 ms).
    SinkReport lb2 = sink_with({on_schedule(0, 2), on_schedule(14, 19)}), lb1 = sink_with({on_schedule(6, 11)});
    FlowGap gap = gap_of({&lb1, &lb2}, 20);
    EXPECT_EQ(gap.lost, 3u);
    EXPECT_DOUBLE_EQ(gap.gap_ms, 15.0);
}

TEST(FlowGaps, HolesAtTheEndsCountLostPacketsAndNoArrivalIsTheWholeStream) {
    SinkReport head = sink_with({on_schedule(2, 9)});
    EXPECT_DOUBLE_EQ(gap_of({&head}).gap_ms, 10.0);
    SinkReport tail = sink_with({on_schedule(0, 6)});
    EXPECT_EQ(gap_of({&tail}).lost, 3u);
    SinkReport none = sink_with({});
    FlowGap all = gap_of({&none});
    EXPECT_EQ(all.lost, 10u);
    EXPECT_DOUBLE_EQ(all.gap_ms, 50.0);
    SinkReport whole = sink_with({on_schedule(0, 9)});
    EXPECT_EQ(gap_of({&whole}).lost, 0u);
    EXPECT_DOUBLE_EQ(gap_of({&whole}).gap_ms, 0.0);
}

TEST(FlowGaps, ARunInsideAnotherSinksHoleSplitsIt) {
    SinkReport lb2 = sink_with({on_schedule(0, 2), on_schedule(18, 19)}), lb1 = sink_with({on_schedule(4, 15)});
    FlowGap gap = gap_of({&lb2, &lb1}, 20);
    EXPECT_EQ(gap.lost, 2u);  // 16..17, not 3..17
    EXPECT_DOUBLE_EQ(gap.gap_ms, 10.0);
}

TEST(FlowGaps, AnOverflowedFlowCountsItsWholeLoss) {
    // Only the first runs were kept; the flow lost 4 packets in all, 1 in what was kept.
    SinkReport lb1 = sink_with({on_schedule(0, 2), on_schedule(4, 9)}, true);
    lb1.flows[0].packets = 16;
    FlowGap gap = gap_of({&lb1}, 20);
    EXPECT_EQ(gap.lost, 4u);
    EXPECT_DOUBLE_EQ(gap.gap_ms, 20.0);
}
