"""Unit tests of the sandbox controllers.

Nothing is faked: pure functions get plain dicts, and the in-process tests run a
real `Sandbox(virtual=True, serve_http=False)` whose clock moves only through
`advance_to`, so no test sleeps.
"""
