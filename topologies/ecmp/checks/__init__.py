"""Every check the ECMP design can be held to, each a function of its measurements alone
(measurements.EcmpMeasurements): routes.py (convergence, the ECMP routes), spread.py (a stream
nothing disturbs), failover.py (a failure timeline), connections.py (TCP connections across its
events), and lo_route and return_path, which every design with the VIP on lo shares (vipcheck/checks/)."""
from vipcheck.checks.lo_route import lo_route
from vipcheck.checks.return_path import return_path

from .connections import connections_kept, rebalance
from .failover import failover_gap, flows_moved, recovery, route_withdrawn
from .routes import convergence, ecmp_routes
from .spread import ecmp_spread, flow_stickiness, no_loss

CHECKS = {check.__name__: check for check in (
    convergence, ecmp_routes, ecmp_spread, flow_stickiness, no_loss, lo_route,
    return_path, failover_gap, route_withdrawn, recovery, flows_moved, connections_kept, rebalance)}
