"""What one run owns on the machine: its cgroup, its orphans, its private mounts, its network
and nodes, and what their kernels hold (lo_routes)."""
