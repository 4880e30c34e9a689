"""Planner tests: pure snapshots from `tests.factories`, real policies, nothing faked."""
