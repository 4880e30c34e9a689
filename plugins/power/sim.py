"""Placeholder; replaced by the sim power manager."""
