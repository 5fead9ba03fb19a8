"""Each ECMP check fails on the data a broken design produces. These feed the checks recorded
measurements directly, for the failures no shipped design produces on demand yet."""
import dataclasses
import os
import subprocess
import sys
from types import SimpleNamespace

from topologies.dns_pairs.checks import dns_answers, vrrp_failover
from topologies.dns_pairs.measurements import Takeover
from topologies.ecmp.checks import (ecmp_routes, ecmp_spread, failover_gap, flow_stickiness, no_loss, recovery,
                                    route_withdrawn)
from topologies.ecmp.measurements import EcmpMeasurements, FailoverMeasurement, Window
from topologies.ecmp.timeline import departures, first_return
from vipcheck import experiment
from vipcheck.checks import CheckResult
from vipcheck.lab.stall import Stall, cpu_wait_ns
from vipcheck.scenario import load

from conftest import CASES, SHIPPED

SCENARIO = load(SHIPPED["ecmp-basic"])
GATEWAYS = {"lb1": "10.2.0.2", "lb2": "10.2.0.6"}


def route(*lbs):
    return SimpleNamespace(present=True, protocol="ospf", nhid=1,
                           nexthops=[SimpleNamespace(gateway=GATEWAYS[lb], ifname="", weight=1) for lb in lbs])


class RecordedDelivery:
    """Stands in for traffic.Delivery with a fixed flow table."""

    def __init__(self, table, packets_per_flow=4):
        self.flow_table, self.flows, self.packets_per_flow = table, len(table), packets_per_flow
        self.received = sum(sum(seen.values()) for seen in table)
        self.sent, self.send_errors, self.send_errno, self.kernel_drops = self.flows * packets_per_flow, 0, 0, 0
        self.per_lb = {}


def measurements(table, before=("lb1", "lb2"), after=("lb1", "lb2")):
    """The design's measurements around a flow table; r1's route stood at `before` while the
    traffic flowed and at `after` once it ended."""
    vip_on_lo = [("lo", SCENARIO.vip, 32)]
    return EcmpMeasurements(SCENARIO, {"reached": True}, GATEWAYS, route(*after), [route(*before)],
                            RecordedDelivery(table), {}, {"lb1": vip_on_lo, "lb2": vip_on_lo})


def on(failover, scenario):
    """The ECMP measurements a failover check reads: the timeline's and the scenario."""
    return SimpleNamespace(failover=failover, scenario=scenario)


def test_stickiness_passes_when_every_flow_stays():
    assert flow_stickiness(measurements([{"lb1": 4}, {"lb2": 4}])).passed


def test_stickiness_fails_on_a_split_flow_and_blames_the_route_change():
    result = flow_stickiness(measurements([{"lb1": 4}, {"lb1": 2, "lb2": 2}], after=("lb1",)))
    assert not result.passed
    assert "1 flows split" in result.diagnosis and "changed during the traffic" in result.diagnosis


def test_stickiness_fails_on_a_split_flow_with_a_stable_route():
    result = flow_stickiness(measurements([{"lb1": 1, "lb2": 3}]))
    assert not result.passed and "not a function of the 5-tuple" in result.diagnosis


def test_stickiness_cannot_pass_without_arrivals():
    assert not flow_stickiness(measurements([{}, {}])).passed


def test_no_loss_fails_on_one_missing_packet():
    result = no_loss(measurements([{"lb1": 4}, {"lb2": 3}]))
    assert not result.passed and "1 lost" in result.measured


def test_routes_fail_when_the_second_router_lacks_a_path():
    m = measurements([{"lb1": 4}, {"lb2": 4}])
    m.other_routers = {"r2": (route("lb1"), GATEWAYS)}
    result = ecmp_routes(m)
    assert not result.passed and "r2: 1 nexthops (lb1)" in result.measured
    assert "lb2 missing: r2 has no OSPF path" in result.diagnosis
    m.other_routers = {"r2": (route("lb1", "lb2"), GATEWAYS)}
    assert ecmp_routes(m).passed


def recovery_after(restored_counts):
    scenario = load(SHIPPED["ecmp-failover"])
    m = FailoverMeasurement(scenario.failure, scenario.restore, 4, 5.0, restored_at_ns=1_000_000_000,
                            recovered_at_ns=2_240_000_000, lost_per_flow=[0] * len(restored_counts["lb1"]))
    m.windows["restored"] = Window("restored", restored_counts)
    return recovery(on(m, scenario))


def test_recovery_needs_flows_after_the_route_is_whole():
    assert recovery_after({"lb1": [3, 0] * 64, "lb2": [0, 3] * 64}).passed
    # The route came back, but the stream had ended: nothing shows the spread, and it says why.
    result = recovery_after({"lb1": [0] * 128, "lb2": [0] * 128})
    assert not result.passed and "stream ended before r1's route was whole again (1240.0 ms" in result.diagnosis


def unrecovered(rib, fib):
    """recovery when lb2's restore never made r1's kernel route whole: zebra's RIB and the kernel's
    route read once zebra had settled (or its wait ended)."""
    scenario = load(SHIPPED["ecmp-failover"])
    m = FailoverMeasurement(scenario.failure, scenario.restore, 4, 5.0, restored_at_ns=1_000_000_000,
                            recovery_wait_ms=5000, gateways=GATEWAYS,
                            rib_gateways=[GATEWAYS[lb] for lb in rib], fib_gateways=[GATEWAYS[lb] for lb in fib])
    m.windows["restored"] = Window("restored", {"lb1": [3, 3], "lb2": [0, 0]})
    result = recovery(on(m, scenario))
    assert not result.passed
    return result.diagnosis


def test_recovery_tells_a_rib_fib_disagreement_from_a_lost_or_slow_adjacency():
    assert "RIB and FIB disagree" in unrecovered(rib=("lb1", "lb2"), fib=("lb1",))
    # zebra never re-learned lb2 (the soak once read the RIB before it had): not a disagreement.
    lost = unrecovered(rib=("lb1",), fib=("lb1",))
    assert "did not re-learn its path" in lost and "disagree" not in lost
    late = unrecovered(rib=("lb1", "lb2"), fib=("lb1", "lb2"))
    assert "only after the recovery wait (5000 ms)" in late and "disagree" not in late


def test_a_recovery_after_the_wait_is_inconclusive_only_where_the_machine_stalled_that_long():
    """A loaded soak read "only after the recovery wait (0 ms)": lb2's FRR restart took the rest of
    the stream. r1's route, whole 800 ms after the wait ended, is late by at most that."""
    scenario = load(SHIPPED["ecmp-failover"])

    def late(whole_late_ns, stall_ms, fib=("lb1", "lb2")):
        m = FailoverMeasurement(scenario.failure, scenario.restore, 4, 5.0, restored_at_ns=1_000_000_000,
                                recovery_wait_ms=0, gateways=GATEWAYS, whole_late_ns=whole_late_ns,
                                rib_gateways=[GATEWAYS["lb1"], GATEWAYS["lb2"]], fib_gateways=[GATEWAYS[lb] for lb in fib],
                                recovery_stall=Stall(worst_timer_late_ms=stall_ms))
        m.windows["restored"] = Window("restored", {"lb1": [3, 3], "lb2": [0, 0]})
        result = recovery(on(m, scenario))
        assert not result.passed
        return result
    stalled = late(1_800_000_000, stall_ms=900)
    assert stalled.inconclusive and "explains the 800.0 ms past the bound" in stalled.diagnosis
    assert "within 800.0 ms after it" in stalled.diagnosis and stalled.details["whole_after_the_wait_ms"] == 800.0
    # Controls: a stall shorter than the lateness, a route never seen whole, a RIB the kernel disagrees with.
    assert not late(1_800_000_000, stall_ms=700).inconclusive
    assert not late(0, stall_ms=5000).inconclusive
    assert "RIB and FIB disagree" in late(0, stall_ms=5000, fib=("lb1",)).diagnosis


def test_a_return_while_the_restore_runs_is_the_restore_not_a_flap():
    """The drain's restore is a vtysh command that took 982 ms on a loaded machine, and r1 took lb2
    back while it ran: stamped only when the command returned, that return read as a flap."""
    changes = [SimpleNamespace(at_ns=at, route=route(*lbs)) for at, lbs in
               ((100, ("lb1", "lb2")), (500, ("lb1",)), (1_500, ("lb1", "lb2")))]
    lb2 = GATEWAYS["lb2"]
    assert first_return(changes, lb2, withdrawn_at_ns=500, restore_began_ns=1_000) == 0
    assert first_return(changes, lb2, withdrawn_at_ns=500, restore_began_ns=2_000) == 1_500   # a flap
    assert first_return(changes, lb2, withdrawn_at_ns=500, restore_began_ns=0) == 1_500       # no restore
    assert first_return(changes, lb2, withdrawn_at_ns=0, restore_began_ns=0) == 0             # never withdrawn


def gap_of(lost_per_flow, gap_ms_per_flow=None, router_cpu_wait_ms=0, withdrawn_at_ns=1_150_000_000,
           scenario_path=SHIPPED["ecmp-failover"]):
    """failover_gap on 4 flows, lb1's (0, 2) and lb2's (1, 3); lb2 fails, lb1's flows stay. Each
    flow lost one stretch, sent on schedule (5 ms a packet) unless its sender-clock gap is given."""
    scenario = load(scenario_path)
    gap_ms_per_flow = gap_ms_per_flow or [lost * 5.0 for lost in lost_per_flow]
    m = FailoverMeasurement(scenario.failure, scenario.restore, 1000, 5.0, failed_at_ns=1_000_000_000,
                            withdrawn_at_ns=withdrawn_at_ns, lost_per_flow=lost_per_flow,
                            flow_gaps=[SimpleNamespace(gap_ms=gap, lost=lost)
                                       for gap, lost in zip(gap_ms_per_flow, lost_per_flow)],
                            router_cpu_wait_ms=router_cpu_wait_ms)
    m.windows["before"] = Window("before", {"lb1": [9, 0, 9, 0], "lb2": [0, 9, 0, 9]})
    m.windows["failed"] = Window("failed", {"lb1": [9, 9, 9, 9], "lb2": [0, 0, 0, 0]})
    return failover_gap(on(m, scenario))


def test_a_gap_every_flow_shared_is_the_machine_not_the_design():
    result = gap_of([50, 90, 50, 90])  # lb1's flows lost 250 ms too, though lb1 never left the route
    assert not result.passed and result.inconclusive and result.verdict == "INCONCLUSIVE"
    assert result.details["stream_stall_ms"] == 250.0 and "every surviving flow lost 250.0 ms" in result.diagnosis


def test_a_slow_design_is_not_taken_for_a_stall():
    slow = gap_of([0, 90, 0, 90])
    assert not slow.passed and not slow.inconclusive and "BFD" in slow.diagnosis
    partly = gap_of([0, 90, 50, 90])  # one of lb1's flows whole: no stall that every flow shared
    assert not partly.passed and not partly.inconclusive


def test_a_gap_the_streams_end_cut_short_never_passes():
    """No restore, and r1 never withdrew lb2: its flows were lost until the stream ended, so 200 ms
    is where the stream stopped, not where the gap closed. It fails for certain, whatever stalled."""
    cut = gap_of([0, 40, 0, 40], withdrawn_at_ns=0, scenario_path=CASES["ecmp-failover-dead3"])
    assert not cut.passed and not cut.inconclusive and "cut short by the stream's end" in cut.diagnosis
    # Negative control: the same 200 ms, closed by r1's withdrawal within the 300 ms budget, passes.
    assert gap_of([0, 40, 0, 40], scenario_path=CASES["ecmp-failover-dead3"]).passed


def test_an_outage_the_sender_sent_nothing_into_is_no_measurement():
    """A soak round stopped the harness as lb2's drop took effect; it resumed 502 ms later, after
    r1's route had changed, and no flow had lost a packet: a 0 ms gap that measured nothing.
    That passed once; it is inconclusive, and measured again."""
    unsent = gap_of([0, 0, 0, 0])  # dropped for 150 ms, 30 flow intervals, and nothing lost
    assert not unsent.passed and unsent.inconclusive, unsent.diagnosis
    assert "sent none into the outage" in unsent.diagnosis and "the sender stood still 150.0 ms" in unsent.diagnosis
    # lb1's flows losing a stretch of their own does not make it the design's fault.
    assert gap_of([4, 0, 4, 0]).inconclusive
    # Controls: the same outage with packets sent into it passes; so does one shorter than a flow's
    # interval, a drain, which drops nothing, and a link_down, whose carrier loss r1's kernel sees at
    # once (a soak round's nightly read its route change after a loss-free reroute).
    assert gap_of([0, 30, 0, 30]).passed
    assert gap_of([0, 0, 0, 0], withdrawn_at_ns=1_004_000_000).passed
    assert gap_of([0, 0, 0, 0], scenario_path=CASES["ecmp-failover-drain"]).passed
    assert gap_of([0, 0, 0, 0], scenario_path=CASES["ecmp-failover-link-down"]).passed


def test_routing_daemons_kept_from_a_cpu_explain_a_late_withdrawal_only_up_to_their_wait():
    # A loaded machine: BFD 50 ms x 3 withdrew after 561 ms, though the run's "full" pressure was 241 ms.
    starved = gap_of([0, 110, 0, 110], router_cpu_wait_ms=300)  # 550 ms, 250 past the budget
    assert starved.inconclusive and "r1s routing daemons waited for a cpu 300.0 ms" in starved.diagnosis
    assert not gap_of([0, 110, 0, 110], router_cpu_wait_ms=200).inconclusive


def test_cpu_wait_counts_the_time_a_process_stood_in_a_run_queue():
    """Two busy processes on one CPU for 0.4 s: each waited while the other ran."""
    spin = "import time\nend = time.monotonic() + 0.4\nwhile time.monotonic() < end: pass\n"
    cpu = min(os.sched_getaffinity(0))
    procs = [subprocess.Popen([sys.executable, "-c", spin], preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
             for _ in range(2)]
    waited = [0, 0]
    while any(p.poll() is None for p in procs):  # the last reading before each exits
        waited = [max(w, cpu_wait_ns([p.pid])) for w, p in zip(waited, procs)]
    assert sum(waited) > 100e6, waited
    assert cpu_wait_ns([procs[0].pid]) == 0  # gone: nothing to read


def dns_probe(addresses, timeouts=0):
    answers = [SimpleNamespace(addresses=list(a), ttl=60, rtt_ns=1_000_000) for a in addresses]
    return SimpleNamespace(answers=answers, sent=len(answers) + timeouts, timeouts=timeouts)


def answered(probe, stall, records=("a", "b")):
    """dns_answers of the shipped dns-pairs design (TTL 60, a 1000 ms timeout), its zone listing
    `records`, on what the client's probe recorded."""
    scenario = dataclasses.replace(load(SHIPPED["dns-pairs"]), dns_ttl=60, dns_records=tuple(records))
    return dns_answers(SimpleNamespace(scenario=scenario, dns_probe=probe, dns_stall=stall, dns_timeout_ms=1000))


def test_a_dns_query_lost_to_its_timeout_is_the_machines_only_if_it_stalled_that_long():
    both = [("10.10.1.100", "10.10.2.100")] * 9
    stalled = answered(dns_probe(both, timeouts=1), Stall(run_cpu_full_ms=1200))
    assert stalled.inconclusive and "1 queries got no answer within 1000 ms" in stalled.diagnosis
    assert not answered(dns_probe(both, timeouts=1), Stall(run_cpu_full_ms=300)).inconclusive
    # A wrong answer is the server's, however much the machine stalled.
    one_vip = answered(dns_probe([("10.10.1.100",)] * 9), Stall(run_cpu_full_ms=5000), records=("a",))
    assert not one_vip.passed and not one_vip.inconclusive
    assert answered(dns_probe(both), Stall()).stall["stall_ms"] == 0


def failover_of_pair_a(other_per_lb, keepalived_wait_ms, holder_after=("lb-a2",)):
    """vrrp_failover of the shipped dns-pairs design (adverts 0.1 s, lb-b2's master-down 361 ms)
    after lb-a1 crashed, pair B's untouched LBs serving as given."""
    scenario = load(SHIPPED["dns-pairs"])
    f = Takeover("a", "lb-a1", "lb-a2", sent=1000, received=900, gap_ms=200.0, other_pair="b", other_sent=1000,
                 other_received=1000, other_per_lb=other_per_lb, holder_after=list(holder_after), preempt=True,
                 returned_to="lb-a1",
                 other_stall=Stall().with_witnesses(other_pairs_keepalived_waited_for_a_cpu=keepalived_wait_ms))
    return vrrp_failover(SimpleNamespace(takeover=f, scenario=scenario))


def test_the_untouched_pair_moving_is_the_machines_only_if_its_keepalived_waited_a_master_down_interval():
    # Soak, a loaded machine: "pair b was affected: 0 lost, served by lb-b1, lb-b2" failed a sound design.
    both = {"lb-b1": 600, "lb-b2": 400}
    starved = failover_of_pair_a(both, keepalived_wait_ms=400)
    assert starved.inconclusive and "keepalived waited for a cpu 400.0 ms" in starved.diagnosis
    assert not failover_of_pair_a(both, keepalived_wait_ms=100).inconclusive
    # Beside a fault the machine cannot explain, the verdict is FAIL however long it stalled.
    nobody_took_over = failover_of_pair_a(both, keepalived_wait_ms=5000, holder_after=())
    assert not nobody_took_over.passed and not nobody_took_over.inconclusive
    assert failover_of_pair_a({"lb-b1": 1000, "lb-b2": 0}, keepalived_wait_ms=0).passed


def late_takeover(run_full_ms, **witnesses):
    """vrrp_failover of the slow-adverts control (adverts 0.5 s, 1000 ms allowed): the standby took
    VIP A 1444.65 ms after the last packet at lb-a1, on a machine whose run pressure read as given."""
    scenario = load(CASES["dns-pairs-slow-adverts"])
    window = Stall(worst_timer_late_ms=49.5, run_cpu_full_ms=run_full_ms).of_processes(**witnesses)
    f = Takeover("a", "lb-a1", "lb-a2", sent=9216, received=6329, gap_ms=1444.65, other_pair="b", other_sent=9216,
                 other_received=9216, other_per_lb={"lb-b1": 9216, "lb-b2": 0}, holder_after=["lb-a2"],
                 preempt=True, returned_to="lb-a1", stall=window)
    return vrrp_failover(SimpleNamespace(takeover=f, scenario=scenario))


def test_a_late_takeover_is_judged_by_the_standbys_keepalived_not_by_the_runs_pressure():
    # Soak round 4: 511.5 ms of "full" run pressure beside another case, three times in a row, made
    # this broken design inconclusive while the standby's keepalived slept on its timer.
    quiet = late_takeover(511.5, the_standbys_keepalived_waited_for_a_cpu=3.0)
    assert not quiet.passed and not quiet.inconclusive and "exceeds 1000 ms" in quiet.diagnosis
    assert quiet.stall["run_cpu_full_ms"] == 511.5 and quiet.stall["run_pressure_judged"] is False
    starved = late_takeover(0.0, the_standbys_keepalived_waited_for_a_cpu=460.0)
    assert starved.inconclusive and "the standbys keepalived waited for a cpu 460.0 ms" in starved.diagnosis
    assert late_takeover(0.0, the_sender_stood_still=450.0).inconclusive


def test_a_sender_catching_up_does_not_stretch_the_gap():
    # Soak: the sender ran 150 ms late and sent 62 packets (310 ms of schedule) into a 160 ms outage.
    caught_up = gap_of([0, 62, 0, 62], [0, 160.0, 0, 160.0])
    assert caught_up.passed and caught_up.details["gap_ms_max"] == 160.0
    assert not gap_of([0, 62, 0, 62]).passed  # the same loss sent on schedule: 310 ms


def test_a_sender_paused_in_the_gap_is_measured_again():
    paused = gap_of([0, 20, 0, 20], [0, 400.0, 0, 400.0])  # 20 packets in 400 ms: the sender stood still
    assert not paused.passed and paused.inconclusive and "the sender stood still 295.0 ms" in paused.diagnosis


def test_an_inconclusive_run_is_measured_again_and_a_broken_one_still_fails(monkeypatch):
    def attempt(outcomes):
        runs = iter(outcomes)

        def run_once(*_args):
            passed, inconclusive = next(runs)
            result = experiment.RunResult("s", "s.yaml", f"r{len(seen)}", 1)
            result.checks = [CheckResult("failover_gap", passed, "", "", "stalled", inconclusive=inconclusive)]
            seen.append(result.run_id)
            return result
        seen = []
        monkeypatch.setattr(experiment, "_run_once", run_once)
        return experiment.run_scenario(None, seed=1), seen

    result, seen = attempt([(False, True), (True, False)])
    assert result.passed and seen == ["r0", "r1"] and result.remeasured[0]["run_id"] == "r0"
    # Inconclusive every time: never PASS, and the run says it stayed inconclusive.
    result, seen = attempt([(False, True)] * 3)
    assert not result.passed and result.inconclusive and result.verdict == "INCONCLUSIVE"
    assert len(seen) == experiment.MEASUREMENTS == 3 and len(result.remeasured) == 2
    result, seen = attempt([(False, False)])  # a design's own failure is not measured again
    assert not result.passed and seen == ["r0"] and not result.remeasured


def withdrawal(returned_at_ns, stall=None, waits=None):
    """route_withdrawn on service_down of lb2: withdrawn 48.7 ms after the failure, then taken
    back (returned_at_ns) or not (0), with no restore before the stream ended."""
    scenario = load(CASES["ecmp-failover-service-down"])
    m = FailoverMeasurement(scenario.failure, scenario.restore, 1000, 5.0, failed_at_ns=1_000_000_000,
                            withdrawn_at_ns=1_048_745_000, returned_at_ns=returned_at_ns, gateways=GATEWAYS,
                            failed_stall=stall or Stall(), failed_cpu_wait_ms=waits or {"r1": 3.0, "lb1": 1.0, "lb2": 2.0})
    return route_withdrawn(on(m, scenario))


def test_a_withdrawal_that_comes_straight_back_is_a_flap_not_a_pass():
    """Issue 18: the service-down control passed, 'lb2's nexthop left r1's route 48.745 ms after
    service_down': deleting the VIP removed the connected route, and the static one re-announced it."""
    flap = withdrawal(returned_at_ns=1_100_000_000)
    assert not flap.passed and flap.details["flap_ms"] == 51.255
    assert "a flap of 51.255 ms" in flap.diagnosis and "outlives the service" in flap.diagnosis
    stayed = withdrawal(returned_at_ns=0)  # the control: out for good is a withdrawal
    assert stayed.passed and "stayed out until the end of the stream" in stayed.measured


def test_a_flap_while_the_machine_starved_both_ends_of_a_session_is_measured_again():
    """Soak at 70a87fe beside a busy core: a drain's vtysh ran 606 ms, and meanwhile r1's BFD
    session to lb2 expired and came back (lb2's OSPF formed its adjacency with r1 again): lb2 left
    r1's route and returned 52 ms later, a flap the design did not make. Where r1's and an LB's
    routing daemons waited longer for a CPU than the design tolerates a silence (here hello 1 s,
    dead 3 s: 2 s), the flap is inconclusive; on a quiet machine it fails (the test above)."""
    starved = withdrawal(returned_at_ns=1_100_000_000, waits={"r1": 1300.0, "lb1": 10.0, "lb2": 900.0})
    assert not starved.passed and starved.inconclusive, starved.diagnosis
    assert "routing daemons at both ends waited for a cpu 2200.0 ms" in starved.diagnosis
    assert "a flap of 51.255 ms" in starved.diagnosis  # what it would be on a quiet machine
    stalled = withdrawal(returned_at_ns=1_100_000_000, stall=Stall(run_cpu_full_ms=2100.0))
    assert stalled.inconclusive and "stalled up to 2100.0 ms" in stalled.diagnosis
    short = withdrawal(returned_at_ns=1_100_000_000, waits={"r1": 1000.0, "lb2": 900.0})  # 1.9 s < 2 s
    assert not short.passed and not short.inconclusive and short.stall["stall_ms"] == 1900.0


def missed_withdrawal(stall_ms, failure_type="silent_drop"):
    """route_withdrawn when r1's route was watched 2000 ms after lb2's failure (BFD 50 ms x 3: 150 ms
    to detect) and never changed, on a machine that stalled stall_ms in the window."""
    scenario = load(SHIPPED["ecmp-failover"])
    failure = dataclasses.replace(scenario.failure, type=failure_type)
    m = FailoverMeasurement(failure, None, 1000, 5.0, failed_at_ns=1_000_000_000, withdrawal_wait_ms=2000,
                            gateways=GATEWAYS, stall=Stall(worst_timer_late_ms=stall_ms))
    return route_withdrawn(on(m, scenario))


def test_a_withdrawal_the_watch_missed_is_the_machines_only_if_it_stalled_past_the_detection():
    stalled = missed_withdrawal(1900.0)  # 1850 ms past the detection time, and the machine stood still 1900
    assert not stalled.passed and stalled.inconclusive and "did not notice in the 2000 ms" in stalled.diagnosis
    quiet = missed_withdrawal(40.0)
    assert not quiet.passed and not quiet.inconclusive and quiet.stall["stall_ms"] == 40.0
    # An announcement that outlives the service is the design's, however long the machine stalled.
    outlived = missed_withdrawal(5000.0, failure_type="service_down")
    assert not outlived.passed and not outlived.inconclusive and "outlives the service" in outlived.diagnosis


def two_clients(c1_lb, c2_lb, sysctl):
    """200 flows from each of two clients; each client's flows all on one LB."""
    table = [{c1_lb: 4}] * 200 + [{c2_lb: 4}] * 200
    m = measurements(table)
    m.sysctl = sysctl
    m.delivery.plans = [SimpleNamespace(client="c1", first_flow_id=0, src_ports=tuple(range(200))),
                        SimpleNamespace(client="c2", first_flow_id=200, src_ports=tuple(range(200)))]
    m.delivery.flows_per_lb = lambda: {lb: sum(1 for seen in table if lb in seen) for lb in GATEWAYS}
    return m


def test_ecmp_spread_judges_every_client_where_an_even_total_hides_a_pinning():
    """Each client on its own LB: the total is exactly even, and ecmp_spread fails all the same."""
    m = two_clients("lb1", "lb2", {"r1": {"net.ipv4.fib_multipath_hash_policy": 0}})
    result = ecmp_spread(m)
    assert not result.passed and "c1, c2 each land on one LB" in result.diagnosis
    assert "fib_multipath_hash_policy=0" in result.diagnosis and result.details["p_value"] == 1.0
    assert result.details["alpha_per_test"] == 1e-5 / 3  # Bonferroni: the total and two clients
    five_tuple = ecmp_spread(two_clients("lb1", "lb2", {"r1": {"net.ipv4.fib_multipath_hash_policy": 3}}))
    assert not five_tuple.passed and "although r1 hashes on the 5-tuple" in five_tuple.diagnosis
    # Both clients on one LB: the total fails too, and the cause is the same.
    same = ecmp_spread(two_clients("lb1", "lb1", {"r1": {"net.ipv4.fib_multipath_hash_policy": 0}}))
    assert not same.passed and "c1, c2 each land on one LB" in same.diagnosis


def test_ecmp_spread_passes_when_every_client_spreads():
    m = two_clients("lb1", "lb2", {})
    table = [{"lb1": 4}, {"lb2": 4}] * 200
    m.delivery.flow_table = table
    assert ecmp_spread(m).passed


def test_percentiles_interpolate_within_what_was_measured():
    from vipcheck.report import percentile
    assert percentile(range(1, 21), 0.95) == 19.05 and percentile([7.5], 0.95) == 7.5
    assert percentile([3, 1, 2], 0.5) == 2 and percentile([10, 20], 0.95) == 19.5


def test_repeat_sums_up_the_figures_each_check_reports_and_skips_what_was_not_measured():
    from vipcheck.report import repeat_stats

    def result(total, gap, detection):
        r = experiment.RunResult("s", "s.yaml", "ab12", 1, timings={"total": total})
        r.checks = [CheckResult("failover_gap", True, "", "", figures={"failover gap ms": gap}),
                    CheckResult("route_withdrawn", True, "", "", figures={"route change ms": detection})]
        return r
    stats = repeat_stats([result(2.0, 120.0, 90.0), result(3.0, 140.0, None), result(4.0, 160.0, 110.0)])
    assert list(stats) == ["total s", "failover gap ms", "route change ms"]
    assert (stats["failover gap ms"]["median"], stats["failover gap ms"]["n"]) == (140.0, 3)
    assert (stats["route change ms"]["n"], stats["route change ms"]["max"]) == (2, 110.0)  # None: not measured
    # The checks report them: a watch that missed the withdrawal measured no route change.
    assert missed_withdrawal(40.0).figures == {"route change ms": None}


def disturbed(steady_stall=None, waits=None, disturbances=((388.11, ["10.2.0.2"]), (449.97, ["10.2.0.2", "10.2.0.6"]))):
    """(failover_gap, route_withdrawn) of the shipped BFD design whose failover alone would pass,
    when r1's route dropped lb2 and took it back before lb2 failed. Soak round 4 (2026-12-03): a
    BFD session flapped on the loaded machine 250 ms before the failure and came back on 1 s
    timers, so OSPF's dead interval found lb2's failure, 806 ms after it: FAIL for a sound design."""
    scenario = load(SHIPPED["ecmp-failover"])
    m = FailoverMeasurement(scenario.failure, scenario.restore, 1000, 5.0, failed_at_ns=1_000_000_000,
                            withdrawn_at_ns=1_150_000_000, lost_per_flow=[0, 20, 0, 20],
                            flow_gaps=[SimpleNamespace(gap_ms=gap, lost=lost)
                                       for gap, lost in ((0.0, 0), (100.0, 20), (0.0, 0), (100.0, 20))],
                            gateways=GATEWAYS, steady_stall=steady_stall or Stall(),
                            disturbances=[{"at_ms": at, "nexthops": hops} for at, hops in disturbances],
                            steady_cpu_wait_ms=waits or {"r1": 2.0, "lb1": 1.0, "lb2": 1.5})
    m.windows["before"] = Window("before", {"lb1": [9, 0, 9, 0], "lb2": [0, 9, 0, 9]})
    m.windows["failed"] = Window("failed", {"lb1": [9, 9, 9, 9], "lb2": [0, 0, 0, 0]})
    return failover_gap(on(m, scenario)), route_withdrawn(on(m, scenario))


def test_a_failover_needs_a_steady_design_and_a_flap_the_machine_explains_is_measured_again():
    steady = disturbed(disturbances=())  # the control: the same failover on a steady design passes
    assert all(result.passed for result in steady), [r.diagnosis for r in steady]
    for result in disturbed():  # a quiet machine: the design flapped by itself
        assert not result.passed and not result.inconclusive, result.diagnosis
        assert "not steady when lb2 failed" in result.diagnosis and "10.2.0.2 at 388.11 ms" in result.diagnosis
        assert "detection by BFD, 50 ms x 3 may not have been armed" in result.diagnosis
        assert result.details["disturbances"][1]["at_ms"] == 449.97
    # BFD 50 ms x 3 tolerates 100 ms without a packet: a stall that long explains the flap.
    for result in disturbed(steady_stall=Stall(run_cpu_full_ms=260.0)):
        assert result.inconclusive and "explains the 100.0 ms" in result.diagnosis, result.diagnosis
    both_ends = disturbed(waits={"r1": 76.0, "lb1": 3.0, "lb2": 30.0})[0]  # r1's bfdd late, and lb2's
    assert both_ends.inconclusive and "at both ends waited for a cpu 106.0 ms" in both_ends.diagnosis
    assert not disturbed(waits={"r1": 60.0, "lb1": 3.0, "lb2": 30.0})[0].inconclusive


def test_a_departure_is_a_route_without_the_steady_paths_before_the_failure():
    def change(at_ns, *lbs):
        return SimpleNamespace(at_ns=at_ns, route=route(*lbs))
    steady = sorted(GATEWAYS.values())
    changes = [change(0, "lb1", "lb2"), change(388, "lb1"), change(450, "lb2", "lb1"), change(700, "lb1")]
    assert [c.at_ns for c in departures(changes, steady, until_ns=600)] == [388]  # lb2's flap, not the failure
    regrouped = [change(0, "lb1", "lb2"), change(300, "lb2", "lb1")]  # the same paths in a new nexthop group
    assert departures(regrouped, steady, until_ns=600) == []


def recovery_disturbed(counts, disturbances, stall=None, waits=None):
    """recovery of the shipped BFD design, r1's route whole 1669.8 ms after lb2's restore, as a
    loaded soak round measured it (2026-12-06, seed 60): lb1, which never failed, left r1's route
    704.9 ms later for 514 ms, and the window after the restore counted every flow on lb2."""
    scenario = load(SHIPPED["ecmp-failover"])
    m = FailoverMeasurement(scenario.failure, scenario.restore, 4, 5.12, restored_at_ns=2_500_872_180,
                            recovered_at_ns=4_170_638_000, gateways=GATEWAYS, lost_per_flow=[0] * 256,
                            rib_gateways=sorted(GATEWAYS.values()), fib_gateways=sorted(GATEWAYS.values()),
                            after_restore_disturbances=[{"at_ms": at, "nexthops": [GATEWAYS[lb] for lb in lbs]}
                                                        for at, lbs in disturbances],
                            after_restore_stall=stall or Stall(),
                            after_restore_cpu_wait_ms=waits or {"r1": 2.0, "lb1": 1.0, "lb2": 1.5})
    m.windows["restored"] = Window("restored", counts)
    return recovery(on(m, scenario))


def test_an_lb_that_never_failed_leaving_after_the_restore_is_named_not_counted():
    all_on_lb2 = {"lb1": [0] * 256, "lb2": [9] * 256}
    quiet = recovery_disturbed(all_on_lb2, [(4874.751, ["lb2"]), (5388.735, ["lb1", "lb2"])])
    assert not quiet.passed and not quiet.inconclusive, quiet.diagnosis  # the design flapped by itself
    assert "r1's route lost lb1, which never failed, at 4874.751 ms (to lb2)" in quiet.diagnosis
    assert "flapped after the restore" in quiet.diagnosis and len(quiet.details["disturbances"]) == 2
    # BFD 50 ms x 3 tolerates 100 ms of silence: a machine that stalled that long explains the flap.
    stalled = recovery_disturbed(all_on_lb2, [(4874.751, ["lb2"])], stall=Stall(run_cpu_full_ms=530.3))
    assert stalled.inconclusive and "explains the 100.0 ms" in stalled.diagnosis
    waited = recovery_disturbed(all_on_lb2, [(4874.751, ["lb2"])], waits={"r1": 70.0, "lb1": 40.0, "lb2": 0.0})
    assert waited.inconclusive and "at both ends waited for a cpu 110.0 ms" in waited.diagnosis
    # The returning LB leaving again once back is a flap too; an even spread on a steady route passes.
    again = recovery_disturbed({"lb1": [9, 0] * 128, "lb2": [0, 9] * 128}, [(4874.751, ["lb1"])])
    assert not again.passed and "lost lb2 again after it had come back" in again.diagnosis
    assert recovery_disturbed({"lb1": [9, 0] * 128, "lb2": [0, 9] * 128}, []).passed


def test_a_path_that_left_after_the_restore_is_a_loss_and_a_new_group_for_the_same_paths_is_not():
    from topologies.ecmp.timeline import losses

    def change(at_ns, *lbs):
        return SimpleNamespace(at_ns=at_ns, route=route(*lbs))
    changes = [change(100, "lb1"), change(400, "lb1", "lb2"), change(500, "lb2", "lb1"), change(700, "lb2")]
    assert [c.at_ns for c in losses(changes, [GATEWAYS["lb1"]], since_ns=300)] == [700]
    assert losses(changes, sorted(GATEWAYS.values()), since_ns=450) == [changes[3]]
