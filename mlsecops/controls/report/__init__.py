"""The risk report: `report` builds findings, gaps and the posture trend from evidence; `render` writes
HTML, JSON, SARIF and Markdown; `atlas` is the MITRE ATLAS / framework vocabulary.
"""
