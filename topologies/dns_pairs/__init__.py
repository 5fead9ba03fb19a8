"""DNS round-robin over two VIPs, each held by an active/standby pair (VRRP), sessions in a shared Redis."""

# What the design needs of the machine, each with the Debian package that brings it.
PROGRAMS = {"named": "bind9", "named-checkconf": "bind9-utils", "named-checkzone": "bind9-utils",
            "keepalived": "keepalived", "haproxy": "haproxy", "redis-server": "redis-server", "nft": "nftables"}
USERS = {"bind": "bind9", "redis": "redis-server", "haproxy": "haproxy"}  # its daemons run as these users
MODULES = {"redis": "python3-redis"}  # Python modules its own programs import (the session backend)
