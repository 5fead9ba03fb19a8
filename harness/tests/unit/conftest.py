"""The unit tier: checks and pure functions fed recorded measurements. No root, no network, no
daemon: these run anywhere, in one pytest for the whole folder (CMakeLists.txt)."""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "harness"))
DESIGNS = REPO / "harness/vipcheck/designs"
SHIPPED = {p.stem: p for p in sorted(DESIGNS.glob("*/scenarios/*.yaml"))}
CASES = {p.stem: p for p in sorted(DESIGNS.glob("*/cases/*.yaml"))}
