"""ECMP: every LB holds the VIP on lo and announces it with OSPF; the routers spread flows over them."""

# What the design needs of the machine, each with the Debian package that brings it.
PROGRAMS = {"vtysh": "frr", "zebra": "frr", "staticd": "frr", "ospfd": "frr", "bfdd": "frr"}
USERS = {"frr": "frr"}  # its daemons run as these users
MODULES = {}  # Python modules its own programs import
