"""The fuzzing harness as a Dagster job per pipeline: `<pipeline>_fuzz` (launchpad config: attacks, rates, seed).

    job = build_fuzz_job(PATIENTS)      # one op; writes fuzz.json + fuzz.png under artifacts/<pipeline>/fuzz/
"""


import dagster as dg

from mlsecops.fuzzing.harness import ATTACKS
from mlsecops.stages.framework import PipelineSpec
from mlsecops.resources import MlsecopsResource


class FuzzRunConfig(dg.Config):
    attacks: list[str] = list(ATTACKS)
    rates: list[float] = [0.01, 0.02, 0.05, 0.1]
    seed: int = 0


def build_fuzz_job(spec: PipelineSpec) -> dg.JobDefinition:
    @dg.op(name=f"{spec.name}_fuzz_harness", description=f"Poison {spec.name}'s training data, screen, train, measure.")
    def _fuzz(context: dg.OpExecutionContext, config: FuzzRunConfig, mlsecops: MlsecopsResource) -> None:
        from mlsecops.fuzzing.pipeline import fuzz_pipeline
        from mlsecops.policy import load_policy

        result = fuzz_pipeline(spec.name, attacks=config.attacks, rates=config.rates, seed=config.seed,
                               home=mlsecops.home_dirs(), policy=load_policy(mlsecops.policy_path or None),
                               out_dir=mlsecops.home_dirs().artifacts / spec.name / "fuzz" / context.run_id,
                               progress=context.log.info)
        rows = result.report.to_dict()["results"]
        context.add_output_metadata({
            "report": dg.MetadataValue.path(str(result.json_path)),
            "plot": dg.MetadataValue.path(str(result.png_path)),
            "results": dg.MetadataValue.json(rows)})
        for row in rows:
            context.log.info(f"{row['attack']} @ {row['rate']}: recall {row['recall']} precision {row['precision']} "
                             f"ASR {row['asr_unscreened']} -> {row['asr_screened']}")

    @dg.job(name=f"{spec.name}_fuzz", description=f"ML fuzzing harness for the {spec.name} pipeline's data screen.")
    def _job() -> None:
        _fuzz()

    return _job
