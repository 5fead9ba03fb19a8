"""The scenario loader: each design's JSON Schema fills the defaults and names every fault in
one line (the file, the key, the problem); the corpus in cases/invalid holds one file per rule."""
import pytest

from vipcheck.designs import names, scenario_keys
from vipcheck.errors import ScenarioError
from vipcheck.scenario import load
from vipcheck.schema import Validator


def write(tmp_path, text):
    path = tmp_path / "case.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path, text):
    with pytest.raises(ScenarioError) as caught:
        load(write(tmp_path, text))
    return str(caught.value)


def test_a_design_named_alone_gets_every_default(tmp_path):
    s = load(write(tmp_path, "topology: ecmp\n"))
    assert (s.lbs, s.clients, s.routers, s.vip, s.lo_prefixlen) == (2, 1, 1, "10.100.0.1", 32)
    assert (s.ospf.hello, s.ospf.dead, s.ospf.bfd, s.traffic.flows, s.traffic.rate_pps) == (1, 3, False, 2048, 100_000)
    assert s.checks == ("convergence", "ecmp_routes", "ecmp_spread", "flow_stickiness", "no_loss", "lo_route")
    assert s.sysctl == {"router": {}, "lb": {}, "client": {}} and s.name == "case"
    pairs = load(write(tmp_path, "topology: dns_pairs\npairs: {b: {segment: 10.20.0.0/24}}\n"))
    assert (pairs.pairs["a"].vip, pairs.pairs["b"].vip) == ("10.10.1.100", "10.20.0.100")  # derived, not fixed


@pytest.mark.parametrize("text, words", [
    ("topology: ecmp\nospf: {helo: 1}\n", "case.yaml: ospf.helo: unknown key (known here: bfd, cost, dead, hello"),
    ("topology: ecmp\nlbs: two\n", "lbs: must be an integer, got 'two'"),
    ("topology: ecmp\nlbs: true\n", "lbs: must be an integer, got True"),
    ("topology: ecmp\nlbs: 17\n", "lbs: must be between 2 and 16, got 17"),
    ("topology: ecmp\nannounce: bgp\n", "announce: must be stub or external, got 'bgp'"),
    ("topology: ecmp\nospf: {bfd: {interval_ms: 5}}\n", "ospf.bfd.interval_ms: must be between 10 and 60000, got 5"),
    ("topology: ecmp\nospf: {bfd: yes please}\n", "ospf.bfd: must be true, false or {interval_ms, multiplier}"),
    ("topology: ecmp\nospf: {dead: soon}\n", "ospf.dead: must be seconds (1..65535) or minimal, got 'soon'"),
    ("topology: ecmp\nchecks: [no_loss, ping]\n", "checks: unknown check 'ping' (known: convergence, ecmp_routes"),
    ("topology: ecmp\nchecks: [no_loss, no_loss]\n", "checks: lists a check twice"),
    ("topology: ecmp\nchecks: []\n", "checks: lists no check"),
    ("topology: ecmp\nfailures: [{type: drain, target: lb1}]\n", "failures[0].at_ms: missing"),
    ("topology: ecmp\nsysctl: {router: {net.ipv4.ip_forward: [1]}}\n",
     "sysctl.router.net.ipv4.ip_forward: must be a number or a short word, got [1]"),
    ("topology: dns_pairs\ndns: {records: []}\n", "dns.records: the zone must list at least one VIP"),
    ("topology: dns_pairs\nvrrp: {blocked: [c]}\n", "vrrp.blocked: unknown pair 'c' (known: a, b)"),
    ("topology: lo_subnet\nvip_route_via: [lb3]\n", "vip_route_via: unknown LB 'lb3' (known: lb1, lb2)"),
    ("- topology: ecmp\n", "case.yaml: must be a mapping of keys, got list"),
    ("name: x\n", "topology: must be one of dns_pairs, ecmp, lo_subnet, got None"),
])
def test_each_fault_is_one_line_naming_the_key(tmp_path, text, words):
    message = error_of(tmp_path, text)
    assert words in message and "\n" not in message


def test_every_design_registers_a_valid_schema_with_its_checks():
    for topology in names():
        keys = scenario_keys(topology)
        Validator.check_schema(keys.SCHEMA)  # a schema JSON Schema itself refuses raises SchemaError
        assert keys.SCHEMA["properties"]["topology"] == {"const": topology}
        assert keys.SCHEMA["additionalProperties"] is False  # an unknown key is a typo, never ignored
        assert keys.SCHEMA["properties"]["checks"]["items"]["enum"]
