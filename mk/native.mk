# libedgeguard, the runtime as a C library (src/EdgeGuard.Native, include/edgeguard.h, docs/c-api.md).
# make publish-lib PROFILE=<name> | RID=<rid>: NativeAOT shared and static library, header and pkg-config files for one
# firmware profile (firmware-profiles/<name>.json) or, without a profile, for any CPU of a runtime identifier, laid out
# as an installable prefix in artifacts/lib/<profile or rid>/ (include/, lib/, lib/pkgconfig/).
# make test builds two of them once, linux-x64 (baseline instruction sets: any x86-64) and rpi5 (armv8.2-a with dot
# product), and runs the C, Python and Rust examples and the C ABI tests against them: natively, under Valgrind
# memcheck, linked statically, and on arm64 under qemu-aarch64-static (mk/arm64.mk installs qemu and the cross
# runtimes): as a Pi 5 (Cortex-A76), and as a Pi 4 (Cortex-A72), whose CPU the rpi5 library must refuse, not abort on.
RID ?= linux-x64
LIB_RID = $(if $(PROFILE),$(call profile-field,rid),$(RID))
LIB_NAME = $(if $(PROFILE),$(PROFILE),$(RID))
LIB_DIR = artifacts/lib/$(LIB_NAME)
LIB_BUILD = artifacts/lib-build/$(LIB_NAME)
NATIVE_PROJECT := src/EdgeGuard.Native
# Everything a library build compiles: a change to any of it rebuilds the libraries `make test` uses.
NATIVE_SOURCES := $(shell find src/EdgeGuard.Native src/EdgeGuard src/EdgeGuard.Kernels \( -name bin -o -name obj \) -prune -o -type f -print) \
	Directory.Build.props Directory.Packages.props mk/native.mk
# binutils of the target: the host's for x64, the cross toolchain's (publish-arm64-toolchain) for arm64.
lib-tools = $(if $(filter linux-arm64,$(1)),aarch64-linux-gnu-)
define lib-publish
	$(DOTNET) publish $(NATIVE_PROJECT) -c Release -r $(LIB_RID) --nologo -v quiet -o $(LIB_BUILD)/$(1) \
	  -p:PublishAot=true -p:NativeLib=$(1) -p:StripSymbols=true -p:DebugType=none -p:GenerateDocumentationFile=false \
	  $(if $(PROFILE),-p:IlcInstructionSet=$(subst $(COMMA),%2C,$(call profile-field,ilcInstructionSet)) \
	    -p:EdgeGuardProfile=$(PROFILE) -p:EdgeGuardInt8Kernel=$(call profile-field,int8Kernel)) \
	  $(if $(filter linux-arm64,$(LIB_RID)),-p:CppCompilerAndLinker=clang-14 -p:ObjCopyName=aarch64-linux-gnu-objcopy,$(AOT_LINKER))
endef

.PHONY: publish-lib publish-lib-profile test-native test-native-c test-native-valgrind test-native-static test-native-python test-native-rust \
	test-native-arm64 native-test-models

# The profile is checked before publish-lib's recipe is expanded, which reads the profile's fields.
publish-lib-profile:
	@if [ -n "$(PROFILE)" ] && [ ! -f "$(PROFILE_FILE)" ]; then echo "publish-lib: $(PROFILE_FILE) does not exist" >&2; exit 2; fi

publish-lib: publish-lib-profile
	$(if $(filter linux-arm64,$(LIB_RID)),$(MAKE) --no-print-directory publish-arm64-toolchain)
	rm -rf $(LIB_BUILD)
	$(call lib-publish,Shared)
	$(call lib-publish,Static)
	$(NATIVE_PROJECT)/package-lib.sh $(LIB_DIR) $(LIB_BUILD)/Shared $(LIB_BUILD)/Static "$(call lib-tools,$(LIB_RID))" "$(PROFILE)"
	rm -rf $(LIB_BUILD)
	@cd $(LIB_DIR)/lib && ls -l libedgeguard.so.1 libedgeguard.a | awk '{ printf "$(LIB_DIR)/lib/%s: %.1f MiB\n", $$9, $$5 / 1048576 }'

# The libraries `make test` links, each built once and rebuilt only when a source changes.
NATIVE_X64 := artifacts/lib/linux-x64
NATIVE_ARM64_PROFILE := rpi5
NATIVE_ARM64 := artifacts/lib/$(NATIVE_ARM64_PROFILE)

$(NATIVE_X64)/lib/libedgeguard.so.1: $(NATIVE_SOURCES)
	$(MAKE) --no-print-directory publish-lib PROFILE= RID=linux-x64

$(NATIVE_ARM64)/lib/libedgeguard.so.1: $(NATIVE_SOURCES) firmware-profiles/$(NATIVE_ARM64_PROFILE).json
	$(MAKE) --no-print-directory publish-lib PROFILE=$(NATIVE_ARM64_PROFILE)

# Models the tests make themselves, so they do not depend on the default model's scores: the tiny random-weight
# DeBERTa as a float and an int8 bundle (the int8 one runs the NEON kernels under qemu), and tiny BERT and RoBERTa
# directories with their real tokenizers, so every architecture's open path runs through the library.
NATIVE_MODELS := .test-models/native
NATIVE_TINY := $(NATIVE_MODELS)/tiny.gguf
NATIVE_TINY_INT8 := $(NATIVE_MODELS)/tiny-int8.gguf
NATIVE_BERT := $(NATIVE_MODELS)/bert-tiny
NATIVE_ROBERTA := $(NATIVE_MODELS)/roberta-tiny
NATIVE_TEST_MODELS := $(NATIVE_TINY) $(NATIVE_TINY_INT8) $(NATIVE_BERT) $(NATIVE_ROBERTA)

$(NATIVE_TINY) $(NATIVE_TINY_INT8) &: | build
	rm -rf $(NATIVE_MODELS)/hf
	$(EDGEGUARD) synthesize --shape tiny --tokenizer ../shared/tokenizers/spm-unigram-2k/spm.model -o $(NATIVE_MODELS)/hf --seed 7
	$(EDGEGUARD) convert $(NATIVE_MODELS)/hf -o $(NATIVE_TINY) --name tiny
	$(EDGEGUARD) convert $(NATIVE_MODELS)/hf -o $(NATIVE_TINY_INT8) --name tiny-int8 --quant int8

$(NATIVE_BERT): | build
	$(EDGEGUARD) synthesize --shape bert-tiny --tokenizer tests/data/tokenizers/bert-uncased-minilm -o $@.tmp --seed 7 && mv $@.tmp $@

$(NATIVE_ROBERTA): | build
	$(EDGEGUARD) synthesize --shape roberta-tiny --tokenizer tests/data/tokenizers/bpe-roberta-small -o $@.tmp --seed 7 && mv $@.tmp $@

native-test-models: $(NATIVE_TEST_MODELS)

# The C programs, built with the system cc through pkg-config, as a product would build them.
NATIVE_BIN := artifacts/native-tests
# The example is C99 (what the header promises); the tests use C11 for _Static_assert.
NATIVE_CFLAGS := -O1 -g -Wall -Wextra -Werror -pedantic
NATIVE_C99 := -std=c99 $(NATIVE_CFLAGS)
NATIVE_C11 := -std=c11 $(NATIVE_CFLAGS)
NATIVE_C_EXAMPLE := examples/c/classify.c
NATIVE_ABI_TESTS := tests/native/abi_tests.c
pkg-x64 = PKG_CONFIG_PATH=$(CURDIR)/$(NATIVE_X64)/lib/pkgconfig pkg-config

$(NATIVE_BIN)/x64/classify: $(NATIVE_C_EXAMPLE) $(NATIVE_X64)/lib/libedgeguard.so.1
	@mkdir -p $(@D)
	cc $(NATIVE_C99) $< $$($(pkg-x64) --cflags --libs edgeguard) -Wl,-rpath,'$$ORIGIN/../../lib/linux-x64/lib' -o $@
$(NATIVE_BIN)/x64/abi_tests: $(NATIVE_ABI_TESTS) $(NATIVE_X64)/lib/libedgeguard.so.1
	@mkdir -p $(@D)
	cc $(NATIVE_C11) $< $$($(pkg-x64) --cflags --libs edgeguard) -pthread -Wl,-rpath,'$$ORIGIN/../../lib/linux-x64/lib' -o $@
$(NATIVE_BIN)/x64/classify-static: $(NATIVE_C_EXAMPLE) $(NATIVE_X64)/lib/libedgeguard.so.1
	@mkdir -p $(@D)
	cc $(NATIVE_C99) $< $$($(pkg-x64) --cflags --libs edgeguard-static) -o $@
$(NATIVE_BIN)/arm64/classify: $(NATIVE_C_EXAMPLE) $(NATIVE_ARM64)/lib/libedgeguard.so.1 | publish-arm64-toolchain
	@mkdir -p $(@D)
	aarch64-linux-gnu-gcc $(NATIVE_C99) $< -I$(NATIVE_ARM64)/include -L$(NATIVE_ARM64)/lib -ledgeguard -Wl,-rpath,'$$ORIGIN/../../lib/$(NATIVE_ARM64_PROFILE)/lib' -o $@
$(NATIVE_BIN)/arm64/abi_tests: $(NATIVE_ABI_TESTS) $(NATIVE_ARM64)/lib/libedgeguard.so.1 | publish-arm64-toolchain
	@mkdir -p $(@D)
	aarch64-linux-gnu-gcc $(NATIVE_C11) $< -I$(NATIVE_ARM64)/include -L$(NATIVE_ARM64)/lib -ledgeguard -pthread -Wl,-rpath,'$$ORIGIN/../../lib/$(NATIVE_ARM64_PROFILE)/lib' -o $@

TEST_TARGETS += test-native
test-native: test-native-c test-native-valgrind test-native-static test-native-python test-native-rust test-native-arm64

test-native-c: $(NATIVE_BIN)/x64/classify $(NATIVE_BIN)/x64/abi_tests native-test-models
	@echo "== C example, linux-x64, default model"
	$(NATIVE_BIN)/x64/classify $(DEFAULT_MODEL)
	@echo "== C ABI tests, linux-x64"
	$(NATIVE_BIN)/x64/abi_tests $(NATIVE_TEST_MODELS) $(DEFAULT_MODEL)

# Memory errors (invalid reads and writes, uses of uninitialised values) and memory the library loses fail the run.
# "Possibly lost" blocks are the runtime's threads (GC, finalizer, workers), alive by design when the program exits.
NATIVE_VALGRIND := valgrind --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect

test-native-valgrind: $(NATIVE_BIN)/x64/classify $(NATIVE_BIN)/x64/abi_tests native-test-models
	@command -v valgrind >/dev/null || { echo "installing valgrind"; apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind; }
	@echo "== C example under Valgrind memcheck"
	$(NATIVE_VALGRIND) $(NATIVE_BIN)/x64/classify $(DEFAULT_MODEL)
	@echo "== C ABI tests under Valgrind memcheck"
	$(NATIVE_VALGRIND) $(NATIVE_BIN)/x64/abi_tests $(NATIVE_TEST_MODELS)

test-native-static: $(NATIVE_BIN)/x64/classify-static
	@echo "== C example linked statically (libedgeguard.a), linux-x64"
	$(NATIVE_BIN)/x64/classify-static $(DEFAULT_MODEL)

test-native-python: $(NATIVE_X64)/lib/libedgeguard.so.1 native-test-models | setup-python
	@echo "== Python example (ctypes), linux-x64"
	EDGEGUARD_LIBRARY=$(NATIVE_X64)/lib/libedgeguard.so.1 $(PYTHON) examples/python/classify.py $(DEFAULT_MODEL)
	@echo "== Python binding tests"
	EDGEGUARD_LIBRARY=$(CURDIR)/$(NATIVE_X64)/lib/libedgeguard.so.1 EDGEGUARD_TEST_MODEL=$(CURDIR)/$(NATIVE_TINY) \
	  EDGEGUARD_CLI="$(DOTNET) $(CURDIR)/$(CLI_DLL)" $(PYTHON) -m pytest -q -p no:cacheprovider tests/native/test_python_binding.py

# Rust, when a toolchain is at hand (the example has no dependencies, so it builds offline).
test-native-rust: $(NATIVE_X64)/lib/libedgeguard.so.1
	@if command -v cargo >/dev/null; then \
	  echo "== Rust example, linux-x64"; \
	  EDGEGUARD_LIB_DIR=$(CURDIR)/$(NATIVE_X64)/lib cargo run -q --offline --release \
	    --manifest-path examples/rust/Cargo.toml --target-dir $(CURDIR)/$(NATIVE_BIN)/rust -- $(DEFAULT_MODEL); \
	else echo "== Rust example skipped: no cargo"; fi

NATIVE_QEMU = QEMU_LD_PREFIX=/usr/aarch64-linux-gnu timeout $(ARM64_TIMEOUT) qemu-aarch64-static -cpu $(1)

test-native-arm64: arm64-prereqs publish-arm64-toolchain $(NATIVE_BIN)/arm64/classify $(NATIVE_BIN)/arm64/abi_tests native-test-models
	@echo "== C example, linux-arm64 ($(NATIVE_ARM64_PROFILE) library) under qemu -cpu cortex-a76"
	$(call NATIVE_QEMU,cortex-a76) $(NATIVE_BIN)/arm64/classify $(DEFAULT_MODEL)
	@echo "== C ABI tests, linux-arm64 ($(NATIVE_ARM64_PROFILE) library) under qemu -cpu cortex-a76"
	$(call NATIVE_QEMU,cortex-a76) $(NATIVE_BIN)/arm64/abi_tests $(NATIVE_TEST_MODELS) $(DEFAULT_MODEL)
	@echo "== the $(NATIVE_ARM64_PROFILE) library on a CPU without dot product: qemu -cpu cortex-a72"
	$(call NATIVE_QEMU,cortex-a72) $(NATIVE_BIN)/arm64/abi_tests --unsupported-cpu $(NATIVE_ARM64_PROFILE) $(NATIVE_TINY)
