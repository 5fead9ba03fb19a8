"""The connection checks (connections_kept, rebalance), the return path and the ARP claims of the
VIP on recorded measurements: each passes what it should and fails, naming the cause, what it
should not."""
from types import SimpleNamespace

import pytest

from topologies.ecmp.checks.connections import connections_kept, hash_threshold_moved, rebalance
from topologies.ecmp.measurements import ConnectionEvent, ConnectionFates
from topologies.lo_subnet.checks import arp_suppression
from vipcheck.checks.return_path import return_path
from vipcheck.lab.answer_paths import AnswerPath, LbAnswers, ReturnPath
from vipcheck.lab.stall import Stall

LBS = ["lb1", "lb2", "lb3", "lb4"]
EVENT_NS, END_NS = 1_000_000_000, 5_000_000_000
ASK_INTERVAL_MS, ANSWER_TIMEOUT_MS = 200, 1000


def record(cid, lb, state="open", ended_ns=0, last_lb=None):
    index = LBS.index(lb) + 1
    return SimpleNamespace(id=cid, src_port=10000 + cid, state=state, lb=index,
                           last_lb=LBS.index(last_lb) + 1 if last_lb else index, answers=10,
                           opened_ns=1, last_answer_ns=2, ended_ns=ended_ns, error=0)


def fates(records, route_before, route_after, event="add", target="lb4", resilient=None, policy=3,
          new_connections=(), group_changes=(), stall=None, service_waits=None, settled_ns=EVENT_NS):
    alive = {r.id: LBS[r.lb - 1] for r in records}
    event = ConnectionEvent(event, target, EVENT_NS, END_NS, alive, list(route_before), list(route_after),
                            stall=stall or Stall(), service_cpu_wait_ms=service_waits or {}, settled_ns=settled_ns)
    return ConnectionFates(LBS, records, {r.id: ("c1", "10.1.0.2", r.src_port) for r in records}, [event],
                           list(new_connections), len(records), 0.1, 100, 4096, policy, resilient,
                           list(group_changes), ASK_INTERVAL_MS, ANSWER_TIMEOUT_MS)


def judged(f, **scenario):
    keys = {"max_broken_stayed": 0, "rebalance_within_ms": 1000, "in_service": lambda phase: LBS}
    return SimpleNamespace(connections=f, scenario=SimpleNamespace(**{**keys, **scenario}))


def test_rfc_2992_moves_half_the_hash_space_when_a_fourth_member_joins_three():
    # Thirds to quarters: lb1 keeps 3/4 of its third, lb2 1/2, lb3 1/4: half of it all moves.
    assert hash_threshold_moved([LBS[:3]], LBS, set(LBS[:3])) == pytest.approx(0.5)
    assert hash_threshold_moved([LBS], LBS, set(LBS)) == 0.0
    # Even the last member leaving moves others: quarters become thirds, lb2 loses a third of its
    # quarter to lb1 and lb3 two thirds of its own to lb2, a third of the stayed LBs' space.
    assert hash_threshold_moved([LBS], LBS[:3], set(LBS[:3])) == pytest.approx(1 / 3)


def test_rfc_2992_predicts_nothing_for_survivors_when_a_member_returns_to_its_place():
    """lb2 leaves and comes back in its old place: the regions that change on the return are the
    ones whose connections already moved (and broke) when it left."""
    without_lb2 = ["lb1", "lb3", "lb4"]
    assert hash_threshold_moved([LBS], without_lb2, set(without_lb2)) == pytest.approx(1 / 9)
    assert hash_threshold_moved([LBS, without_lb2], LBS, set(without_lb2)) == 0.0
    # Back in another place (lb2 last), it takes live connections too.
    assert hash_threshold_moved([LBS, without_lb2], [*without_lb2, "lb2"], set(without_lb2)) > 0.0


def test_an_add_that_resets_connections_of_lbs_that_stayed_fails_with_the_counts_and_the_prediction():
    records = [record(0, "lb1"), record(1, "lb2", "reset", ended_ns=2 * EVENT_NS), record(2, "lb3"), record(3, "lb3")]
    result = connections_kept(judged(fates(records, LBS[:3], LBS)))
    assert not result.passed
    assert "1 of 4 connections of LBs that stayed broke (lb2 1/1)" in result.diagnosis
    assert "hash-threshold group re-divided the hash space" in result.diagnosis
    assert result.details["events"][0]["hash_threshold_predicts"] == 2


def test_only_the_departing_lbs_connections_breaking_passes():
    records = [record(0, "lb1"), record(1, "lb2", "reset", ended_ns=2 * EVENT_NS), record(2, "lb3")]
    result = connections_kept(judged(fates(records, LBS[:3], ["lb1", "lb3"], event="link_down", target="lb2",
                                           resilient={"buckets": 64, "unbalanced_timer_ms": 0})))
    assert result.passed, result.diagnosis
    assert result.details["events"][0]["broken_departing"] == 1


def test_a_connection_that_broke_after_the_events_window_is_not_the_events():
    records = [record(0, "lb1", "stalled", ended_ns=END_NS + 1), record(1, "lb2")]
    assert connections_kept(judged(fates(records, LBS[:2], LBS[:2], event="silent_drop", target="lb2"))).passed


def test_connections_stalled_on_a_quiet_machine_fail_naming_an_lb_that_stopped_answering():
    """A hung LB that r1 still routes to: its connections stall, and a quiet window explains none."""
    records = [record(0, "lb1"), *(record(i, "lb2", "stalled", ended_ns=2 * EVENT_NS) for i in (1, 2))]
    result = connections_kept(judged(fates(records, LBS[:2], LBS[:2], event="silent_drop", target="lb2",
                                           stall=Stall(worst_timer_late_ms=3.0, run_cpu_full_ms=40.0),
                                           service_waits={"lb1": 5.0, "lb2": 0.0})))
    assert result.verdict == "FAIL"
    assert "every one stalled on its own LB" in result.diagnosis and "lb2 2/2" in result.diagnosis
    assert result.stall["stall_ms"] == 40.0


def test_connections_stalled_in_a_window_the_machine_stalled_as_long_are_inconclusive():
    """The same stalls where the run's processes waited longer than the answer budget: the machine
    may have held the answers, so the check asks to be measured again and names the stall."""
    records = [record(0, "lb1"), *(record(i, "lb2", "stalled", ended_ns=2 * EVENT_NS) for i in (1, 2))]
    loaded = Stall(worst_timer_late_ms=12.0, run_cpu_full_ms=300.0)
    result = connections_kept(judged(fates(records, LBS[:3], LBS, stall=loaded,
                                           service_waits={"lb1": 50.0, "lb2": 1200.0})))
    assert result.verdict == "INCONCLUSIVE"
    assert result.diagnosis.startswith("inconclusive: the machine stalled up to 1200.0 ms")
    assert "lb2s service waited for a cpu 1200.0 ms" in result.diagnosis
    # An LB whose connections all answered is no witness: lb1's wait alone explains nothing.
    result = connections_kept(judged(fates(records, LBS[:3], LBS, stall=loaded,
                                           service_waits={"lb1": 5000.0, "lb2": 10.0})))
    assert result.verdict == "FAIL"


def test_a_reset_beside_stalls_fails_whatever_the_machine_stalled():
    """A reset or an answer from another LB is the design's at any load: no stall excuses it."""
    stalled = [record(i, "lb2", "stalled", ended_ns=2 * EVENT_NS) for i in (1, 2)]
    loaded = Stall(worst_timer_late_ms=2000.0, run_cpu_full_ms=2000.0)
    for broken in (record(0, "lb1", "reset", ended_ns=2 * EVENT_NS), record(0, "lb1", last_lb="lb4")):
        result = connections_kept(judged(fates([broken, *stalled], LBS[:3], LBS, stall=loaded)))
        assert result.verdict == "FAIL", result.diagnosis
        assert not result.diagnosis.startswith("inconclusive")
    # Within the budget for resets, the stalls beyond it are the timed part: inconclusive.
    result = connections_kept(judged(fates([record(0, "lb1", "reset", ended_ns=2 * EVENT_NS), *stalled], LBS[:3],
                                           LBS, stall=loaded), max_broken_stayed=1))
    assert result.verdict == "INCONCLUSIVE"


def test_a_pass_whose_window_after_the_route_change_was_too_short_to_show_a_break_is_inconclusive():
    """A resilient group's unbalanced_timer moves busy buckets 1 s after the change: a route that
    changed so late that less than that and an ask was left proves nothing; nor does a last event
    that left no time for an unanswered request to time out. Early enough, it is a pass."""
    records = [record(0, "lb1"), record(1, "lb2")]
    timer = {"buckets": 128, "idle_timer_ms": 120000, "unbalanced_timer_ms": 1000}
    late = EVENT_NS + 3_000_000_000  # 1 s before the window ends
    result = connections_kept(judged(fates(records, LBS[:3], LBS, resilient=timer, settled_ns=late)))
    assert result.verdict == "INCONCLUSIVE"
    assert "took its shape 3000 ms after the add of lb4, leaving 1000 ms" in result.diagnosis
    assert "the unbalanced_timer's 1000 ms" in result.diagnosis and "stalled up to" in result.diagnosis
    in_time = EVENT_NS + 100_000_000
    assert connections_kept(judged(fates(records, LBS[:3], LBS, resilient=timer, settled_ns=in_time))).verdict == "PASS"
    # Without the timer the last event needs an ask, the answer timeout and another ask: 1.4 s.
    assert connections_kept(judged(fates(records, LBS[:3], LBS, settled_ns=late))).verdict == "INCONCLUSIVE"
    assert connections_kept(judged(fates(records, LBS[:3], LBS, settled_ns=EVENT_NS + 2_500_000_000))).verdict == "PASS"


def test_connections_moving_under_an_unchanged_route_on_policy_1_are_named_an_emulation_artifact():
    records = [record(0, "lb2", "reset", ended_ns=2 * EVENT_NS), record(1, "lb1")]
    f = fates(records, ["lb1", "lb2"], ["lb1", "lb2"], event="silent_drop", target="lb2", policy=1)
    result = connections_kept(judged(f))
    assert not result.passed and "emulation artifact" in result.diagnosis
    assert "fib_multipath_hash_policy 1" in result.diagnosis


def test_busy_connections_moved_by_a_resilient_groups_unbalanced_timer_name_the_timer():
    records = [record(0, "lb1", "reset", ended_ns=2 * EVENT_NS), record(1, "lb2")]
    f = fates(records, LBS[:3], LBS, resilient={"buckets": 128, "idle_timer_ms": 120000, "unbalanced_timer_ms": 1000})
    result = connections_kept(judged(f))
    assert "unbalanced_timer (1000 ms)" in result.diagnosis


def new_connection(at_ms, lb):
    return ("c1", SimpleNamespace(src_port=1, opened_ns=EVENT_NS + at_ms * 1_000_000,
                                  answered_ns=EVENT_NS + at_ms * 1_000_000 + 1, lb=LBS.index(lb) + 1, error=0))


def test_rebalance_passes_a_new_lb_with_its_share_and_fails_one_that_never_gets_any():
    records = [record(0, "lb1"), record(1, "lb2")]
    shared = [new_connection(1000 + 10 * i, LBS[i % 4]) for i in range(200)]
    f = fates(records, LBS[:3], LBS, resilient={"idle_timer_ms": 500}, new_connections=shared)
    assert rebalance(judged(f)).passed
    starved = [new_connection(1000 + 10 * i, LBS[i % 3]) for i in range(200)]
    result = rebalance(judged(fates(records, LBS[:3], LBS, resilient={"idle_timer_ms": 120000},
                                    new_connections=starved)))
    assert not result.passed and not result.inconclusive
    assert "idle_timer (120000 ms)" in result.diagnosis


def test_rebalance_on_too_few_new_connections_is_inconclusive_not_a_verdict():
    few = [new_connection(1000 + 10 * i, LBS[i % 3]) for i in range(10)]
    result = rebalance(judged(fates([record(0, "lb1")], LBS[:3], LBS, new_connections=few)))
    assert result.inconclusive and "lengthen duration_ms or new_count" in result.diagnosis


def path(sources, requests=64, rp_filter=0, route_to_vip="eth0", vip_prefixlen=32, refused=0):
    return SimpleNamespace(return_path=ReturnPath(
        "10.100.0.1",
        [AnswerPath("c1", "10.1.0.2", requests, sum(sources.values()), sources, "eth0", route_to_vip, rp_filter)],
        [LbAnswers("lb1", "10.2.0.2", requests - refused, refused, 101 if refused else 0, vip_prefixlen)]))


def test_return_path_names_each_cause_of_a_missing_answer():
    assert return_path(path({"10.100.0.1": 64})).passed
    assert "not the VIP" in return_path(path({"10.2.0.2": 64})).diagnosis
    assert "strict" in return_path(path({}, rp_filter=1, route_to_vip="eth1")).diagnosis
    assert "no route back" in return_path(path({}, refused=64)).diagnosis
    assert "bind the VIP as /32" in return_path(path({}, vip_prefixlen=24)).diagnosis
    assert not return_path(path({"10.100.0.1": 63})).passed


def test_an_lb_naming_the_vip_as_its_arp_sender_fails_arp_suppression_and_names_arp_announce():
    lb_macs = {"lb1": "aa:00:00:00:00:01", "lb2": "aa:00:00:00:00:02"}
    replies = [SimpleNamespace(sender_ip=ip, sender_mac=mac) for ip, mac in
               (("192.168.247.12", lb_macs["lb1"]), ("192.168.247.13", lb_macs["lb2"]))]
    m = SimpleNamespace(
        arp_probe=SimpleNamespace(replies=replies, requests_sent=2, listened_ns=1_000_000),
        scenario=SimpleNamespace(vip="192.168.247.100", lb_names=["lb1", "lb2"],
                                 lb_addresses=["192.168.247.12", "192.168.247.13"]),
        lb_macs=lb_macs, arp_sysctls={lb: {"arp_ignore": (1, 0), "arp_announce": (0, 0)} for lb in lb_macs},
        vip_arp_frames=[])
    assert arp_suppression(m).passed
    m.vip_arp_frames = [SimpleNamespace(op=1, sender_ip="192.168.247.100", sender_mac=lb_macs["lb1"],
                                        target_ip="192.168.247.2", ifname="br0")]
    result = arp_suppression(m)
    assert not result.passed and "arp_announce is 0 on lb1" in result.diagnosis
