"""The pipeline stages: `framework` (Stage, StageContext, PipelineSpec), one module per stage named as
its asset (raw_data … promotion), and `chain.standard_stages()` that orders them.
"""
