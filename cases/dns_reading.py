"""What a dns-pairs run that asks DNS checks alone shows beyond its verdict, read from the run
test_designs.py makes of it: it built the path from the client to named and nothing else."""


def assert_only_the_dns_path_is_built(run):
    assert set(run.result["sysctl"]) == {"c1", "dns", "r1"}, sorted(run.result["sysctl"])
    assert run.result["convergence"]["masters"] == {}  # no pair, so no VRRP master to wait for
    assert run.result["traffic"]["dns_answers"] == 200
