"""Policy tests: hand-built snapshots from `tests.factories`, real policies, nothing faked."""
