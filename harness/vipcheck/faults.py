"""What a failure does to a real host, for every design. Each is one atomic change (one netlink
request, one nftables transaction), in effect when the call returns: a time stamp taken on each
side of the call bounds the moment it took effect."""
from vipcheck import _core

FAULT_TABLE = "vipcheck_fault"  # the nftables table every fault of a node lives in


def link_down(node, ifname):
    """The interface goes down: the far end loses carrier at once."""
    _core.set_link_up(node.netns, ifname, False)


def set_address(node, ifname, address, prefixlen, present):
    """One address added or removed: a VIP on lo, a VIP that VRRP placed on the uplink."""
    _core.change_address(node.netns, ifname, address, prefixlen, present)


def hang(node):
    """A hung host: its links stay up, and nothing enters, leaves or crosses it. Every hook drops
    from the same instant (four separate commands took 43-66 ms to add)."""
    chains = "".join(f"  chain {hook} {{ type filter hook {hook} priority -300; policy drop; }}\n"
                     for hook in ("input", "output", "forward"))
    node.run_argv(["nft", "-f", "-"], stdin_text=f"table inet {FAULT_TABLE} {{\n{chains}}}\n")


def drop_incoming(node, protocol):
    """The host drops every incoming packet of one IP protocol (a firewall that blocks VRRP)."""
    node.run_argv(["nft", "-f", "-"], stdin_text=(
        f"table inet {FAULT_TABLE} {{\n"
        f"  chain input {{ type filter hook input priority 0; policy accept; ip protocol {protocol} drop; }}\n"
        "}\n"))


def heal(node):
    """Undoes hang or drop_incoming."""
    node.run_argv(["nft", "delete", "table", "inet", FAULT_TABLE])
