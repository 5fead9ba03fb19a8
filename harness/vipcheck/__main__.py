import sys

from vipcheck.cli import main

sys.exit(main())
