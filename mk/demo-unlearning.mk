# The offset-unlearning demonstration (docs/generation-safety.md, "Offset unlearning: the demonstration"): per seed a
# facts world, a tokenizer, B, the smaller S₀, B retrained without the forget set, the exactness check, unlearn-offset
# settings tried on the validation half and the chosen one run on the test half; then results.json and results.md over
# the seeds. Outputs stay in UNLEARN_WORK (ignored by git); a stopped run resumes step by step. Never part of `make
# test`. Each step is one process with UNLEARN_THREADS torch threads; `make -j2 demo-unlearning` runs two seeds at once.
UNLEARN_WORK ?= artifacts/generation-world/unlearning
UNLEARN_SEEDS ?= 1 2 3
UNLEARN_THREADS ?= 1
UNLEARN_DEMO = cd training && OMP_NUM_THREADS=$(UNLEARN_THREADS) $(abspath $(PYTHON)) -m edgeguard_train unlearn-demo \
	--work $(abspath $(UNLEARN_WORK)) --threads $(UNLEARN_THREADS)

.PHONY: demo-unlearning

demo-unlearning-seed-%: setup-python
	$(UNLEARN_DEMO) --datasets $(abspath $(DATASETS)) --seed $*

demo-unlearning: $(addprefix demo-unlearning-seed-,$(UNLEARN_SEEDS))
	$(UNLEARN_DEMO) --report --seeds $(UNLEARN_SEEDS)
