"""The daemons a design is built from: FRR (frr.py), the service daemons (services.py), and
their config templates (templates.py)."""
