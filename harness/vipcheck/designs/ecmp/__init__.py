"""ECMP: every LB holds the VIP on lo and announces it with OSPF; the routers spread flows over them."""
