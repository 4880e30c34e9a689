"""Unit tests of the Kubernetes backend's pure parts: JSON dicts in, model values out. Nothing is faked."""
