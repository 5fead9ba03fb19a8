"""Every random choice of a run comes from its seed, each through a stream of its own, so the
same seed gives the same router hash, flows, probes and failure times, whatever else changes."""
import random

STREAMS = {"router_hash": 0, "flows": 1, "reachability": 2, "vrrp_stream": 3, "failure_times": 4, "connections": 5}


def rng(seed, stream):
    return random.Random(seed + STREAMS[stream])
