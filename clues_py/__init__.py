"""clues-py: an elastic cluster manager for Kubernetes."""

__version__ = "0.1.0"
