# rgpnet-mmseg: the two commands a new machine needs are `make demo` and
# `make test`; both set everything up first (once).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rgpnet-mmseg-installed
DEMO_DATA ?= data/demo
DEMO_CFG ?= configs/rgpnet_r18_demo.py
# each config trains into its own work dir (the default: work_dirs/rgpnet_r18_demo)
DEMO_WORK_DIR ?= work_dirs/$(basename $(notdir $(DEMO_CFG)))
PYTEST_ARGS ?=

.PHONY: install reinstall demo-data demo test clean

# The install variant (tools/install.sh's variables). Given once, e.g.
# `make install TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
# MMCV_FORCE_CUDA=1`, it is saved in the venv and kept by every later make;
# a changed variant re-runs the setup, which then switches torch and mmcv.
VARIANT_FILE := $(VENV)/.rgpnet-mmseg-variant.mk
-include $(VARIANT_FILE)
TORCH_VERSION ?= 2.13.0
TORCH_INDEX_URL ?=
MMCV_FORCE_CUDA ?= 0
VARIANT := $(TORCH_VERSION)|$(TORCH_INDEX_URL)|$(MMCV_FORCE_CUDA)
ifneq ($(VARIANT),$(SAVED_VARIANT))
.PHONY: $(STAMP)
endif

install: $(STAMP)

# Re-run the (idempotent) setup only when what it installs from, or the
# variant, changes. `make reinstall` runs it again regardless.
$(STAMP): setup.cfg pyproject.toml tools/install.sh
	VENV=$(VENV) TORCH_VERSION=$(TORCH_VERSION) \
	    TORCH_INDEX_URL='$(TORCH_INDEX_URL)' MMCV_FORCE_CUDA=$(MMCV_FORCE_CUDA) \
	    bash tools/install.sh
	printf '%s ?= %s\n' TORCH_VERSION '$(TORCH_VERSION)' \
	    TORCH_INDEX_URL '$(TORCH_INDEX_URL)' MMCV_FORCE_CUDA '$(MMCV_FORCE_CUDA)' \
	    SAVED_VARIANT '$(VARIANT)' > $(VARIANT_FILE)
	touch $@

reinstall:
	rm -f $(STAMP)
	$(MAKE) install

demo-data: install
	$(PY) tools/make_demo_data.py --out $(DEMO_DATA)

# Train RGPNet-R18 on the demo data with tools/train.py (evaluated with
# mmseg's IoUMetric at the end), then test the final checkpoint and paint
# the val predictions into the work dir.
demo: demo-data
	$(PY) tools/train.py $(DEMO_CFG) --work-dir $(DEMO_WORK_DIR)
	$(PY) tools/test.py $(DEMO_CFG) "$$(cat $(DEMO_WORK_DIR)/last_checkpoint)" \
	    --work-dir $(DEMO_WORK_DIR) --show-dir predictions
	@echo "prediction pictures: $(DEMO_WORK_DIR)/predictions/vis_data/vis_image"

# the OpenVINO/NNCF tests in a process of their own (setup.cfg's markers)
test: demo-data
	$(PY) -m pytest -m "not openvino" $(PYTEST_ARGS)
	$(PY) -m pytest -m openvino $(PYTEST_ARGS)

clean:
	rm -rf work_dirs build *.egg-info .pytest_cache .hypothesis
