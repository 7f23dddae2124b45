"""The package version, read by hatchling at build time and by the reports."""

__all__ = ["__version__"]

__version__ = "0.1.0"
