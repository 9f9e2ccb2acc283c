# make bench-gemm, bench-e2e, bench-accuracy: the micro-benchmarks (benchmarks/EdgeGuard.Benchmarks) on random-weight
# models of the real shapes; make bench is the side-by-side run against ONNX Runtime (mk/compare.mk).
# Long-running and machine-wide: not part of make test. Models are synthesised once into the ignored .bench-models/.
BENCH := $(DOTNET) benchmarks/EdgeGuard.Benchmarks/bin/$(CONFIG)/net10.0/EdgeGuard.Benchmarks.dll
BENCH_TOKENIZER ?= ../shared/tokenizers/spm-unigram-8k/spm.model
BENCH_SHAPES ?= xsmall base
BENCH_SEQ ?= 64,128,256,512

.PHONY: bench-gemm bench-e2e bench-accuracy

.bench-models/%/config.json: | build
	$(EDGEGUARD) synthesize --shape $* --tokenizer $(BENCH_TOKENIZER) --vocab-size 128100 -o .bench-models/$*

bench-gemm: build
	$(BENCH) gemm

bench-e2e: build $(foreach s,$(BENCH_SHAPES),.bench-models/$(s)/config.json)
	$(foreach s,$(BENCH_SHAPES),$(BENCH) e2e .bench-models/$(s) --seq $(BENCH_SEQ) --iters 10 &&) true

bench-accuracy: build
	$(BENCH) accuracy $(wildcard ../shared/fixtures/deberta/*) --rows 200
