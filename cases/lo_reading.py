"""What the VIP-on-lo design's runs show beyond pass and fail, read from the runs test_designs.py
makes of them: what its checks read from the kernel and the wire."""


def assert_lookups_and_sysctls_come_from_the_kernel(run):
    """The passing network's details show what netlink returned for every lookup, and the result
    the effective ARP sysctls of every node."""
    lbs = run.check("lo_route")["details"]["lbs"]
    assert set(lbs) == {"lb1", "lb2"}
    for lb in lbs.values():
        assert lb["vip_prefixlen"] == 32 and lb["vip_lookup"] == "local" and lb["wide_local"] == []
        assert {label: l["type"] for label, l in lb["lookups"].items()} == \
            {"neighbour": "unicast", "gateway": "unicast", "outside": "unicast"}
    for lb in ("lb1", "lb2"):
        assert run.result["sysctl"][lb]["net.ipv4.conf.all.arp_ignore"] == 1
        assert run.result["sysctl"][lb]["net.ipv4.conf.all.arp_announce"] == 2
    assert run.result["sysctl"]["nb"]["net.ipv4.conf.all.arp_ignore"] == 0


def assert_arp_replies_name_each_lb_by_its_mac(run):
    details = run.check("arp_suppression")["details"]
    vip_repliers = {r["lb"] for r in details["replies"] if r["ip"] == "192.168.247.100"}
    assert vip_repliers == {"lb1", "lb2", "lb3"}
    own = {r["lb"]: r["ip"] for r in details["replies"] if r["ip"] != "192.168.247.100"}
    assert own == {"lb1": "192.168.247.12", "lb2": "192.168.247.13", "lb3": "192.168.247.14"}
    # The effective values are reported, both conf/all and the uplink's own.
    assert details["sysctl"]["lb1"]["arp_ignore"] == [0, 0]
