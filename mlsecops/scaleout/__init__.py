"""Scale-out profile: Postgres-backed Dagster instance, MLflow tracking server, Dask executor workers.

    with ScaledServices.start(Home.from_env(), workers=2) as svc:
        summaries = run_concurrently(["patients", "digits"], svc)

Heavy imports (dagster-dask, distributed) happen only when this package is used; the embedded
default never imports it. Configuration files and the Kubernetes notes live in `infra/`.
"""
