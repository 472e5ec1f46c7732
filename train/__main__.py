"""`python -m train --shards ... --out ...` (the form `torchrun -m train` launches)."""

import sys

from train.cli import main

sys.exit(main())
