"""Deployment tooling (run from a workstation or CI, never from a Lambda)."""
