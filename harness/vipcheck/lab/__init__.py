"""What one run owns on the machine: its cgroup, its orphans, its private mounts."""
