"""Mininet topologies, one module per design, and the scenario files that parameterise them."""
