"""`python -m benchmarks …`: the same as `credit-dw bench …`."""

import sys

from benchmarks.bench import main

sys.exit(main())
