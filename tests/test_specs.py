"""Bring your own data and model: spec files, `mlsecops init`, discovery, custom `module:Class` models.

Three datasets the project did not make, each onboarded with `mlsecops init` and run end to end
through Dagster to "awaiting approval" with every check real:
  - vega_datasets `cars` (CSV inside the package): missing values, string labels, a categorical
    feature (Cylinders), an identity column (Name) and a date timestamp;
  - vega_datasets `seattle-weather`: five string classes, one rare; default gates that this data
    cannot meet become explicit accepted-risk entries;
  - scikit-learn's wine saved as CSV with messy column names, trained with the team's own torch
    model `mynets.tiny:TinyNet` from a folder outside the package.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import check_results, make_env, materialized

TINY_NET = '''"""A team's own torch model, outside the mlsecops package."""
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, in_features: int, classes: int, width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, width), nn.Tanh(), nn.Linear(width, classes))

    def forward(self, x):
        return self.body(x)


class NotAModule:
    def __init__(self, in_features, classes):
        pass


class WrongShape(nn.Module):
    def __init__(self, in_features: int, classes: int) -> None:
        super().__init__()
        self.lin = nn.Linear(in_features, classes + 1)

    def forward(self, x):
        return self.lin(x)
'''

# Small budgets for the test machine (policy overrides in the spec, as a team would set them)
FAST = "policy: {training: {epochs: 25}, adversarial: {samples: 60, hopskipjump: {samples: 4}, membership: {bootstrap: 50}}}\n"


def _datasets(root: Path) -> dict[str, tuple[Path, str]]:
    from sklearn.datasets import load_wine
    from vega_datasets import local_data

    data = root / "data"
    data.mkdir()
    local_data.cars().to_csv(data / "cars.csv", index=False)
    local_data.seattle_weather().to_csv(data / "seattle_weather.csv", index=False)
    wine = load_wine(as_frame=True).frame
    wine.columns = [c.replace("_", " ").title() + (" (%)" if c == "alcohol" else "") for c in wine.columns[:-1]] + ["Cultivar"]
    wine["Cultivar"] = wine["Cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    wine.to_csv(data / "wine.csv", index=False)
    project = root / "project" / "mynets"
    project.mkdir(parents=True)
    (project / "tiny.py").write_text(TINY_NET)
    return {"cars": (data / "cars.csv", "Origin"), "weather": (data / "seattle_weather.csv", "weather"),
            "wine": (data / "wine.csv", "Cultivar")}


def _init(*args: str) -> str:
    from mlsecops.cli import app

    result = CliRunner().invoke(app, ["init", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _with_policy(spec: Path, extra: str) -> None:
    text = spec.read_text()
    spec.write_text(text.replace("\npolicy: ", "\n# init's budgets: ") + extra)


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory: pytest.TempPathFactory):
    """init + one Dagster run per dataset (module scope: each dataset runs once)."""
    root = tmp_path_factory.mktemp("byod")
    sources = _datasets(root)
    pipelines = root / "pipelines"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLSECOPS_PIPELINES", str(pipelines))
        mp.setenv("MLSECOPS_HOME", str(root / "home"))
        timings, outputs = {}, {}
        for name, (path, target) in sources.items():
            started = time.monotonic()
            outputs[name] = _init(str(path), "--target", target, "--name", name)
            spec = pipelines / f"{name}.yaml"
            text = spec.read_text()
            budgets = text.split("\npolicy: ", 1)[1].splitlines()[0] if "\npolicy: " in text else ""
            # what a team edits by hand: small budgets for this machine; wine uses its own model
            extra = FAST if not budgets else FAST.replace("adversarial: {", "adversarial: {extraction: {queries: [10, 25, 50, 100]}, ")
            _with_policy(spec, extra)
            if name == "wine":
                spec.write_text(spec.read_text().replace(
                    "model: {architecture: mlp, kwargs: {hidden: 32}}",
                    'model: {architecture: "mynets.tiny:TinyNet", path: "../project", kwargs: {width: 16}}'))
            timings[name] = time.monotonic() - started
        env = make_env(root / "home")
        results = {}
        for name in sources:
            started = time.monotonic()
            results[name] = env.run(name)
            timings[name] += time.monotonic() - started
        yield env, results, outputs, pipelines, timings


@pytest.mark.parametrize("name", ["cars", "weather", "wine"])
def test_onboarded_dataset_reaches_awaiting_approval(onboarded, name: str) -> None:

    env, results, outputs, _, timings = onboarded
    result = results[name]
    checks = check_results(result)
    assert checks and all(checks.values()), checks
    assert len(checks) >= 14            # every gate of the chain ran and passed
    assert "risk_report" in materialized(result)
    promotion = env.store().latest(name, "promotion").data
    assert promotion["awaiting_approval"] is True and promotion["promoted"] is False
    assert [r for r in promotion["reasons"] if not r.startswith("approvals:")] == []
    spec_record = env.store().latest(name, "raw_data").data["spec"]
    assert len(spec_record["sha256"]) == 64
    assert env.store().latest(name, "trained_model").data["metrics"]["test_accuracy"] > 0.5
    print(f"{name}: init -> awaiting approval in {timings[name]:.1f} s")


def test_cars_encodes_categoricals_imputes_and_keeps_identity_out(onboarded) -> None:
    env, _, outputs, pipelines, _ = onboarded
    spec = (pipelines / "cars.yaml").read_text()
    assert '"Name": {"role": "identity"}' in spec
    assert '"Cylinders": {"role": "categorical", "values": [3, 4, 5, 6, 8]}' in spec
    assert '"missing": "impute"' in spec and '"Year": {"role": "timestamp", "format": "%Y-%m-%d"}' in spec
    trained = env.store().latest("cars", "trained_model").data
    features = trained["model"]["features"]
    assert "Name" not in features and "Origin" not in features
    assert {"Cylinders=4", "Cylinders=8", "Horsepower"} <= set(features)
    assert trained["encoding"]["label"]["classes"] == ["Europe", "Japan", "USA"]
    assert trained["encoding"]["categorical"]["Cylinders"] == [3, 4, 5, 6, 8]
    model_json = Path(trained["model"]["path"]) / "model.json"
    assert '"Cylinders": [3, 4, 5, 6, 8]' in model_json.read_text() or "Cylinders" in model_json.read_text()
    table = pd.read_parquet(env.store().latest("cars", "redacted_data").data["outputs"]["table"]["path"])
    assert "Name" not in table.columns                   # identity dropped before anything is written
    assert not list(env.home.artifacts.glob("cars/*/validated_data/*"))  # no unredacted copy
    screened = pd.read_parquet(env.store().latest("cars", "screened_data").data["outputs"]["table"]["path"])
    assert screened["Horsepower"].notna().all() and set(screened["Origin"]) == {0, 1, 2}


def test_init_writes_accepted_risks_instead_of_loosening_silently(onboarded) -> None:
    env, _, outputs, pipelines, _ = onboarded
    weather = (pipelines / "weather.yaml").read_text()
    assert "accepted_risks:" in weather and '"check": "model_quality"' in weather
    assert "accepted risk (to confirm)" in outputs["weather"]
    recorded = env.store().latest("weather", "raw_data").data["spec"]["accepted_risks"]
    assert {r["check"] for r in recorded} >= {"model_quality"} and all(r["reason"] for r in recorded)
    assert "accepted_risks" not in (pipelines / "wine.yaml").read_text()  # wine meets every default gate


def test_custom_model_code_is_pinned_and_used(onboarded) -> None:
    env, _, _, pipelines, _ = onboarded
    from mlsecops.core.fileio import sha256_file

    code_file = pipelines.parent / "project" / "mynets" / "tiny.py"
    trained = env.store().latest("wine", "trained_model").data
    assert trained["model"]["architecture"] == "mynets.tiny:TinyNet"
    assert trained["model"]["code"]["sha256"] == sha256_file(code_file)
    assert env.store().latest("wine", "raw_data").data["spec"]["model"]["code"]["sha256"] == sha256_file(code_file)
    assert env.store().latest("wine", "adversarial_evaluation").data["attacks"]  # loaded by the verified loader
    assert "Alcohol (%)" in trained["model"]["features"]


def test_discovery_lists_reference_and_team_pipelines(onboarded) -> None:
    from mlsecops.cli import app
    from mlsecops.pipelines.registry import PIPELINES

    _, _, _, pipelines, _ = onboarded
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLSECOPS_PIPELINES", str(pipelines))
        mp.setenv("MLSECOPS_HOME", str(pipelines.parent / "home"))
        assert {"patients", "digits", "cars", "weather", "wine"} <= set(PIPELINES)
        out = CliRunner().invoke(app, ["pipelines", "--json"], env={"COLUMNS": "300"})
        assert out.exit_code == 0, out.output
        assert "awaiting approval" in out.output and "never run" in out.output
        again = CliRunner().invoke(app, ["init", str(pipelines.parent / "data" / "cars.csv"), "--target", "Origin",
                                         "--name", "cars"])
        assert again.exit_code != 0 and "--force" in str(again.exception) + again.output


# -- bad input: one line naming the file, the key and the fix; nothing registered --------------------------
def _write_spec(folder: Path, body: str, name: str = "bad") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(body)
    return path


def _valid_spec(tmp_path: Path, model: str = "{architecture: logistic}") -> str:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 10, "y": ["p", "q"] * 20})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_csv(tmp_path / "t.reference.csv", index=False)
    from mlsecops.core.fileio import sha256_file

    return (f"name: bad\nsource: {{path: t.csv}}\ncolumns:\n  a: {{role: numeric, min: 0, max: 10}}\n  y: {{role: label}}\n"
            f"label: {{column: y, classes: [p, q]}}\nmodel: {model}\n"
            f"reference: {{path: t.reference.csv, sha256: {sha256_file(tmp_path / 't.reference.csv')}}}\n")


def test_a_valid_spec_loads(tmp_path: Path) -> None:
    from mlsecops.pipelines.spec_file import load_spec_file

    spec = load_spec_file(_write_spec(tmp_path, _valid_spec(tmp_path)))
    assert spec.schema.features == ["a"] and spec.schema.labels == ("p", "q") and spec.net["architecture"] == "logistic"


@pytest.mark.parametrize("edit, expected", [
    (lambda s: s + "colour: blue\n", "colour: unknown key; allowed here: name"),
    (lambda s: s.replace("role: numeric", "role: numeric, maxx: 3"), "columns.a.maxx: unknown key"),
    (lambda s: s.replace("role: numeric", "role: number"), "columns.a.role"),
    (lambda s: s.replace("classes: [p, q]", "classes: [p]"), "label.classes"),
    (lambda s: s.replace("{architecture: logistic}", "{architecture: nosuch.mod:Net}"), "model.architecture"),
    (lambda s: s.replace("{architecture: logistic}", '{architecture: "mynets.tiny:NotAModule"}'), "not a torch nn.Module"),
    (lambda s: s.replace("{architecture: logistic}", '{architecture: "mynets.tiny:WrongShape"}'), "not (2, 2) logits"),
    (lambda s: s.replace("source: {path: t.csv}", "source: {generator: 'os:system', file: x.csv}"), "source.generator"),
])
def test_bad_specs_fail_with_one_line_naming_file_and_key(tmp_path: Path, edit, expected: str) -> None:
    from mlsecops.pipelines.registry import PIPELINES
    from mlsecops.pipelines.spec_file import SpecError

    folder = tmp_path / "pipelines"
    (folder / "mynets").mkdir(parents=True)
    (folder / "mynets" / "tiny.py").write_text(TINY_NET)        # model.path defaults to the spec's folder
    path = _write_spec(folder, edit(_valid_spec(folder)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLSECOPS_PIPELINES", str(folder))
        with pytest.raises(SpecError) as err:
            dict(PIPELINES)
    message = str(err.value)
    assert str(path) in message and expected in message and "\n" not in message
    mp2 = pytest.MonkeyPatch()
    mp2.setenv("MLSECOPS_PIPELINES", str(tmp_path / "none"))
    try:
        assert "bad" not in PIPELINES                 # nothing half-registered
    finally:
        mp2.undo()


@pytest.mark.parametrize("frame_or_bytes, target, expected", [
    (pd.DataFrame({"x": range(40), "y": ["a"] * 40}), "y", "has one class"),
    (pd.DataFrame({"x": range(40), "y": ["a", "b"] * 20}), "label", "is not a column"),
    (pd.DataFrame({"x": [1.5] * 40, "e": [None] * 40, "y": ["a", "b"] * 20}), "y", "column 'e' is empty in every row"),
    (pd.DataFrame({"x": [str(i) for i in range(38)] + ["n/a", "abc"], "y": ["a", "b"] * 20}), "y", "column 'x' mixes types"),
    (b"x,y\n1,a\n2,\xff\xfe\n", "y", "not valid utf-8"),
])
def test_init_refuses_bad_data_in_one_line(tmp_path: Path, frame_or_bytes, target: str, expected: str) -> None:
    from mlsecops.core.errors import MlsecopsError
    from mlsecops.pipelines.init import propose_spec

    path = tmp_path / "data.csv"
    if isinstance(frame_or_bytes, bytes):
        path.write_bytes(frame_or_bytes)
    else:
        frame_or_bytes.to_csv(path, index=False)
    with pytest.raises(MlsecopsError) as err:
        propose_spec(path, target, "bad", tmp_path / "out", probe=False)
    assert str(path) in str(err.value) and expected in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_init_marks_sensitive_and_id_columns_and_never_overwrites(tmp_path: Path) -> None:
    import numpy as np

    from mlsecops.core.errors import MlsecopsError
    from mlsecops.pipelines.init import propose_spec
    from mlsecops.pipelines.spec_file import load_spec_file

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"Sex": rng.choice(["F", "M"], 200), "x": rng.normal(size=200),
                          "Customer ID": range(1000, 1200), "Serial No": [f"SN-{i:05d}" for i in range(200)],
                          "y": rng.choice(["a", "b"], 200)})
    frame.to_csv(tmp_path / "s.csv", index=False)
    result = propose_spec(tmp_path / "s.csv", "y", "sens", tmp_path / "out", probe=False)
    roles = {c.name: c.role for c in result.columns}
    assert roles == {"Sex": "sensitive", "x": "numeric", "Customer ID": "identity", "Serial No": "identity", "y": "label"}
    spec = load_spec_file(result.spec_path)
    assert spec.schema.sensitive == ["Sex"] and spec.schema.features == ["x"]
    before = result.spec_path.read_bytes()
    with pytest.raises(MlsecopsError, match="--force"):
        propose_spec(tmp_path / "s.csv", "y", "sens", tmp_path / "out", probe=False)
    assert result.spec_path.read_bytes() == before


def test_glob_and_sql_sources_snapshot_to_parquet(tmp_path: Path) -> None:
    import sqlite3

    from mlsecops.pipelines.spec_file import load_spec_file

    body = _valid_spec(tmp_path)
    frame = pd.read_csv(tmp_path / "t.csv")
    (tmp_path / "parts").mkdir()
    frame.iloc[:20].to_csv(tmp_path / "parts" / "a.csv", index=False)
    frame.iloc[20:].to_csv(tmp_path / "parts" / "b.csv", index=False)
    con = sqlite3.connect(tmp_path / "t.db")
    frame.to_sql("t", con, index=False)
    con.close()
    for source in ("{path: 'parts/*.csv'}", f"{{url: 'sqlite:///{tmp_path / 't.db'}', query: 'select * from t'}}"):
        spec = load_spec_file(_write_spec(tmp_path, body.replace("{path: t.csv}", source)))
        target = tmp_path / spec.source_file
        spec.make_source(target)
        snapshot = pd.read_parquet(target)
        assert len(snapshot) == 40 and list(snapshot.columns) == ["a", "y"]
        target.unlink()
