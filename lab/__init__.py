"""Herald's development tooling: the provider sandboxes, the demo and the benchmarks.

Beside the production core, never imported by it: a worker runs without this package's
dependencies, which come with the ``lab`` extra (``pip install 'herald[lab]'``).
"""
