"""unionvote: independent, verifiable balloting for union endorsement votes."""

__version__ = "0.1.0"
