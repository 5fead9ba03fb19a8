// The Python face of the drivers: vipcheck._core. Long calls release the GIL.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <chrono>
#include <future>
#include <tuple>

#include "arp_probe.h"
#include "dns_probe.h"
#include "flow_gaps.h"
#include "tcp_wait.h"
#include "clock.h"
#include "injector.h"
#include "link_changes.h"
#include "veth_pairs.h"
#include "node_setup.h"
#include "kernel_tables.h"
#include "route_watch.h"
#include "packet_format.h"
#include "sink.h"
#include "connections.h"
#include "resilient_group.h"
#include "spread_stats.h"
#include "stall_probe.h"
#include "sysctl.h"
#include "vty.h"

namespace py = pybind11;
using namespace vipcheck;

namespace {

// How long a wait on the main thread goes without serving Python's signal handlers.
constexpr uint64_t kSignalSliceMs = 50;

// A flag any thread may set to cut a long call short: only the main thread sees signals.
struct Cancel {
    std::atomic<bool> requested{false};
};

// Runs fn(cancel_flag) off the main thread while the main thread keeps serving Python
// signals, so Ctrl-C and SIGTERM interrupt a long wait instead of waiting for it. `also`,
// when set by another thread, cancels the call too; fn then ends with its own error.
template <class Fn>
auto interruptible(Fn fn, const Cancel* also = nullptr) {
    std::atomic<bool> cancel{false};
    auto result = std::async(std::launch::async, [&]() { return fn(cancel); });
    while (true) {
        {
            py::gil_scoped_release release;
            if (result.wait_for(std::chrono::milliseconds(kSignalSliceMs)) == std::future_status::ready) break;
        }
        if (also && also->requested) cancel = true;
        if (PyErr_CheckSignals() != 0) {
            cancel = true;
            {
                py::gil_scoped_release release;
                result.wait();
            }
            throw py::error_already_set();
        }
    }
    py::gil_scoped_release release;
    return result.get();
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "vipcheck drivers: namespaces, flows, sinks, routes, statistics";

    m.def("monotonic_ns", &monotonic_ns, "CLOCK_MONOTONIC in ns, the clock every driver stamps with");

    py::class_<Cancel, std::shared_ptr<Cancel>>(m, "Cancel")
        .def(py::init<>())
        .def("set", [](Cancel& c) { c.requested = true; }, "Ask the calls given this handle to end early.")
        .def_property_readonly("is_set", [](const Cancel& c) { return c.requested.load(); });

    py::class_<InjectionReport>(m, "InjectionReport")
        .def_readonly("packets_sent", &InjectionReport::packets_sent)
        .def_readonly("send_errors", &InjectionReport::send_errors)
        .def_readonly("last_errno", &InjectionReport::last_errno)
        .def_readonly("first_send_ns", &InjectionReport::first_send_ns)
        .def_readonly("last_send_ns", &InjectionReport::last_send_ns);

    m.def(
        "inject_flows",
        [](const std::string& netns, const std::string& src_ip, const std::string& dst_ip, uint16_t dst_port,
           std::vector<uint16_t> src_ports, uint32_t first_flow_id, uint32_t packets_per_flow, double rate_pps,
           uint32_t run_tag, const Cancel* cancel) {
            InjectionPlan plan{.netns = netns, .src_ip = parse_ipv4(src_ip), .dst_ip = parse_ipv4(dst_ip),
                               .dst_port = dst_port, .src_ports = std::move(src_ports), .first_flow_id = first_flow_id,
                               .packets_per_flow = packets_per_flow, .rate_pps = rate_pps, .run_tag = run_tag};
            return interruptible(
                [&](std::atomic<bool>& stop) {
                    plan.cancel = &stop;
                    return inject_flows(plan);
                },
                cancel);
        },
        py::arg("netns"), py::arg("src_ip"), py::arg("dst_ip"), py::arg("dst_port"), py::arg("src_ports"),
        py::arg("first_flow_id"), py::arg("packets_per_flow"), py::arg("rate_pps"), py::arg("run_tag"),
        py::arg("cancel") = nullptr,
        "Send every flow's packets from the client namespace; returns what was sent. Setting `cancel` "
        "(from any thread) ends the sending early with an error.");

    py::class_<ArrivalCounter, std::shared_ptr<ArrivalCounter>>(m, "ArrivalCounter")
        .def(py::init<>())
        .def_property_readonly("total", &ArrivalCounter::total)
        .def("wait_for", &ArrivalCounter::wait_for, py::arg("expected"), py::arg("quiet_ms"), py::arg("timeout_ms"),
             py::call_guard<py::gil_scoped_release>(),
             "Block until `expected` packets arrived, none arrived for quiet_ms, or timeout_ms passed.");

    py::class_<FlowArrivals>(m, "FlowArrivals")
        .def_readonly("packets", &FlowArrivals::packets)
        .def_readonly("first_ns", &FlowArrivals::first_ns)
        .def_readonly("last_ns", &FlowArrivals::last_ns)
        .def_readonly("next_seq", &FlowArrivals::next_seq)
        .def_readonly("seq_gaps", &FlowArrivals::seq_gaps)
        .def_readonly("reordered", &FlowArrivals::reordered);

    py::class_<SinkReport>(m, "SinkReport")
        .def_readonly("flows", &SinkReport::flows)
        .def_readonly("origin_ns", &SinkReport::origin_ns)
        .def_readonly("per_ms", &SinkReport::per_ms)
        .def_readonly("packets", &SinkReport::packets)
        .def_readonly("foreign_packets", &SinkReport::foreign_packets)
        .def_readonly("kernel_drops", &SinkReport::kernel_drops)
        .def_readonly("memory_bytes", &SinkReport::memory_bytes)
        .def_readonly("answers_sent", &SinkReport::answers_sent)
        .def_readonly("answer_errors", &SinkReport::answer_errors)
        .def_readonly("answer_errno", &SinkReport::answer_errno)
        .def_property_readonly("sources", [](const SinkReport& r) {
                 py::dict out;
                 for (const auto& [address, packets] : r.sources) out[py::str(format_ipv4(address))] = packets;
                 return out;
             }, "With record_sources: source address -> packets of this run.")
        // Compact views for large runs: `flows` converts every record to a Python object.
        .def("packet_counts", [](const SinkReport& r) {
                 std::string out(r.flows.size() * sizeof(uint32_t), '\0');
                 for (size_t i = 0; i < r.flows.size(); ++i) {
                     const auto n = static_cast<uint32_t>(std::min<uint64_t>(r.flows[i].packets, UINT32_MAX));
                     std::memcpy(out.data() + i * sizeof n, &n, sizeof n);
                 }
                 return py::bytes(out);
             },
             "Packets per flow id as native uint32 (array('I').frombytes): 4 bytes a flow.")
        .def("arrivals", [](const SinkReport& r, uint32_t flow) { return r.flows.at(flow); }, py::arg("flow"),
             "One flow's record.");

    py::class_<FlowGap>(m, "FlowGap")
        .def_readonly("gap_ms", &FlowGap::gap_ms)
        .def_readonly("lost", &FlowGap::lost);

    m.def(
        "flow_gaps",
        [](const py::list& reports, uint32_t packets_per_flow, double interval_ms) {
            std::vector<const SinkReport*> sinks;
            for (const auto& report : reports) sinks.push_back(&report.cast<const SinkReport&>());
            return flow_gaps(sinks, packets_per_flow, interval_ms);
        },
        py::arg("reports"), py::arg("packets_per_flow"), py::arg("interval_ms"),
        "Per flow, the longest stretch of its packets that reached none of the sinks (recorded with "
        "record_runs), timed on the sender's clock.");

    py::class_<FlowSink>(m, "FlowSink")
        .def(py::init([](const std::string& netns, const std::string& vip, uint16_t port, uint32_t run_tag,
                         uint32_t flow_count, std::shared_ptr<ArrivalCounter> counter, bool record_runs,
                         uint16_t answer_port, bool answer_from_route, bool record_sources) {
                 SinkConfig config{netns, parse_ipv4(vip), port, run_tag, flow_count};
                 config.record_runs = record_runs;
                 config.answer_port = answer_port;
                 config.answer_from_route = answer_from_route;
                 config.record_sources = record_sources;
                 return std::make_unique<FlowSink>(config, std::move(counter));
             }),
             py::arg("netns"), py::arg("vip"), py::arg("port"), py::arg("run_tag"), py::arg("flow_count"),
             py::arg("counter"), py::arg("record_runs") = false, py::arg("answer_port") = 0,
             py::arg("answer_from_route") = false, py::arg("record_sources") = false,
             py::call_guard<py::gil_scoped_release>(),
             "Records what reaches vip:port; with answer_port, answers each datagram to its sender's "
             "answer_port, from vip (or, answer_from_route, from the route's source address).")
        .def("snapshot", &FlowSink::snapshot, py::call_guard<py::gil_scoped_release>(),
             "Packets per flow so far; the sink keeps running.")
        .def("stop", &FlowSink::stop, py::call_guard<py::gil_scoped_release>());

    py::class_<ConnectionRecord>(m, "ConnectionRecord")
        .def_readonly("id", &ConnectionRecord::id)
        .def_readonly("src_port", &ConnectionRecord::src_port)
        .def_property_readonly("state", [](const ConnectionRecord& r) {
            static const char* const kNames[] = {"opening", "open", "reset", "stalled", "closed", "failed"};
            return std::string(kNames[static_cast<int>(r.state)]);
        })
        .def_readonly("lb", &ConnectionRecord::lb)
        .def_readonly("last_lb", &ConnectionRecord::last_lb)
        .def_readonly("answers", &ConnectionRecord::answers)
        .def_readonly("opened_ns", &ConnectionRecord::opened_ns)
        .def_readonly("last_answer_ns", &ConnectionRecord::last_answer_ns)
        .def_readonly("ended_ns", &ConnectionRecord::ended_ns)
        .def_readonly("error", &ConnectionRecord::error);

    py::class_<NewConnection>(m, "NewConnection")
        .def_readonly("src_port", &NewConnection::src_port)
        .def_readonly("opened_ns", &NewConnection::opened_ns)
        .def_readonly("answered_ns", &NewConnection::answered_ns)
        .def_readonly("lb", &NewConnection::lb)
        .def_readonly("error", &NewConnection::error);

    py::class_<ConnectionsReport>(m, "ConnectionsReport")
        .def_readonly("connections", &ConnectionsReport::connections)
        .def_readonly("new_connections", &ConnectionsReport::new_connections)
        .def_readonly("requests", &ConnectionsReport::requests)
        .def_readonly("memory_bytes", &ConnectionsReport::memory_bytes);

    py::class_<Connections>(m, "Connections")
        .def(py::init([](const std::string& netns, const std::string& src_ip, const std::string& dst_ip,
                         uint16_t dst_port, std::vector<uint16_t> src_ports, uint32_t first_id,
                         uint32_t ask_interval_ms, uint32_t answer_timeout_ms, std::vector<std::string> lb_names,
                         uint32_t open_per_s, std::vector<uint16_t> new_ports, uint32_t new_every_ms) {
                 ConnectionsPlan plan{netns, parse_ipv4(src_ip), parse_ipv4(dst_ip), dst_port, std::move(src_ports),
                                      first_id, open_per_s, ask_interval_ms, answer_timeout_ms,
                                      std::move(lb_names), std::move(new_ports), new_every_ms};
                 return std::make_unique<Connections>(std::move(plan));
             }),
             py::arg("netns"), py::arg("src_ip"), py::arg("dst_ip"), py::arg("dst_port"), py::arg("src_ports"),
             py::arg("first_id"), py::arg("ask_interval_ms"), py::arg("answer_timeout_ms"), py::arg("lb_names"),
             py::arg("open_per_s") = 5000, py::arg("new_ports") = std::vector<uint16_t>{},
             py::arg("new_every_ms") = 0, py::call_guard<py::gil_scoped_release>(),
             "Long-lived TCP connections from the client to dst_ip:dst_port, one per source port, each "
             "asking once per interval; an answer's body names its LB.")
        .def("wait_open", &Connections::wait_open, py::arg("timeout_ms"), py::call_guard<py::gil_scoped_release>(),
             "Blocks until every connection opened or failed; returns how many are open.")
        .def("wait_answered", &Connections::wait_answered, py::arg("answers"), py::arg("timeout_ms"),
             py::call_guard<py::gil_scoped_release>(),
             "Blocks until every connection has `answers` answers or has ended; True if so before the timeout.")
        .def("snapshot", &Connections::snapshot, py::call_guard<py::gil_scoped_release>())
        .def("stop", &Connections::stop, py::call_guard<py::gil_scoped_release>());

    py::class_<GroupChange>(m, "GroupChange")
        .def_readonly("at_ns", &GroupChange::at_ns)
        .def_readonly("gateways", &GroupChange::gateways)
        .def_readonly("error", &GroupChange::error);

    py::class_<Bucket>(m, "Bucket")
        .def_readonly("index", &Bucket::index)
        .def_readonly("gateway", &Bucket::gateway)
        .def_readonly("idle_ms", &Bucket::idle_ms);

    py::class_<ResilientGroup>(m, "ResilientGroup")
        .def(py::init([](const std::string& netns, const std::string& vip, std::vector<std::string> gateways,
                         uint32_t table, uint32_t rule_priority, uint32_t group_id, uint16_t buckets,
                         uint32_t idle_timer_ms, uint32_t unbalanced_timer_ms) {
                 return std::make_unique<ResilientGroup>(ResilientConfig{
                     netns, parse_ipv4(vip), std::move(gateways), table, rule_priority, group_id, buckets,
                     idle_timer_ms, unbalanced_timer_ms});
             }),
             py::arg("netns"), py::arg("vip"), py::arg("gateways"), py::arg("table") = 100,
             py::arg("rule_priority") = 100, py::arg("group_id") = 9000, py::arg("buckets") = 64,
             py::arg("idle_timer_ms") = 120000, py::arg("unbalanced_timer_ms") = 0,
             py::call_guard<py::gil_scoped_release>(),
             "The VIP's route in a table of its own, through a resilient nexthop group whose members follow "
             "the gateways of the main table's route to the VIP.")
        .def("changes", &ResilientGroup::changes)
        .def("wait_for", &ResilientGroup::wait_for, py::arg("gateways"), py::arg("timeout_ms"),
             py::call_guard<py::gil_scoped_release>())
        .def("stop", &ResilientGroup::stop, py::call_guard<py::gil_scoped_release>());

    m.def("read_buckets", &read_buckets, py::arg("netns"), py::arg("group_id"), py::call_guard<py::gil_scoped_release>(),
          "Every bucket of a resilient nexthop group: index, its member's gateway, idle time.");

    py::class_<Nexthop>(m, "Nexthop")
        .def_readonly("gateway", &Nexthop::gateway)
        .def_readonly("ifindex", &Nexthop::ifindex)
        .def_readonly("ifname", &Nexthop::ifname)
        .def_readonly("weight", &Nexthop::weight);

    py::class_<VipRoute>(m, "VipRoute")
        .def_readonly("present", &VipRoute::present)
        .def_readonly("destination", &VipRoute::destination)
        .def_readonly("prefix_len", &VipRoute::prefix_len)
        .def_readonly("table", &VipRoute::table)
        .def_readonly("type", &VipRoute::type)
        .def_readonly("protocol", &VipRoute::protocol)
        .def_readonly("nhid", &VipRoute::nhid)
        .def_readonly("nexthops", &VipRoute::nexthops);

    py::class_<RouteChange>(m, "RouteChange")
        .def_readonly("at_ns", &RouteChange::at_ns)
        .def_readonly("route", &RouteChange::route);

    py::class_<RouteWait>(m, "RouteWait")
        .def_readonly("reached", &RouteWait::reached)
        .def_readonly("started_ns", &RouteWait::started_ns)
        .def_readonly("reached_ns", &RouteWait::reached_ns)
        .def_readonly("route", &RouteWait::route)
        .def_readonly("changes", &RouteWait::changes);

    py::class_<InterfaceAddress>(m, "InterfaceAddress")
        .def_readonly("ifname", &InterfaceAddress::ifname)
        .def_readonly("ifindex", &InterfaceAddress::ifindex)
        .def_readonly("address", &InterfaceAddress::address)
        .def_readonly("prefix_len", &InterfaceAddress::prefix_len);

    m.def("read_route", &read_route, py::arg("netns"), py::arg("destination"), py::arg("prefix_len") = 32,
          py::call_guard<py::gil_scoped_release>(), "The main-table route for destination/prefix_len.");

    m.def(
        "wait_for_nexthops",
        [](const std::string& netns, const std::string& destination, uint32_t prefix_len,
           std::vector<std::string> gateways, uint32_t timeout_ms) {
            return interruptible([&](std::atomic<bool>& cancel) {
                return wait_for_nexthops(netns, destination, prefix_len, gateways, timeout_ms,
                                         [&cancel]() { return cancel.load(); });
            });
        },
        py::arg("netns"), py::arg("destination"), py::arg("prefix_len"), py::arg("gateways"), py::arg("timeout_ms"),
        "Watch route events until the route is unicast via exactly `gateways`, or the timeout passes.");

    py::class_<StallWindow>(m, "StallWindow")
        .def_readonly("worst_late_ms", &StallWindow::worst_late_ms)
        .def_readonly("some_ms", &StallWindow::some_ms)
        .def_readonly("full_ms", &StallWindow::full_ms)
        .def_readonly("wakeups", &StallWindow::wakeups);
    py::class_<StallProbe>(m, "StallProbe")
        .def(py::init<std::vector<std::string>, uint32_t>(), py::arg("pressure_files"), py::arg("period_us") = 1000,
             "Starts a 1 ms timer thread that records its wake-up lateness, and samples the pressure files.")
        .def("window", &StallProbe::window, py::arg("from_ns"), py::arg("to_ns"),
             py::call_guard<py::gil_scoped_release>())
        .def("stop", &StallProbe::stop, py::call_guard<py::gil_scoped_release>());

    py::class_<RouteMonitor>(m, "RouteMonitor")
        .def(py::init<const std::string&, const std::string&, uint32_t>(), py::arg("netns"), py::arg("destination"),
             py::arg("prefix_len") = 32, py::call_guard<py::gil_scoped_release>())
        .def("changes", &RouteMonitor::changes, py::call_guard<py::gil_scoped_release>())
        .def(
            "wait_for",
            [](RouteMonitor& monitor, const std::vector<std::string>& gateways, uint64_t since_ns,
               uint32_t timeout_ms) {
                // In slices with the GIL released, serving Python's signals between them: a wait for a
                // withdrawal lasts a dead interval, and Ctrl-C must not wait for it.
                const uint64_t deadline = monotonic_ns() + uint64_t(timeout_ms) * 1'000'000;
                while (true) {
                    const uint64_t now = monotonic_ns();
                    const uint64_t left_ms = now < deadline ? (deadline - now) / 1'000'000 : 0;
                    const auto slice = uint32_t(std::min(kSignalSliceMs, left_ms));
                    std::optional<RouteChange> found;
                    {
                        py::gil_scoped_release release;
                        found = monitor.wait_for(gateways, since_ns, slice);
                    }
                    if (found || monotonic_ns() >= deadline) return found;
                    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
                }
            },
            py::arg("gateways"), py::arg("since_ns"), py::arg("timeout_ms"),
            "The first change at or after since_ns (or the state then) via exactly `gateways`, or None.")
        .def("stop", &RouteMonitor::stop, py::call_guard<py::gil_scoped_release>());

    m.def("read_addresses", &read_addresses, py::arg("netns"), py::call_guard<py::gil_scoped_release>());
    m.def("write_sysctls", &write_sysctls, py::arg("netns"), py::arg("values"),
          py::call_guard<py::gil_scoped_release>(), "(key, value) pairs in order; ValueError names a refused one.");
    m.def("read_sysctls", &read_sysctls, py::arg("netns"), py::arg("keys"), py::call_guard<py::gil_scoped_release>(),
          "(key, value) pairs as the kernel reports them now.");
    m.def("set_link_up", &set_link_up, py::arg("netns"), py::arg("ifname"), py::arg("up"),
          py::call_guard<py::gil_scoped_release>(), "One netlink request: the link up or down, in effect on return.");
    m.def("change_address", &change_address, py::arg("netns"), py::arg("ifname"), py::arg("address"),
          py::arg("prefix_len"), py::arg("add"), py::call_guard<py::gil_scoped_release>(),
          "One netlink request: the address added or deleted; False when it already was.");
    m.def(
        "add_veth_pairs",
        [](const std::vector<std::tuple<std::string, std::string, std::string, std::string>>& pairs) {
            std::vector<VethPair> plan;
            for (const auto& [netns_a, name_a, netns_b, name_b] : pairs) plan.push_back({netns_a, name_a, netns_b, name_b});
            py::gil_scoped_release release;
            add_veth_pairs(plan);
        },
        py::arg("pairs"), "(netns, name, peer netns, peer name) tuples: one netlink request a pair, both ends down.");
    m.def("add_bridge", &add_bridge, py::arg("netns"), py::arg("name"), py::arg("ports"),
          py::call_guard<py::gil_scoped_release>(), "A raised bridge without STP, these interfaces its ports.");
    m.def("add_route", &add_route, py::arg("netns"), py::arg("destination"), py::arg("prefix_len"), py::arg("gateways"),
          py::call_guard<py::gil_scoped_release>(), "One netlink request: the route via one gateway, or multipath via each.");
    m.def("wait_links_running", &wait_links_running, py::arg("netns"), py::arg("ifnames"), py::arg("timeout_ms"),
          py::call_guard<py::gil_scoped_release>(),
          "Waits on link events until each of these interfaces that is up has carrier; the names still without.");

    py::class_<RouteLookup>(m, "RouteLookup")
        .def_readonly("found", &RouteLookup::found)
        .def_readonly("destination", &RouteLookup::destination)
        .def_readonly("type", &RouteLookup::type)
        .def_readonly("ifname", &RouteLookup::ifname)
        .def_readonly("gateway", &RouteLookup::gateway)
        .def_readonly("source", &RouteLookup::source)
        .def_readonly("table", &RouteLookup::table)
        .def_readonly("error", &RouteLookup::error);

    py::class_<RouteEntry>(m, "RouteEntry")
        .def_readonly("destination", &RouteEntry::destination)
        .def_readonly("prefix_len", &RouteEntry::prefix_len)
        .def_readonly("type", &RouteEntry::type)
        .def_readonly("ifname", &RouteEntry::ifname)
        .def_readonly("table", &RouteEntry::table);

    m.def("lookup_route", &lookup_route, py::arg("netns"), py::arg("destination"),
          py::call_guard<py::gil_scoped_release>(), "What the kernel decides for destination (ip route get).");
    m.def("read_table", &read_table, py::arg("netns"), py::arg("table"), py::call_guard<py::gil_scoped_release>(),
          "Every IPv4 route of one table: 255 local, 254 main.");

    py::class_<ArpFrame>(m, "ArpFrame")
        .def_readonly("op", &ArpFrame::op)
        .def_readonly("sender_ip", &ArpFrame::sender_ip)
        .def_readonly("sender_mac", &ArpFrame::sender_mac)
        .def_readonly("target_ip", &ArpFrame::target_ip)
        .def_readonly("ifname", &ArpFrame::ifname)
        .def_readonly("at_ns", &ArpFrame::at_ns);

    py::class_<ArpWatch>(m, "ArpWatch")
        .def(py::init<const std::string&>(), py::arg("netns"), py::call_guard<py::gil_scoped_release>(),
             "Records every ARP frame the node's interfaces receive (a bridge node: its segment's).")
        .def("stop", &ArpWatch::stop, py::call_guard<py::gil_scoped_release>());

    py::class_<ArpReply>(m, "ArpReply")
        .def_readonly("sender_ip", &ArpReply::sender_ip)
        .def_readonly("sender_mac", &ArpReply::sender_mac)
        .def_readonly("at_ns", &ArpReply::at_ns);

    py::class_<ArpProbeResult>(m, "ArpProbeResult")
        .def_readonly("replies", &ArpProbeResult::replies)
        .def_readonly("requests_sent", &ArpProbeResult::requests_sent)
        .def_readonly("answered", &ArpProbeResult::answered)
        .def_readonly("listened_ns", &ArpProbeResult::listened_ns);

    m.def("probe_arp", &probe_arp, py::arg("netns"), py::arg("ifname"), py::arg("src_ip"), py::arg("targets"),
          py::arg("must_answer"), py::arg("rounds"), py::arg("grace_ms"), py::arg("timeout_ms"),
          py::call_guard<py::gil_scoped_release>(),
          "Broadcast ARP requests for targets and record every reply, with the replier's MAC.");

    py::class_<DnsAnswer>(m, "DnsAnswer")
        .def_readonly("id", &DnsAnswer::id)
        .def_readonly("rcode", &DnsAnswer::rcode)
        .def_readonly("authoritative", &DnsAnswer::authoritative)
        .def_readonly("truncated", &DnsAnswer::truncated)
        .def_readonly("addresses", &DnsAnswer::addresses)
        .def_readonly("ttl", &DnsAnswer::ttl)
        .def_readonly("rtt_ns", &DnsAnswer::rtt_ns);

    py::class_<DnsProbeResult>(m, "DnsProbeResult")
        .def_readonly("answers", &DnsProbeResult::answers)
        .def_readonly("sent", &DnsProbeResult::sent)
        .def_readonly("timeouts", &DnsProbeResult::timeouts);

    m.def("probe_dns", &probe_dns, py::arg("netns"), py::arg("server"), py::arg("port"), py::arg("name"),
          py::arg("count"), py::arg("timeout_ms"), py::arg("seed"), py::call_guard<py::gil_scoped_release>(),
          "Send `count` A queries, each with a fresh id and socket; parse every answer.");

    py::class_<TcpWait>(m, "TcpWait")
        .def_readonly("answered", &TcpWait::answered)
        .def_readonly("attempts", &TcpWait::attempts)
        .def_readonly("waited_ns", &TcpWait::waited_ns)
        .def_readonly("last_error", &TcpWait::last_error);

    m.def("wait_for_tcp", &wait_for_tcp, py::arg("netns"), py::arg("address"), py::arg("port"),
          py::arg("timeout_ms"), py::arg("retry_ms") = 5, py::call_guard<py::gil_scoped_release>(),
          "Connect until the listener accepts, or the timeout passes.");

    py::class_<VtyAnswer>(m, "VtyAnswer")
        .def_readonly("answered", &VtyAnswer::answered)
        .def_readonly("status", &VtyAnswer::status)
        .def_readonly("output", &VtyAnswer::output)
        .def_readonly("error", &VtyAnswer::error)
        .def_readonly("waited_ns", &VtyAnswer::waited_ns);

    m.def("vty_command", &vty_command, py::arg("socket_path"), py::arg("command"), py::arg("timeout_ms"),
          py::call_guard<py::gil_scoped_release>(), "Ask one FRR daemon a command on its vtysh socket.");

    py::class_<ShareEstimate>(m, "ShareEstimate")
        .def_readonly("count", &ShareEstimate::count)
        .def_readonly("expected_share", &ShareEstimate::expected_share)
        .def_readonly("share", &ShareEstimate::share)
        .def_readonly("lower", &ShareEstimate::lower)
        .def_readonly("upper", &ShareEstimate::upper);

    py::class_<SpreadTest>(m, "SpreadTest")
        .def_readonly("chi_square", &SpreadTest::chi_square)
        .def_readonly("dof", &SpreadTest::dof)
        .def_readonly("p_value", &SpreadTest::p_value)
        .def_readonly("alpha", &SpreadTest::alpha)
        .def_readonly("consistent", &SpreadTest::consistent)
        .def_readonly("shares", &SpreadTest::shares);

    m.def("test_spread", &test_spread, py::arg("counts"), py::arg("weights"), py::arg("alpha"),
          "Chi-square goodness of fit of counts against shares proportional to weights.");
    m.def("binomial_two_sided_p", &binomial_two_sided_p, py::arg("k"), py::arg("n"),
          "Exact two-sided p-value of k successes in n fair trials.");
    m.def("binomial_at_most_p", &binomial_at_most_p, py::arg("k"), py::arg("n"), py::arg("p"),
          "P(X <= k) for X binomial(n, p).");
    m.def("run_length_limit", &run_length_limit, py::arg("n"), py::arg("alpha"),
          "The smallest run length whose appearance in n fair trials has probability <= alpha (union bound).");
}
