"""The Dagster face of the stages: `factory.build_pipeline` (assets + blocking checks + job per spec),
`definitions.build_definitions`, `fuzz` (the fuzzing job), `sensors` (the approval sensor),
`launch.run_pipeline` (what the CLI uses to run a job in process) and `executors` (Dask, scale-out).
"""
