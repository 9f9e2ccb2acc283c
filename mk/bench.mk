# make bench-gemm, bench-e2e, bench-accuracy: the micro-benchmarks (benchmarks/EdgeGuard.Benchmarks) on random-weight
# models of the real shapes; make bench is the side-by-side run against ONNX Runtime (mk/compare.mk).
# Long-running and machine-wide: not part of make test. Models are made once into the ignored .bench-models/.
BENCH := $(DOTNET) benchmarks/EdgeGuard.Benchmarks/bin/$(CONFIG)/net10.0/EdgeGuard.Benchmarks.dll
BENCH_TOKENIZER ?= ../shared/tokenizers/spm-unigram-8k/spm.model
BENCH_SHAPES ?= xsmall base
BENCH_SEQ ?= 64,128,256,512

# make bench-models [SHAPES="base large"]: one random model per shape in every format the side-by-side
# benchmarks read, in .bench-models/<shape>/:
#   hf/        Hugging Face directory (edgeguard synthesize)
#   f32.gguf   float32 bundle (edgeguard convert)
#   int8.gguf  int8 bundle (edgeguard convert --quant int8 --weight-bits B, B the int8WeightBits of the
#              firmware profile the side-by-side child is built for, BENCH_PROFILE: 7 on x86-64-v3)
#   f32.onnx   float32 ONNX (python3 -m edgeguard_train export, parity-checked against PyTorch)
#   int8.onnx  ONNX Runtime-style dynamic int8 of f32.onnx (python3 -m edgeguard_train quantize-onnx)
# Each file is made only when it is missing, so a second run does nothing.
SHAPES ?= xsmall small base large
BENCH_MODELS := .bench-models
BENCH_MODEL_FILES := hf/config.json f32.gguf int8.gguf f32.onnx int8.onnx
# export's parity check and quantize-onnx's int8-vs-float32 comparison run the numpy ONNX evaluator, which is
# slow on the large shape: there they use one shorter row batch instead of the default two shapes.
BENCH_EXPORT_FLAGS_large := --parity-shapes 2x16
BENCH_QUANTIZE_FLAGS_large := --check-shapes 2x16

bench_model_files = $(foreach s,$(1),$(addprefix $(BENCH_MODELS)/$(s)/,$(2)))
# The .NET build runs only when a file the CLI makes is missing (or the CLI is not built), so a run with every
# file present does nothing.
BENCH_CLI_FILES := $(CLI_DLL) $(call bench_model_files,$(SHAPES),hf/config.json f32.gguf int8.gguf)
BENCH_NEEDS_BUILD := $(if $(filter-out $(wildcard $(BENCH_CLI_FILES)),$(BENCH_CLI_FILES)),build)

.PHONY: bench-gemm bench-e2e bench-accuracy bench-models

# A chain of pattern rules would otherwise delete the Hugging Face directory's config.json and f32.onnx when
# they were made only on the way to another file.
.PRECIOUS: $(BENCH_MODELS)/%/hf/config.json $(BENCH_MODELS)/%/f32.onnx

# Synthesised into a temporary directory and renamed, so an interrupted run never leaves a half model behind.
$(BENCH_MODELS)/%/hf/config.json: | $(BENCH_NEEDS_BUILD)
	rm -rf $(BENCH_MODELS)/$*/hf.tmp
	$(EDGEGUARD) synthesize --shape $* --tokenizer $(BENCH_TOKENIZER) --vocab-size 128100 -o $(BENCH_MODELS)/$*/hf.tmp
	rm -rf $(BENCH_MODELS)/$*/hf && mv $(BENCH_MODELS)/$*/hf.tmp $(BENCH_MODELS)/$*/hf

# convert writes its bundle atomically.
$(BENCH_MODELS)/%/f32.gguf: $(BENCH_MODELS)/%/hf/config.json | $(BENCH_NEEDS_BUILD)
	$(EDGEGUARD) convert $(BENCH_MODELS)/$*/hf -o $@

# The firmware profile the side-by-side children are built for (mk/compare.mk) and whose int8 weight bits the int8
# bundles take: by default one this CPU runs.
BENCH_PROFILE ?= $(shell if [ "$$(uname -m)" = aarch64 ]; then grep -qw asimddp /proc/cpuinfo && echo rpi5 || echo rpi4; \
	else grep -qw avx512bw /proc/cpuinfo && echo x86-64-v4 || echo x86-64-v3; fi)
BENCH_PROFILE_FILE := firmware-profiles/$(BENCH_PROFILE).json

# Remade when the file that names the packed int8 layout changes (a bundle in an older layout is refused at open)
# and when the profile's weight bits do.
$(BENCH_MODELS)/%/int8.gguf: $(BENCH_MODELS)/%/hf/config.json src/EdgeGuard.Kernels/Int8/PackedInt8Matrix.cs $(BENCH_PROFILE_FILE) | $(BENCH_NEEDS_BUILD)
	$(EDGEGUARD) convert $(BENCH_MODELS)/$*/hf -o $@ --quant int8 --weight-bits $(call json-field,int8WeightBits,$(BENCH_PROFILE_FILE))

# export writes a whole Hugging Face directory next to model.onnx; only model.onnx is kept. Above protobuf's
# 2 GiB the exporter would put the tensors in files of their own beside it: refused rather than lost.
$(BENCH_MODELS)/%/f32.onnx: $(BENCH_MODELS)/%/hf/config.json | setup-python
	rm -rf $(BENCH_MODELS)/$*/export.tmp
	$(TRAIN_PY) export --model $(abspath $(BENCH_MODELS)/$*/hf) --output $(abspath $(BENCH_MODELS)/$*/export.tmp) $(BENCH_EXPORT_FLAGS_$*)
	@extra="$$(ls $(BENCH_MODELS)/$*/export.tmp | grep -vxE 'config.json|model.safetensors|spm.model|model.onnx')"; \
	  if [ -n "$$extra" ]; then echo "$@: the export wrote ONNX external data ($$(echo $$extra | head -c 200)...), which this rule does not keep" >&2; exit 1; fi
	mv $(BENCH_MODELS)/$*/export.tmp/model.onnx $@ && rm -rf $(BENCH_MODELS)/$*/export.tmp

# quantize-onnx writes atomically and checks its output with onnx.checker.
$(BENCH_MODELS)/%/int8.onnx: $(BENCH_MODELS)/%/f32.onnx | setup-python
	$(TRAIN_PY) quantize-onnx --input $(abspath $<) --output $(abspath $@) $(BENCH_QUANTIZE_FLAGS_$*)

bench-models: $(call bench_model_files,$(SHAPES),$(BENCH_MODEL_FILES))

# make bench-gemm BENCH_GEMM_FLAGS="--m 1": only the single-row products (each beside the 4-row tiles on the same row)
BENCH_GEMM_FLAGS ?=

bench-gemm: build
	$(BENCH) gemm $(BENCH_GEMM_FLAGS)

bench-e2e: build $(call bench_model_files,$(BENCH_SHAPES),hf/config.json)
	$(foreach s,$(BENCH_SHAPES),$(BENCH) e2e $(BENCH_MODELS)/$(s)/hf --seq $(BENCH_SEQ) --iters 10 &&) true

bench-accuracy: build
	$(BENCH) accuracy $(wildcard ../shared/fixtures/deberta/*) --rows 200

# make bench-decode: a SmolLM2-135M-shaped Llama (30 x 576, 9 heads, 3 KV heads, vocabulary 49,152) with random weights,
# float32 and int8 at batch 1 (prefill of 128 tokens, tokens/s decoding 128 tokens, GB/s of weights streamed against the
# memory bandwidth measured in the same process), and offset decoding with two partners of about a tenth of its size
# against it alone. Models are synthesized once into .bench-models/. About two minutes on 2 cores.
DECODE_SHAPES := smollm2-135m smollm2-partner
DECODE_TOKENIZER := tests/data/tokenizers/smollm-small
BENCH_DECODE_FLAGS ?=

$(BENCH_MODELS)/smollm2-%/hf/config.json: | $(BENCH_NEEDS_BUILD)
	rm -rf $(BENCH_MODELS)/smollm2-$*/hf.tmp
	$(EDGEGUARD) synthesize --shape smollm2-$* --tokenizer $(DECODE_TOKENIZER) --vocab-size 49152 -o $(BENCH_MODELS)/smollm2-$*/hf.tmp
	rm -rf $(BENCH_MODELS)/smollm2-$*/hf && mv $(BENCH_MODELS)/smollm2-$*/hf.tmp $(BENCH_MODELS)/smollm2-$*/hf

.PHONY: bench-decode
bench-decode: build $(call bench_model_files,$(DECODE_SHAPES),hf/config.json)
	$(BENCH) decode $(BENCH_MODELS)/smollm2-135m/hf --partner $(BENCH_MODELS)/smollm2-partner/hf $(BENCH_DECODE_FLAGS)

# make op-profile [OP_PROFILE_SHAPES="base large"]: where one 128-token int8 verdict's time goes, per kind of work,
# EdgeGuard (perf samples of the NativeAOT binary, built with symbols) beside ONNX Runtime (its own profiler's per-node
# JSON, EDGEGUARD_ONNX_PROFILE), on the same model, 2 threads; benchmarks/op_profile.py sorts both into one markdown
# table per shape, written to artifacts/op-profile/<shape>.md. The shares come from the profiled runs, the milliseconds
# from a plain run of each engine after them (profilers slow what they watch). Machine-wide: run it on a quiet machine.
OP_PROFILE_SHAPES ?= base large
OP_PROFILE_ITERS ?= 60
OP_PROFILE_DIR := artifacts/op-profile
OP_PROFILE_BENCH = bench --seq 128 --batch 1 --threads 2 --warmup 5 --iters $(OP_PROFILE_ITERS) --json
op_profile_p50 = $$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["p50_ms"])' $(1))

.PHONY: op-profile
op-profile:
	@command -v perf >/dev/null || { echo "installing perf"; apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q linux-perf; }
	$(MAKE) --no-print-directory publish PROFILE=$(BENCH_PROFILE) EDGEGUARD_ONNX=true KEEP_SYMBOLS=1
	$(MAKE) --no-print-directory bench-models SHAPES="$(OP_PROFILE_SHAPES)"
	mkdir -p $(OP_PROFILE_DIR)
	$(foreach s,$(OP_PROFILE_SHAPES),rm -f $(OP_PROFILE_DIR)/$(s)-ort_*.json && \
	  perf record -q -F 1999 -o $(OP_PROFILE_DIR)/$(s)-eg.data -- $(BENCH_CLI) $(OP_PROFILE_BENCH) --model $(BENCH_MODELS)/$(s)/int8.gguf > /dev/null && \
	  EDGEGUARD_ONNX_PROFILE=$(OP_PROFILE_DIR)/$(s)-ort $(BENCH_CLI) $(OP_PROFILE_BENCH) --backend onnx --model $(BENCH_MODELS)/$(s)/int8.onnx > /dev/null && \
	  $(BENCH_CLI) $(OP_PROFILE_BENCH) --model $(BENCH_MODELS)/$(s)/int8.gguf > $(OP_PROFILE_DIR)/$(s)-eg.json && \
	  $(BENCH_CLI) $(OP_PROFILE_BENCH) --backend onnx --model $(BENCH_MODELS)/$(s)/int8.onnx > $(OP_PROFILE_DIR)/$(s)-ort.json && \
	  perf report -i $(OP_PROFILE_DIR)/$(s)-eg.data --no-children --sort symbol --stdio > $(OP_PROFILE_DIR)/$(s)-eg.txt 2>/dev/null && \
	  python3 benchmarks/op_profile.py --perf-report $(OP_PROFILE_DIR)/$(s)-eg.txt --ort-profile $(OP_PROFILE_DIR)/$(s)-ort_*.json \
	    --eg-p50 $(call op_profile_p50,$(OP_PROFILE_DIR)/$(s)-eg.json) --ort-p50 $(call op_profile_p50,$(OP_PROFILE_DIR)/$(s)-ort.json) \
	    | tee $(OP_PROFILE_DIR)/$(s).md &&) true

# make bench-llama-cpp: llama.cpp beside EdgeGuard on the same random-weight SmolLM2-135M-shaped model, same machine,
# 2 threads, batch 1. The model bench-decode synthesizes is exported to a float32 GGUF in llama.cpp's layout
# (python3 -m edgeguard_train export-llama-cpp), quantized to Q8_0 by llama.cpp's own quantizer, and timed by
# benchmarks/EdgeGuard.LlamaCpp (LLamaSharp and the llama.cpp library its CPU backend package ships: prefill of 128
# random tokens, 128 greedy tokens after one, medians of 5 rounds, weight GB/s against the same memory bandwidth probe,
# peak RSS); then bench-decode, the two alternating LLAMA_CPP_RUNS times. The harness is not in EdgeGuard.sln: its
# backend package carries native libraries for every platform (about 150 MB), which the solution's build need not fetch.
LLAMA_CPP_HARNESS := benchmarks/EdgeGuard.LlamaCpp
LLAMA_CPP := $(DOTNET) $(LLAMA_CPP_HARNESS)/bin/$(CONFIG)/net10.0/EdgeGuard.LlamaCpp.dll
LLAMA_CPP_RUNS ?= 2
BENCH_LLAMA_CPP_FLAGS ?=

.PHONY: build-llama-cpp bench-llama-cpp
.PRECIOUS: $(BENCH_MODELS)/%/llama-cpp-f32.gguf

build-llama-cpp:
	$(DOTNET) build $(LLAMA_CPP_HARNESS) -c $(CONFIG) --nologo -v quiet

# Both write through a temporary file.
$(BENCH_MODELS)/%/llama-cpp-f32.gguf: $(BENCH_MODELS)/%/hf/config.json | setup-python
	$(TRAIN_PY) export-llama-cpp --model $(abspath $(BENCH_MODELS)/$*/hf) --output $(abspath $@)

$(BENCH_MODELS)/%/llama-cpp-q8_0.gguf: $(BENCH_MODELS)/%/llama-cpp-f32.gguf | build-llama-cpp
	$(LLAMA_CPP) quantize $< $@

bench-llama-cpp: build build-llama-cpp $(BENCH_MODELS)/smollm2-135m/llama-cpp-q8_0.gguf $(call bench_model_files,$(DECODE_SHAPES),hf/config.json)
	for run in $$(seq $(LLAMA_CPP_RUNS)); do \
	  $(LLAMA_CPP) bench $(BENCH_MODELS)/smollm2-135m/llama-cpp-q8_0.gguf --threads 2 $(BENCH_LLAMA_CPP_FLAGS) && \
	  $(BENCH) decode $(BENCH_MODELS)/smollm2-135m/hf --partner $(BENCH_MODELS)/smollm2-partner/hf --threads 2 $(BENCH_DECODE_FLAGS) || exit 1; \
	done
