"""VIP on lo beyond pass and fail (test_designs.py runs every case's stated outcome): what the
checks read from the kernel and the wire."""
from conftest import CASES, SHIPPED, vipcheck



def test_lo_route_reads_the_kernel_not_ip_output(tmp_path):
    """The passing network's details show what netlink returned for every lookup."""
    run = vipcheck("run", SHIPPED["lo-subnet"], tmp_path=tmp_path)
    lbs = run.check("lo_route")["details"]["lbs"]
    assert set(lbs) == {"lb1", "lb2"}
    for lb in lbs.values():
        assert lb["vip_prefixlen"] == 32 and lb["vip_lookup"] == "local" and lb["wide_local"] == []
        assert {label: l["type"] for label, l in lb["lookups"].items()} == \
            {"neighbour": "unicast", "gateway": "unicast", "outside": "unicast"}


def test_arp_replies_name_each_lb_by_its_mac(tmp_path):
    run = vipcheck("run", CASES["lo-subnet-arp-flux"], tmp_path=tmp_path)
    details = run.check("arp_suppression")["details"]
    vip_repliers = {r["lb"] for r in details["replies"] if r["ip"] == "192.168.247.100"}
    assert vip_repliers == {"lb1", "lb2", "lb3"}
    own = {r["lb"]: r["ip"] for r in details["replies"] if r["ip"] != "192.168.247.100"}
    assert own == {"lb1": "192.168.247.12", "lb2": "192.168.247.13", "lb3": "192.168.247.14"}
    # The effective values are reported, both conf/all and the uplink's own.
    assert details["sysctl"]["lb1"]["arp_ignore"] == [0, 0]


def test_effective_arp_sysctls_are_in_the_result(tmp_path):
    run = vipcheck("run", SHIPPED["lo-subnet"], tmp_path=tmp_path)
    for lb in ("lb1", "lb2"):
        assert run.result["sysctl"][lb]["net.ipv4.conf.all.arp_ignore"] == 1
        assert run.result["sysctl"][lb]["net.ipv4.conf.all.arp_announce"] == 2
    assert run.result["sysctl"]["nb"]["net.ipv4.conf.all.arp_ignore"] == 0
