"""ML fuzzing of the data screen: `injectors` (seeded poison), `harness` (inject, screen, train,
measure) and `pipeline` (the harness on a reference pipeline's data).
"""
