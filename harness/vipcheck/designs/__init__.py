"""One folder per design under test: its scenario keys (scenario.schema.json, scenario.py), its
topology, how to build it, wait for it, drive traffic and measure it (design.py), the checks
that judge those measurements, its shipped scenarios and cases, its nightly convergence cells
where it has them (convergence.py), and a README. base.py says what the runner asks of each."""
import importlib
from pathlib import Path

# A scenario's `topology:` -> its design's folder. Adding a design adds its line here.
DESIGNS = {"ecmp": "ecmp", "lo-subnet": "lo_subnet", "dns-pairs": "dns_pairs"}


def scenario_files(kind):
    """Every design's scenario files of one kind, by name: "scenarios" (the shipped ones, which
    make run runs) or "cases" (each states its expected outcome)."""
    return {p.stem: p for p in sorted(Path(__file__).parent.glob(f"*/{kind}/*.yaml"))}


def scenario_keys(topology):
    """The design's scenario module (SCHEMA, parse): light, so validating imports no Mininet."""
    return importlib.import_module(f"vipcheck.designs.{DESIGNS[topology]}.scenario")


def design_class(topology):
    """The design's class (design.Design), which builds and measures it."""
    return importlib.import_module(f"vipcheck.designs.{DESIGNS[topology]}.design").Design


def requirements(topology):
    """What the design needs of the machine: its package's PROGRAMS, USERS and MODULES."""
    return importlib.import_module(f"vipcheck.designs.{DESIGNS[topology]}")


def convergence(topology):
    """The design's cells of the nightly convergence matrix (convergence.py), or None for a
    design that has none."""
    if not (Path(__file__).parent / DESIGNS[topology] / "convergence.py").exists():
        return None
    return importlib.import_module(f"vipcheck.designs.{DESIGNS[topology]}.convergence")
