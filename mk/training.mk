# Training pipeline (training/edgeguard_train): Python set-up, tests, and the default-model recipe.
PYTHON ?= /usr/bin/python3
TRAIN_PY := cd training && $(abspath $(PYTHON)) -m edgeguard_train
DATASETS ?= ../shared/datasets
DEFAULT_MODEL := models/edgeguard-default
TRAIN_WORK ?= artifacts/train-default
TRAIN_THREADS ?= 2
TRAIN_VOCAB ?= 8000
# Debian packages the pipeline needs; libopenblas0-pthread replaces the reference BLAS Debian's torch
# links by default (about 10x faster matrix products on CPU).
PYTHON_DEBS := python3-torch python3-onnx python3-sentencepiece python3-sklearn python3-pytest python3-numpy libopenblas0-pthread

.PHONY: setup-python test-python train-default

setup-python:
	@if ! dpkg -s $(PYTHON_DEBS) >/dev/null 2>&1; then \
	  echo "installing $(PYTHON_DEBS)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PYTHON_DEBS) >/dev/null; \
	fi

test-python: setup-python
	cd training && $(abspath $(PYTHON)) -m pytest -q tests

TEST_TARGETS += test-python

# The default guard, end to end: tokenizer, a larger teacher (CE), the teacher's soft labels on
# every third training row (labelling all of them would double the CPU budget), the shipped student
# distilled from them (CE + KL on those rows, CE on the rest), and a CE-only twin of the student to
# measure what distillation bought. See models/edgeguard-default/MODEL_CARD.md.
TRAIN_COMMON = --dev $(abspath $(DATASETS))/dev.jsonl --max-position-embeddings 96 --max-length 96 \
	--batch-size 32 --seed 13

train-default: setup-python
	mkdir -p $(TRAIN_WORK)
	$(TRAIN_PY) train-tokenizer --input $(abspath $(DATASETS))/train.jsonl \
	  --output $(abspath $(TRAIN_WORK))/spm.model --vocab-size $(TRAIN_VOCAB)
	$(TRAIN_PY) distill --train $(abspath $(DATASETS))/train.jsonl $(TRAIN_COMMON) \
	  --threads $(TRAIN_THREADS) --preset edge-teacher --tokenizer $(abspath $(TRAIN_WORK))/spm.model \
	  --epochs 2 --steps-per-epoch 200 --lr 5e-4 --output $(abspath $(TRAIN_WORK))/teacher
	$(TRAIN_PY) evaluate --model $(abspath $(TRAIN_WORK))/teacher --data $(abspath $(DATASETS))/train.jsonl \
	  --threads $(TRAIN_THREADS) --every 3 --predictions $(abspath $(TRAIN_WORK))/train.teacher.jsonl
	# The two students train side by side, one thread each.
	$(TRAIN_PY) distill --train $(abspath $(TRAIN_WORK))/train.teacher.jsonl $(abspath $(DATASETS))/train.jsonl $(TRAIN_COMMON) --threads 1 \
	  --preset edge --tokenizer $(abspath $(TRAIN_WORK))/spm.model --ce-weight 0.5 \
	  --epochs 2 --steps-per-epoch 300 --lr 1e-3 --output $(abspath $(TRAIN_WORK))/student-kd & kd=$$!; \
	$(TRAIN_PY) distill --train $(abspath $(DATASETS))/train.jsonl $(TRAIN_COMMON) --threads 1 \
	  --preset edge --tokenizer $(abspath $(TRAIN_WORK))/spm.model --ce-weight 1.0 \
	  --epochs 2 --steps-per-epoch 300 --lr 1e-3 --output $(abspath $(TRAIN_WORK))/student-ce && wait $$kd
	$(TRAIN_PY) export --model $(abspath $(TRAIN_WORK))/student-kd --output $(abspath $(TRAIN_WORK))/export
	$(TRAIN_PY) export --model $(abspath $(TRAIN_WORK))/student-kd --output $(abspath $(DEFAULT_MODEL)) --no-onnx
	$(TRAIN_PY) evaluate --model $(abspath $(DEFAULT_MODEL)) --data $(abspath $(DATASETS))/dev.jsonl \
	  --threads $(TRAIN_THREADS) --json $(abspath $(TRAIN_WORK))/dev-metrics.json
