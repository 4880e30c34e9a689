"""Placeholder; replaced by the Kubernetes backend."""
