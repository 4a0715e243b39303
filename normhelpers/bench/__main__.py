"""``python -m normhelpers.bench``: see :mod:`normhelpers.bench.cli`."""

from normhelpers.bench.cli import main

raise SystemExit(main())
