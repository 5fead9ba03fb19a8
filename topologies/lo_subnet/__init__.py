"""VIP on lo /32: a wider mask makes the LB black-hole its neighbours; ARP for the VIP stays silent."""

# What the design needs of the machine beyond the harness's own: nothing.
PROGRAMS = {}
USERS = {}
MODULES = {}
