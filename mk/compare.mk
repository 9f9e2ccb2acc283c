# make bench / make bench-full: EdgeGuard's engines against ONNX Runtime's, side by side (benchmarks/EdgeGuard.Compare).
# Every engine runs in its own `edgeguard bench` child processes, taking turns cell by cell; the results (JSON, markdown,
# PNG charts) go to docs/performance/. Models come from `make bench-models` (mk/bench.mk) into the ignored .bench-models/.
# Machine-wide and long: not part of make test. bench takes minutes, bench-full hours on a small machine.
# COMPARE_ARGS passes options on, e.g. COMPARE_ARGS="--engines edgeguard-f32,edgeguard-int8 --rounds 5".
COMPARE := $(DOTNET) benchmarks/EdgeGuard.Compare/bin/$(CONFIG)/net10.0/EdgeGuard.Compare.dll
COMPARE_QUICK_SHAPES ?= xsmall base
COMPARE_FULL_SHAPES ?= xsmall small base large
COMPARE_ARGS ?=
# The children are the NativeAOT edge binary (as shipped), built with the ONNX Runtime backend so that both runtimes run
# in the same kind of process; BENCH_PROFILE (mk/bench.mk) is the firmware profile it is built for.
BENCH_CLI = artifacts/publish/$(BENCH_PROFILE)/edgeguard

.PHONY: bench bench-full

bench: build
	$(MAKE) --no-print-directory publish PROFILE=$(BENCH_PROFILE) EDGEGUARD_ONNX=true
	$(MAKE) --no-print-directory bench-models SHAPES="$(COMPARE_QUICK_SHAPES)"
	$(COMPARE) run --preset quick --shapes "$(COMPARE_QUICK_SHAPES)" --cli $(BENCH_CLI) --out docs/performance/compare-quick $(COMPARE_ARGS)

bench-full: build
	$(MAKE) --no-print-directory publish PROFILE=$(BENCH_PROFILE) EDGEGUARD_ONNX=true
	$(MAKE) --no-print-directory bench-models SHAPES="$(COMPARE_FULL_SHAPES)"
	$(COMPARE) run --preset full --shapes "$(COMPARE_FULL_SHAPES)" --cli $(BENCH_CLI) --out docs/performance/compare $(COMPARE_ARGS)
