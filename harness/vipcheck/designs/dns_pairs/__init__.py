"""DNS round-robin over two VIPs, each held by an active/standby pair (VRRP), sessions in a shared Redis."""
