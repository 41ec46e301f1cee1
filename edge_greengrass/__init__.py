"""Greengrass v2 components and the gateway code they share: sources, spool, publisher, shadow sync.

See ``docs/edge.md``. Run outside Greengrass with ``python -m edge_greengrass run --config FILE``.
"""
