#include "sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <stdexcept>

#include "clock.h"
#include "netns.h"
#include "packet_format.h"

namespace vipcheck {
namespace {

constexpr size_t kBatch = 64;
constexpr size_t kMaxDatagram = 2048;

std::runtime_error sys_error(const std::string& what) {
    return std::runtime_error(what + ": " + std::strerror(errno));
}

void count_source(std::vector<std::pair<uint32_t, uint64_t>>& sources, uint32_t address) {
    for (auto& [known, packets] : sources) {
        if (known == address) {
            ++packets;
            return;
        }
    }
    sources.emplace_back(address, 1);  // a handful of sources at most: the VIP, or what answered instead
}

// One receive batch's answers: the request's payload back to its sender's answer port, sent with
// one sendmmsg; a message the kernel refuses (no route back) is counted and skipped.
struct Answers {
    std::array<std::array<uint8_t, kPayloadSize>, kBatch> payloads{};
    std::array<sockaddr_in, kBatch> to{};
    std::array<iovec, kBatch> iov{};
    std::array<mmsghdr, kBatch> msgs{};
    size_t count = 0;
    uint64_t sent = 0, errors = 0;
    int last_errno = 0;

    void add(uint32_t address_network_order, uint16_t port, const uint8_t* payload) {
        std::memcpy(payloads[count].data(), payload, kPayloadSize);
        to[count] = {};
        to[count].sin_family = AF_INET;
        to[count].sin_port = htons(port);
        to[count].sin_addr.s_addr = address_network_order;
        iov[count] = {payloads[count].data(), kPayloadSize};
        msgs[count].msg_hdr = {};
        msgs[count].msg_hdr.msg_name = &to[count];
        msgs[count].msg_hdr.msg_namelen = sizeof(sockaddr_in);
        msgs[count].msg_hdr.msg_iov = &iov[count];
        msgs[count].msg_hdr.msg_iovlen = 1;
        ++count;
    }

    void send(int sock) {
        size_t at = 0;
        while (at < count) {
            const int n = ::sendmmsg(sock, msgs.data() + at, unsigned(count - at), 0);
            if (n > 0) {
                sent += uint64_t(n);
                at += size_t(n);
            } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                pollfd out{sock, POLLOUT, 0};
                ::poll(&out, 1, 10);
            } else {  // the message at `at` was refused: count it, go on with the rest
                ++errors;
                last_errno = errno;
                ++at;
            }
        }
    }

    void clear() { count = 0, sent = 0, errors = 0, last_errno = 0; }
};

void record_run(FlowRuns& flow, uint32_t seq, uint64_t send_ns) {
    if (!flow.runs.empty()) {
        SeqRun& last = flow.runs.back();
        if (seq == last.last_seq + 1) {
            last.last_seq = seq;
            last.last_send_ns = send_ns;
            return;
        }
        if (seq <= last.last_seq) return;  // late or duplicate: the hole it fills stays counted
    }
    if (flow.runs.size() == kMaxRunsPerFlow) {
        flow.overflowed = true;
        return;
    }
    flow.runs.push_back({seq, seq, send_ns, send_ns});
}

}  // namespace

void ArrivalCounter::add(uint64_t packets, uint64_t now_ns) {
    {
        std::lock_guard lock(mutex_);
        total_ += packets;
        last_arrival_ns_ = now_ns;
    }
    changed_.notify_all();
}

uint64_t ArrivalCounter::total() const {
    std::lock_guard lock(mutex_);
    return total_;
}

uint64_t ArrivalCounter::wait_for(uint64_t expected, uint32_t quiet_ms, uint32_t timeout_ms) {
    const uint64_t start = monotonic_ns();
    const uint64_t deadline = start + uint64_t(timeout_ms) * 1'000'000;
    std::unique_lock lock(mutex_);
    while (total_ < expected) {
        const uint64_t now = monotonic_ns();
        const uint64_t quiet_from = std::max(last_arrival_ns_, start);
        const uint64_t quiet_end = quiet_from + uint64_t(quiet_ms) * 1'000'000;
        const uint64_t wake = std::min(deadline, quiet_end);
        if (now >= wake) break;
        changed_.wait_for(lock, std::chrono::nanoseconds(wake - now));
    }
    return total_;
}

FlowSink::FlowSink(SinkConfig config, std::shared_ptr<ArrivalCounter> counter)
    : config_(std::move(config)), counter_(std::move(counter)) {
    report_.flows.resize(config_.flow_count);
    if (config_.record_runs) report_.runs.resize(config_.flow_count);
    report_.origin_ns = monotonic_ns();
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) throw sys_error("eventfd");
    std::promise<void> bound;
    auto bound_future = bound.get_future();
    thread_ = std::thread([this, &bound]() {
        int sock = -1;
        try {
            NetnsFd ns(config_.netns);
            enter_netns(ns);
            sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            if (sock < 0) throw sys_error("sink socket");
            int one = 1;
            // FREEBIND: the sink listens even where the design forgot the VIP, so loss shows as loss.
            if (::setsockopt(sock, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) != 0) throw sys_error("IP_FREEBIND");
            if (::setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &config_.rcvbuf_bytes, sizeof(int)) != 0) {
                throw sys_error("SO_RCVBUFFORCE");
            }
            if (::setsockopt(sock, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0) throw sys_error("SO_RXQ_OVFL");
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(config_.port);
            addr.sin_addr.s_addr = config_.answer_from_route ? htonl(INADDR_ANY) : htonl(config_.vip);
            if (::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
                throw sys_error("bind " + format_ipv4(config_.vip) + ":" + std::to_string(config_.port));
            }
        } catch (...) {
            if (sock >= 0) ::close(sock);
            bound.set_exception(std::current_exception());
            return;
        }
        bound.set_value();
        receive_loop(sock);
        ::close(sock);
    });
    await_setup(bound_future, thread_, stop_fd_);
}

FlowSink::~FlowSink() {
    if (!stopped_) stop();
    ::close(stop_fd_);
}

void FlowSink::receive_loop(int sock) {
    std::array<std::array<uint8_t, kMaxDatagram>, kBatch> buffers{};
    std::array<iovec, kBatch> iov{};
    std::array<mmsghdr, kBatch> msgs{};
    std::array<std::array<char, CMSG_SPACE(sizeof(uint32_t))>, kBatch> controls{};
    std::array<sockaddr_in, kBatch> senders{};
    Answers answers;
    pollfd fds[2] = {{sock, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    bool stopping = false;
    while (true) {
        for (size_t i = 0; i < kBatch; ++i) {
            iov[i] = {buffers[i].data(), kMaxDatagram};
            msgs[i].msg_hdr = {};
            msgs[i].msg_hdr.msg_name = &senders[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = controls[i].data();
            msgs[i].msg_hdr.msg_controllen = controls[i].size();
        }
        int n = ::recvmmsg(sock, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
        if (n > 0) {
            const uint64_t now = monotonic_ns();
            uint64_t ours = 0;
            std::unique_lock lock(report_mutex_);
            for (int i = 0; i < n; ++i) {
                for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
                    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
                        uint32_t dropped = 0;
                        std::memcpy(&dropped, CMSG_DATA(c), sizeof dropped);
                        report_.kernel_drops = dropped;
                    }
                }
                auto payload = decode_payload({buffers[i].data(), msgs[i].msg_len});
                if (!payload || payload->run_tag != config_.run_tag || payload->flow_id >= config_.flow_count) {
                    ++report_.foreign_packets;
                    continue;
                }
                FlowArrivals& flow = report_.flows[payload->flow_id];
                if (flow.packets == 0) flow.first_ns = now;
                flow.last_ns = now;
                ++flow.packets;
                if (payload->seq >= flow.next_seq) {
                    flow.seq_gaps += payload->seq - flow.next_seq;
                    flow.next_seq = payload->seq + 1;
                } else {
                    ++flow.reordered;
                }
                if (config_.record_runs) record_run(report_.runs[payload->flow_id], payload->seq, payload->send_ns);
                if (config_.record_sources) count_source(report_.sources, ntohl(senders[i].sin_addr.s_addr));
                if (config_.answer_port) answers.add(senders[i].sin_addr.s_addr, config_.answer_port, buffers[i].data());
                ++ours;
            }
            report_.packets += ours;
            if (ours) {
                const uint64_t bucket = (now - report_.origin_ns) / 1'000'000;
                if (bucket < config_.max_timeline_ms) {
                    if (report_.per_ms.size() <= bucket) report_.per_ms.resize(bucket + 1, 0);
                    report_.per_ms[bucket] += uint32_t(ours);
                }
            }
            lock.unlock();
            if (ours) counter_->add(ours, now);
            if (answers.count) {
                answers.send(sock);
                std::lock_guard report_lock(report_mutex_);
                report_.answers_sent += answers.sent;
                report_.answer_errors += answers.errors;
                if (answers.last_errno) report_.answer_errno = answers.last_errno;
                answers.clear();
            }
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
        if (stopping) break;  // the queue is drained
        ::poll(fds, 2, -1);
        if (fds[1].revents & POLLIN) stopping = true;
    }
}

std::vector<uint64_t> FlowSink::snapshot() const {
    std::lock_guard lock(report_mutex_);
    std::vector<uint64_t> packets(report_.flows.size());
    for (size_t i = 0; i < packets.size(); ++i) packets[i] = report_.flows[i].packets;
    return packets;
}

SinkReport FlowSink::stop() {
    if (stopped_) throw std::logic_error("sink already stopped");
    uint64_t one = 1;
    if (::write(stop_fd_, &one, sizeof one) != sizeof one) throw sys_error("eventfd write");
    thread_.join();
    stopped_ = true;
    report_.memory_bytes = report_.flows.capacity() * sizeof(FlowArrivals) +
                           report_.per_ms.capacity() * sizeof(uint32_t) + sizeof(SinkReport) +
                           report_.runs.capacity() * sizeof(FlowRuns);
    for (const FlowRuns& flow : report_.runs) report_.memory_bytes += flow.runs.capacity() * sizeof(SeqRun);
    return std::move(report_);
}

}  // namespace vipcheck
