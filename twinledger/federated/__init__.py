"""Federated learning across lessees on Flower: the lessor's ``ServerApp``, the lessee's ``ClientApp``,
a local deployment (SuperLink and SuperNodes as processes), an in-process grid, grading and anchoring.

The maths is :mod:`twin_models.federated`; this package carries it over Flower.

Example:
    >>> from twinledger.federated.inprocess import run_inprocess
    >>> run_inprocess({"dataset": "synthetic", "clients": 2, "rounds": 1})["manifest"]["round"]
    1
"""
