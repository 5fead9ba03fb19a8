"""A node's kernel view comes from one `ip -j -force -batch`: its output is split into one JSON
text per command, and anything else (a command the kernel refused prints nothing) is asked
again one command at a time."""
from vipcheck.lab.forensics import _json_values

# What `ip -j -batch` printed for route, nexthop, address and neighbour in a fresh namespace.
BATCH = '[]\n[]\n[{"ifindex":1,"ifname":"lo","addr_info":[]}]\n[]\n'


def test_one_json_text_per_command():
    assert _json_values(BATCH, 4) == ["[]\n", "[]\n", '[{"ifindex":1,"ifname":"lo","addr_info":[]}]\n', "[]\n"]


def test_a_missing_or_broken_answer_asks_again():
    without_nexthops = '[]\n[{"ifindex":1,"ifname":"lo","addr_info":[]}]\n[]\n'
    assert _json_values(without_nexthops, 4) is None
    assert _json_values('[]\n[{"ifindex":1', 2) is None
