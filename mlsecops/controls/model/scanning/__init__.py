"""Artifact scanning: `scan.scan_path` judges every file by content against an allowlist and runs
picklescan, fickling and modelscan; `formats.detect_format` says what a file is.
"""
