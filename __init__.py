"""tierwise: rate and tier customers with declarative rules."""

__version__ = "0.1.0"
