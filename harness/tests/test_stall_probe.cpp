#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "clock.h"
#include "stall_probe.h"

using namespace vipcheck;

TEST(StallProbe, ParsesPressureTotals) {
    uint64_t some = 0, full = 0;
    ASSERT_TRUE(parse_pressure("some avg10=0.00 avg60=1.98 avg300=8.79 total=139364037\n"
                               "full avg10=0.00 avg60=0.00 avg300=0.00 total=42\n",
                               some, full));
    EXPECT_EQ(some, 139364037u);
    EXPECT_EQ(full, 42u);
    EXPECT_FALSE(parse_pressure("", some, full));
    EXPECT_FALSE(parse_pressure("some total=x\n", some, full));
}

// Every 1 ms tick the probe did not wake for shows as lateness, however busy the machine: two
// wake-ups are at most a period plus the later one's lateness apart, so a window of W ms holds
// (wakeups + 1) x (1 ms + worst lateness) >= W. (A bound on the wake-ups alone failed under
// `ctest -j 2` with sanitizers: 18 in 60 ms, the rest of the window seen as lateness.)
TEST(StallProbe, EveryMissedTickShowsAsLatenessAndPressureIsADelta) {
    StallProbe probe({"/proc/pressure/cpu", "/nonexistent/cpu.pressure"});
    const uint64_t started = monotonic_ns();
    // The window opens once the probe's thread has woken: before, it had no tick to miss.
    while (probe.window(started, monotonic_ns()).wakeups == 0) std::this_thread::yield();
    uint64_t from = monotonic_ns();
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    uint64_t to = monotonic_ns();
    probe.stop();
    auto w = probe.window(from, to);
    const double window_ms = double(to - from) / 1e6;
    EXPECT_GE(w.wakeups, 1u);
    EXPECT_GE(double(w.wakeups + 1) * (1.0 + w.worst_late_ms), window_ms);
    EXPECT_LT(w.worst_late_ms, window_ms);  // lateness is bounded by the window it is measured in
    ASSERT_EQ(w.some_ms.size(), 2u);
    EXPECT_EQ(w.some_ms[1], 0.0);      // an unreadable file counts nothing
    EXPECT_EQ(probe.window(to + 1'000'000'000, to + 2'000'000'000).wakeups, 0u);
}

// The probe's own process stopped for 200 ms (as a machine that stalls it would): the one late
// wake-up says so, inside the window and not before it. The child waits for the parent to say it
// continued it, not for a fixed time: a parent scheduled late would otherwise stop it past `to`.
// The window before the stop ends at `current`, a moment the probe has woken after: a wake-up due
// before it that had not woken when the stop came would carry the stop into that window (a window
// ending a fixed 5 ms before the stop read 220 ms once under `ctest -j 2`).
TEST(StallProbe, AStoppedProcessShowsItsStall) {
    int ready[2], resumed[2], measured[2];
    ASSERT_EQ(pipe(ready), 0);
    ASSERT_EQ(pipe(resumed), 0);
    ASSERT_EQ(pipe(measured), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        StallProbe probe({});
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        // Wake-ups come in order, so once one wakes after `current` every one due by then has woken.
        const uint64_t current = monotonic_ns();
        for (int i = 0; i < 5000 && probe.window(current, monotonic_ns()).wakeups == 0; ++i)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        uint64_t from = monotonic_ns();
        char go = 1;
        (void)!write(ready[1], &go, 1);
        (void)!read(resumed[0], &go, 1);  // stopped and continued meanwhile
        // The probe thread's late wake-up may come after this thread's: wait for one wake-up past
        // this moment, which follows it.
        uint64_t back = monotonic_ns();
        for (int i = 0; i < 5000 && probe.window(back, monotonic_ns()).wakeups == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        uint64_t to = monotonic_ns();
        // The parent judges, so a failure says which window and by how much.
        const double late[2] = {probe.window(from, to).worst_late_ms,
                                probe.window(current - 20'000'000, current).worst_late_ms};
        _exit(write(measured[1], late, sizeof late) == sizeof late ? 0 : 1);
    }
    char go = 0;
    ASSERT_EQ(read(ready[0], &go, 1), 1);
    kill(child, SIGSTOP);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    kill(child, SIGCONT);
    ASSERT_EQ(write(resumed[1], &go, 1), 1);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    double late[2] = {0, 0};
    ASSERT_EQ(read(measured[0], late, sizeof late), ssize_t(sizeof late));
    EXPECT_GE(late[0], 190.0) << "worst lateness across the 200 ms stop";
    EXPECT_LT(late[1], 100.0) << "worst lateness in the 20 ms before the probe was last current, before the stop";
}
