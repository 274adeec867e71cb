# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export MLSECOPS_HOME ?= $(CURDIR)/.mlsecops
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := true
export HF_HUB_OFFLINE := 1

.PHONY: run run-scaled test install bench ui clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,scale]'
	touch $@

install: $(VENV)/.installed

DEMO_APPROVER := demo-approver
PIPELINES := patients digits

run: install
	$(BIN)/mlsecops run --all
	@echo "== DEMO release approval: identity '$(DEMO_APPROVER)' (a demo key, NOT the trainer) approves each candidate"
	for p in $(PIPELINES); do \
	  $(BIN)/mlsecops approve --pipeline $$p --model $$($(BIN)/mlsecops candidate --pipeline $$p) \
	    --identity $(DEMO_APPROVER) --comment "make run DEMO approval" || exit 1; \
	  $(BIN)/mlsecops promote --pipeline $$p || exit 1; \
	done
	$(BIN)/mlsecops audit verify
	$(BIN)/mlsecops audit explain --pipeline patients

# Scale-out profile: private Postgres + MLflow server + Dask workers on loopback, both pipelines
# concurrently, then the embedded run for comparison (needs Debian's `postgresql` package; see infra/).
run-scaled: install
	$(BIN)/python -m mlsecops.scaleout --compare-embedded

test: install
	$(BIN)/python -m pytest -q

bench: install
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

ui: install
	mkdir -p $(MLSECOPS_HOME)/dagster && DAGSTER_HOME=$(MLSECOPS_HOME)/dagster $(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf $(MLSECOPS_HOME)
