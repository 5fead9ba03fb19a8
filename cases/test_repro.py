"""Reproducing a failure: the artifacts a failing run leaves, the REPRO.txt command that rebuilds
the same network and flows, and the commands that keep, enter and end a network (what a failing
dns-pairs run keeps: cases/artifact_reading.py, from its test_designs.py run)."""
import csv
import json
import shlex
import struct
import subprocess
from pathlib import Path

from conftest import CASES, PYTHON, REPO, RUNS_DIR, SHIPPED, cli_env, processes_mentioning, vipcheck

VIP = "10.100.0.1"
PCAP_MAGIC = 0xA1B2C3D4
LINUX_SLL2 = 276
OSPF, UDP = 89, 17
OSPF_TYPES = {1: "ospf-hello", 2: "ospf-dbd", 3: "ospf-lsr", 4: "ospf-lsu", 5: "ospf-ack"}


def flow_map(folder):
    """flow -> (5-tuple, LB) from an artifacts folder's flow table."""
    with open(folder / "flows.csv") as f:
        return {row["flow"]: ((row["src_ip"], row["src_port"], row["dst_ip"], row["dst_port"], row["proto"]),
                              row["lb"]) for row in csv.DictReader(f)}


def packet_kinds(pcap):
    """What a pcap file written from `-i any` (LINUX_SLL2) holds, one name per packet: "arp", "udp",
    "ospf-hello", "ospf-dbd", "ospf-lsr", "ospf-lsu", "ospf-ack", or the IP protocol number."""
    data = pcap.read_bytes()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    assert magic == PCAP_MAGIC and linktype == LINUX_SLL2, (hex(magic), linktype)
    found, offset = [], 24
    while offset + 16 <= len(data):
        _, _, captured, _ = struct.unpack("<IIII", data[offset:offset + 16])
        packet = data[offset + 16:offset + 16 + captured]
        offset += 16 + captured
        ip = packet[20:]  # past the SLL2 header; its first two bytes are the EtherType
        if packet[0:2] == b"\x08\x06":
            found.append("arp")
        elif packet[0:2] == b"\x08\x00" and len(ip) > 20:
            protocol, header = ip[9], (ip[0] & 0x0F) * 4
            if protocol == OSPF and len(ip) > header + 1:
                found.append(OSPF_TYPES.get(ip[header + 1], f"ospf-{ip[header + 1]}"))
            else:
                found.append("udp" if protocol == UDP else protocol)
    return found


def repro_command(folder):
    line = next(line for line in (folder / "REPRO.txt").read_text().splitlines() if line.startswith("command: "))
    return shlex.split(line[len("command: "):])


def test_failing_run_leaves_every_artifact_and_a_repro_that_rebuilds_it(tmp_path):
    run = vipcheck("run", CASES["ecmp-lo-prefix24"], "--seed", 4242, tmp_path=tmp_path)
    assert run.status == 1 and run.failed == {"lo_route"}, run.stdout + run.stderr
    folder = Path(run.result["artifacts"])
    assert folder.parent == tmp_path / "artifacts" and f"artifacts: {folder}" in run.stdout
    for node in ("r1", "lb1", "lb2"):
        for name in ("zebra.log", "ospfd.log", "ospfd.conf", "kernel-routes.json", "kernel-nexthops.json",
                     "sysctl.txt", "addresses.json"):
            assert (folder / node / name).stat().st_size > 0, f"{node}/{name}"
        neighbours = json.loads((folder / node / "ospf-neighbours.json").read_text())["neighbors"]
        assert neighbours, f"{node}: no OSPF neighbour in the dump"
        database = json.loads((folder / node / "ospf-database.json").read_text())
        assert database["routerId"]
    r1_rib = json.loads((folder / "r1/frr-routes.json").read_text())
    assert len(r1_rib[f"{VIP}/32"][0]["nexthops"]) == 2
    r1_kernel = json.loads((folder / "r1/kernel-routes.json").read_text())
    assert any(r["dst"] == VIP and r.get("protocol") == "ospf" for r in r1_kernel)
    assert "net.ipv4.fib_multipath_hash_policy = 3" in (folder / "r1/sysctl.txt").read_text()
    # The failure itself is visible in the dump: the /24 on lo of every LB.
    lb_addresses = json.loads((folder / "lb1/addresses.json").read_text())
    assert any(a["local"] == VIP and a["prefixlen"] == 24 for i in lb_addresses for a in i["addr_info"])

    flows = flow_map(folder)
    assert len(flows) == run.result["traffic"]["flows"]
    assert {lb for _, lb in flows.values()} == {"lb1", "lb2"}
    captures = sorted((folder / "capture").glob("r1-*.pcap"))
    assert captures and sum(p.stat().st_size for p in captures) <= 32 * 2**20
    # r1's capture listens from before its daemons start: it holds the adjacencies forming (every
    # database exchange, not only the hellos that happened to fall in the stream), the first ARP
    # and the UDP flows.
    kinds = {kind for pcap in captures for kind in packet_kinds(pcap)}
    assert {"ospf-hello", "ospf-dbd", "ospf-lsu", "arp", "udp"} <= kinds, kinds
    repro = (folder / "REPRO.txt").read_text()
    assert "seed 4242" in repro and "lo_route" in repro

    # The command in REPRO.txt, run as written, fails the same way with the same flow-to-LB map.
    command = repro_command(folder)
    assert command[-2:] == ["--seed", "4242"] and Path(command[command.index("run") + 1]).is_absolute()
    replay = subprocess.run([*command, "--json", str(tmp_path / "replay.json"), "--artifacts",
                             str(tmp_path / "replay")], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            env=cli_env(), timeout=300)
    assert replay.returncode == 1, replay.stdout + replay.stderr
    again = json.loads((tmp_path / "replay.json").read_text())
    assert {c["name"] for c in again["checks"] if not c["passed"]} == {"lo_route"}
    assert flow_map(Path(again["artifacts"])) == flows

    # Negative control for the comparison: another seed gives other flows and another map.
    (tmp_path / "other").mkdir()
    other = vipcheck("run", CASES["ecmp-lo-prefix24"], "--seed", 4243, tmp_path=tmp_path / "other")
    assert flow_map(Path(other.result["artifacts"])) != flows


def held_run_id(stdout):
    headline = next(line for line in stdout.splitlines() if line.startswith("run "))
    return headline.split()[1]


def test_up_exec_vtysh_cli_down(tmp_path):
    up = vipcheck("up", SHIPPED["ecmp-basic"], "--seed", 5)
    assert up.status == 0, up.stdout + up.stderr
    run_id = held_run_id(up.stdout)
    try:
        assert f"vipcheck exec {run_id} NODE" in up.stdout and "r1" in up.stdout
        ps = vipcheck("ps")
        assert any(line.split()[:3] == [run_id, "alive", "held"] for line in ps.stdout.splitlines()), ps.stdout

        route = vipcheck("exec", run_id, "r1", "--", "ip", "-j", "route", "show", VIP)
        assert route.status == 0, route.stderr
        assert [hop["gateway"] for hop in json.loads(route.stdout)[0]["nexthops"]] == ["10.2.0.2", "10.2.0.6"]
        status = vipcheck("exec", run_id, "lb1", "--", "sh", "-c", "exit 7")
        assert status.status == 7, "exec passes the command's exit status on"

        neighbours = vipcheck("vtysh", run_id, "r1", "-c", "show ip ospf neighbor json")
        assert neighbours.status == 0, neighbours.stderr
        states = [n["state"] for ns in json.loads(neighbours.stdout)["neighbors"].values() for n in ns]
        assert len(states) == 2 and all(s.startswith("Full") for s in states), states

        cli = subprocess.run([PYTHON, "-m", "vipcheck", "cli", run_id], input=f"r1 ip route show {VIP}\nnet\nexit\n",
                             capture_output=True, text=True, env=cli_env(), cwd=REPO, timeout=60)
        assert cli.returncode == 0, cli.stderr
        shown = cli.stdout + cli.stderr  # Mininet prints node output through its logger
        assert "nexthop via" in shown and f"r1-{run_id}-eth1:lb1-{run_id}-eth0" in shown, shown

        # Wrong names are one-line errors.
        assert vipcheck("exec", run_id, "nosuchnode", "--", "true").status == 2
        assert vipcheck("vtysh", run_id, "c1", "-c", "show version").status == 2
        assert vipcheck("exec", "ffff", "r1", "--", "true").status == 2
    finally:
        down = vipcheck("down", run_id)
    assert down.status == 0, down.stderr
    assert not (RUNS_DIR / run_id).exists()
    assert not processes_mentioning(f"{RUNS_DIR / run_id}/")
    assert not processes_mentioning(f"mininet:r1-{run_id}")
    assert vipcheck("exec", run_id, "r1", "--", "true").status == 2


def test_keep_on_fail_keeps_only_a_failed_network(tmp_path):
    kept = vipcheck("run", CASES["ecmp-lo-prefix24"], "--keep-on-fail", tmp_path=tmp_path)
    assert kept.status == 1, kept.stdout + kept.stderr
    assert kept.result["artifacts"], "a kept run still writes its artifacts"
    run_id = held_run_id(kept.stdout.split("FAILED", 1)[1])
    try:
        assert "is kept up" in kept.stdout
        local = vipcheck("exec", run_id, "lb1", "--", "ip", "-j", "route", "show", "table", "local")
        assert any(r["dst"] == "10.100.0.0/24" for r in json.loads(local.stdout)), "the failure is there to look at"
    finally:
        assert vipcheck("down", run_id).status == 0
    assert not (RUNS_DIR / run_id).exists()

    (tmp_path / "passing").mkdir()
    passed = vipcheck("run", SHIPPED["ecmp-basic"], "--keep-on-fail", tmp_path=tmp_path / "passing")
    assert passed.status == 0 and "kept up" not in passed.stdout
    assert not (RUNS_DIR / passed.result["run_id"]).exists()
