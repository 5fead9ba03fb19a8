"""VIP on lo: the /32 rule and ARP suppression, proven on real traffic. The reference network
passes; a /24 on lo, default ARP sysctls and an unbound VIP each fail the checks they break."""
import pytest

from conftest import REPO, assert_design, vipcheck

CASES = REPO / "cases"

DESIGNS = [
    pytest.param(REPO / "topologies/lo-subnet.yaml", set(), {}, id="lo-subnet"),
    pytest.param(CASES / "lo-subnet-prefix24.yaml", {"lo_route", "lo_reachability"},
                 {"lo_route": ["lb1 holds 192.168.247.100/24 on lo: the kernel routes all of 192.168.247.0/24 "
                               "to lo, so 192.168.247.1 is unreachable from lb1 (ip route get says local)"],
                  "lo_reachability": ["lb1 holds 192.168.247.100/24 on lo", "lb2 holds 192.168.247.100/24"]},
                 id="vip-on-lo-as-24"),
    pytest.param(CASES / "lo-subnet-arp-flux.yaml", {"arp_suppression"},
                 {"arp_suppression": ["3 LBs answered ARP for the VIP: arp_ignore is 0 on lb1, lb2, lb3"]},
                 id="default-arp-sysctls"),
    pytest.param(CASES / "lo-subnet-vip-missing.yaml", {"vip_reachable", "lo_route"},
                 {"vip_reachable": ["lb2 got nothing although the gateway routes the VIP to it"],
                  "lo_route": ["lb2: VIP 192.168.247.100 is not bound on lo"]},
                 id="vip-not-bound"),
]


@pytest.mark.parametrize("scenario, must_fail, diagnosis_words", DESIGNS)
def test_design(scenario, must_fail, diagnosis_words, tmp_path):
    assert_design(scenario, must_fail, diagnosis_words, tmp_path)


def test_lo_route_reads_the_kernel_not_ip_output(tmp_path):
    """The passing network's details show what netlink returned for every lookup."""
    run = vipcheck("run", REPO / "topologies/lo-subnet.yaml", tmp_path=tmp_path)
    lbs = run.check("lo_route")["details"]["lbs"]
    assert set(lbs) == {"lb1", "lb2"}
    for lb in lbs.values():
        assert lb["vip_prefixlen"] == 32 and lb["vip_lookup"] == "local" and lb["wide_local"] == []
        assert {label: l["type"] for label, l in lb["lookups"].items()} == \
            {"neighbour": "unicast", "gateway": "unicast", "outside": "unicast"}


def test_arp_replies_name_each_lb_by_its_mac(tmp_path):
    run = vipcheck("run", CASES / "lo-subnet-arp-flux.yaml", tmp_path=tmp_path)
    details = run.check("arp_suppression")["details"]
    vip_repliers = {r["lb"] for r in details["replies"] if r["ip"] == "192.168.247.100"}
    assert vip_repliers == {"lb1", "lb2", "lb3"}
    own = {r["lb"]: r["ip"] for r in details["replies"] if r["ip"] != "192.168.247.100"}
    assert own == {"lb1": "192.168.247.12", "lb2": "192.168.247.13", "lb3": "192.168.247.14"}
    # The effective values are reported, both conf/all and the uplink's own.
    assert details["sysctl"]["lb1"]["arp_ignore"] == [0, 0]


def test_effective_arp_sysctls_are_in_the_result(tmp_path):
    run = vipcheck("run", REPO / "topologies/lo-subnet.yaml", tmp_path=tmp_path)
    for lb in ("lb1", "lb2"):
        assert run.result["sysctl"][lb]["net.ipv4.conf.all.arp_ignore"] == 1
        assert run.result["sysctl"][lb]["net.ipv4.conf.all.arp_announce"] == 2
    assert run.result["sysctl"]["nb"]["net.ipv4.conf.all.arp_ignore"] == 0
