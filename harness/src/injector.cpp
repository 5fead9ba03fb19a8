#include "injector.h"
#include "clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "netns.h"
#include "packet_format.h"

namespace vipcheck {
namespace {

constexpr size_t kMaxBatch = 64;

// Sleeps to the deadline: with the thread's timer slack at 1 us (set in inject_flows) the wake-up
// is late by the scheduler's latency alone, and a late batch is followed by the next on time,
// since deadlines are absolute. Spinning to the deadline burned most of a core per stream.
void wait_until(uint64_t deadline_ns) {
    timespec ts{time_t(deadline_ns / 1'000'000'000), long(deadline_ns % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

class RawSocket {
public:
    RawSocket() : fd_(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW)) {
        if (fd_ < 0) throw std::runtime_error(std::string("raw socket: ") + std::strerror(errno));
    }
    ~RawSocket() { ::close(fd_); }
    int fd() const { return fd_; }

private:
    int fd_;
};

}  // namespace

InjectionReport inject_flows(const InjectionPlan& plan) {
    if (plan.src_ports.empty() || plan.packets_per_flow == 0) return {};
    if (!(plan.rate_pps > 0)) throw std::invalid_argument("rate_pps must be positive");
    return run_in_netns(plan.netns, [&plan]() {
        ::prctl(PR_SET_TIMERSLACK, 1UL);  // this sending thread only; the default 50 us slack blurs the pacing
        RawSocket sock;
        InjectionReport report;
        const uint64_t flows = plan.src_ports.size();
        const uint64_t total = flows * plan.packets_per_flow;
        const double gap_ns = 1e9 / plan.rate_pps;
        // Batches of about 1 ms of traffic (at most 64 packets): a wake-up of this thread and of
        // the sinks carries a dozen packets at the failover cases' rate, not one.
        const size_t batch = std::clamp<size_t>(size_t(plan.rate_pps / 1'000), 1, kMaxBatch);

        sockaddr_in dst{};
        dst.sin_family = AF_INET;
        dst.sin_addr.s_addr = htonl(plan.dst_ip);
        std::array<std::array<uint8_t, kFrameSize>, kMaxBatch> frames{};
        std::array<iovec, kMaxBatch> iov{};
        std::array<mmsghdr, kMaxBatch> msgs{};
        for (size_t i = 0; i < kMaxBatch; ++i) {
            iov[i] = {frames[i].data(), kFrameSize};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &dst;
            msgs[i].msg_hdr.msg_namelen = sizeof dst;
        }

        const uint64_t start = monotonic_ns();
        report.first_send_ns = start;
        for (uint64_t next = 0; next < total;) {
            if (plan.cancel && plan.cancel->load()) throw std::runtime_error("injection cancelled");
            const size_t n = size_t(std::min<uint64_t>(batch, total - next));
            wait_until(start + uint64_t(double(next) * gap_ns));
            const uint64_t now = monotonic_ns();
            for (size_t i = 0; i < n; ++i) {
                const uint64_t index = next + i;
                const uint64_t flow = index % flows;
                FiveTuple tuple{plan.src_ip, plan.dst_ip, plan.src_ports[flow], plan.dst_port};
                FlowPayload payload{plan.run_tag, uint32_t(plan.first_flow_id + flow), uint32_t(index / flows), now};
                build_udp_frame(tuple, payload, frames[i]);
            }
            size_t done = 0;
            while (done < n) {
                int sent = ::sendmmsg(sock.fd(), msgs.data() + done, unsigned(n - done), 0);
                if (sent > 0) {
                    done += size_t(sent);
                    report.packets_sent += uint64_t(sent);
                } else if (errno != EINTR) {
                    // The first message of the rest was refused: count it and go on.
                    report.last_errno = errno;
                    ++report.send_errors;
                    ++done;
                }
            }
            next += n;
        }
        report.last_send_ns = monotonic_ns();
        return report;
    });
}

}  // namespace vipcheck
