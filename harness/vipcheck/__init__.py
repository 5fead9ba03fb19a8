"""vipcheck: proves active-active load-balancer designs on real traffic in an emulated network."""
import pkgutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the checkout: shipped scenarios, templates, FRR configs

# The compiled drivers (_core) live in the build tree: join every vipcheck/ folder on sys.path.
__path__ = pkgutil.extend_path(__path__, __name__)
