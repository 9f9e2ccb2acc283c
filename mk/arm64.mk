# The kernel test suite for linux-arm64 under qemu user emulation, twice: Cortex-A76 (dot product, Pi 5) and
# Cortex-A72 (no dot product, Pi 4). Recipe and pitfalls: ../shared/ARM64-QEMU.md. qemu proves correctness only,
# never speed. Nothing arm64 is installed system-wide: the runner's libssl lives in the ignored .arm64/ folder.
ARM64_DIR := .arm64
ARM64_TESTS := $(ARM64_DIR)/kernels-tests
ARM64_SSL := $(ARM64_DIR)/root/usr/lib/aarch64-linux-gnu
ARM64_APT := -oAPT::Architecture=arm64 -oAPT::Architectures=arm64 -oDir::State::Lists=$(CURDIR)/$(ARM64_DIR)/lists -oDir::Cache=$(CURDIR)/$(ARM64_DIR)/cache
# Each emulated run is bounded: a hang (see the recipe's warning about system-wide arm64 libraries) fails the build.
ARM64_TIMEOUT ?= 900

TEST_TARGETS += test-arm64

.PHONY: test-arm64 test-arm64-a76 test-arm64-a72 arm64-prereqs arm64-publish

arm64-prereqs:
	@if ! command -v qemu-aarch64-static >/dev/null || [ ! -d /usr/aarch64-linux-gnu/lib ]; then \
	  echo "installing qemu-user-static and the arm64 cross C/C++ runtimes"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross; \
	fi
	@if [ ! -d $(ARM64_SSL) ]; then \
	  mkdir -p $(ARM64_DIR)/lists/partial $(ARM64_DIR)/cache/archives/partial && \
	  apt-get $(ARM64_APT) update -q && (cd $(ARM64_DIR) && apt-get $(ARM64_APT) download libssl3) && \
	  dpkg -x $$(ls $(ARM64_DIR)/libssl3_*_arm64.deb | head -1) $(ARM64_DIR)/root; \
	fi

arm64-publish:
	$(DOTNET) publish tests/EdgeGuard.Kernels.Tests -c $(CONFIG) -r linux-arm64 --self-contained --nologo -v quiet -o $(ARM64_TESTS)

# Runs the published suite under one emulated CPU; the xunit v3 executable exits non-zero on any failure.
# W^X off: the runtime writes JIT code through a second (writable) mapping, which qemu's translation cache does not
# notice, so emulated threads ran stale code (random NullReference/TargetException failures, illegal instructions).
define arm64-run
	QEMU_LD_PREFIX=/usr/aarch64-linux-gnu DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_EnableWriteXorExecute=0 LD_LIBRARY_PATH=$(CURDIR)/$(ARM64_SSL) \
	  timeout $(ARM64_TIMEOUT) qemu-aarch64-static -cpu $(1) $(ARM64_TESTS)/EdgeGuard.Kernels.Tests -noColor -parallel none
endef

test-arm64-a76: arm64-prereqs arm64-publish
	@echo "== kernel tests, linux-arm64 under qemu -cpu cortex-a76 (dot product)"
	$(call arm64-run,cortex-a76)

test-arm64-a72: arm64-prereqs arm64-publish
	@echo "== kernel tests, linux-arm64 under qemu -cpu cortex-a72 (no dot product)"
	$(call arm64-run,cortex-a72)

test-arm64: test-arm64-a76 test-arm64-a72
