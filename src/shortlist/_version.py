"""Single source of the package version (also written into index manifests)."""

__version__ = "0.1.0"
