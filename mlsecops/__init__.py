"""mlsecops: a governed ML training pipeline that refuses to promote what it cannot prove."""

__version__ = "0.1.0"
