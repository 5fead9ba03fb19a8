"""The unit tier: checks and pure functions fed recorded measurements. No root, no network, no
daemon: these run anywhere, in one pytest for the whole folder (CMakeLists.txt)."""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "harness"))
from vipcheck.designs import scenario_files  # noqa: E402

SHIPPED, CASES = scenario_files("scenarios"), scenario_files("cases")
