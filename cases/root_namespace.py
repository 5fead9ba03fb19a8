"""The root namespace's network state as one comparable snapshot: links, addresses, routes of
every table, rules, nexthops and the net.* sysctls. Used by the pytest fixture around every
case and, as a script, by the CTest fixture around the whole suite, C++ tests included:
    root_namespace.py snapshot FILE    then, after the suite,    root_namespace.py compare FILE
"""
import json
import os
import subprocess
import sys
from pathlib import Path

SYSCTL_TREES = ("net/ipv4", "net/ipv6", "net/core")


def _ip_json(*args):
    out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out or "[]")


def _ip_batch(*options, commands):
    """Each command's JSON from one `ip -batch`: a fork of ip costs more than its dump. Asked one
    by one instead when the batch does not give exactly one JSON array per command."""
    out = subprocess.run(["ip", "-j", *options, "-batch", "-"], input="".join(c + "\n" for c in commands),
                         capture_output=True, text=True).stdout
    decoder, values, at = json.JSONDecoder(), [], 0
    try:
        while (at := len(out) - len(out[at:].lstrip())) < len(out):  # the next value, past whitespace
            value, at = decoder.raw_decode(out, at)
            values.append(value)
    except ValueError:
        values = []
    if len(values) == len(commands) and all(isinstance(v, list) for v in values):
        return values
    return [_ip_json(*options, *command.split()) for command in commands]


def state():
    """Addresses, links, routes of every table, rules, nexthops and net sysctls of the root
    namespace, in a form two snapshots can be compared with."""
    link, addresses, rules, nexthops = _ip_batch(commands=["link", "addr", "rule", "nexthop"])
    routes6, rules6 = _ip_batch("-6", commands=["route show table all", "rule"])
    links = [{k: l.get(k) for k in ("ifname", "flags", "mtu", "address", "link_type")} for l in link]
    state = {"links": links, "addresses": addresses, "routes4": _ip_json("-4", "route", "show", "table", "all"),
             "routes6": routes6, "rules": rules, "rules6": rules6, "nexthops": nexthops}
    for entry in state["addresses"]:  # lifetimes count down by themselves
        for info in entry.get("addr_info", []):
            info.pop("valid_life_time", None)
            info.pop("preferred_life_time", None)
    state["sysctls"] = _sysctls()
    return state


def _sysctls():
    """Every readable net.* sysctl by its path. os.walk and os.read: a third of rglob and open()'s
    time over these 1,000 files, which every case reads."""
    sysctls = {}
    for tree in SYSCTL_TREES:
        for folder, _, files in os.walk(f"/proc/sys/{tree}"):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    fd = os.open(path, os.O_RDONLY)
                except OSError:  # write-only entries such as route/flush
                    continue
                try:
                    sysctls[path] = os.read(fd, 65536).decode()
                except OSError:
                    pass
                finally:
                    os.close(fd)
    return sysctls



def differences(before, after):
    return [key for key in before if after.get(key) != before[key]]


def main(argv):
    if len(argv) != 3 or argv[1] not in ("snapshot", "compare"):
        sys.exit("usage: root_namespace.py snapshot|compare FILE")
    path = Path(argv[2])
    if argv[1] == "snapshot":
        path.write_text(json.dumps(state()))
        return 0
    changed = differences(json.loads(path.read_text()), state())
    if changed:
        print(f"the test suite changed the root namespace's {', '.join(changed)}", file=sys.stderr)
        return 1
    print("root namespace: links, addresses, routes, rules, nexthops and net.* sysctls as before the suite")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
