# edgeguardd: the guard daemon. Its tests run in `make test` through EdgeGuard.sln; nothing is added to TEST_TARGETS.
DAEMON_DLL := src/EdgeGuard.Daemon/bin/$(CONFIG)/net10.0/edgeguardd.dll
# NativeAOT target: make publish-daemon [RID=linux-arm64] or make publish-daemon PROFILE=name
RID ?= linux-x64
PROFILE ?=
# A profile names its own runtime identifier and instruction sets (firmware-profiles/*.json, read as in publish.mk).
DAEMON_RID = $(if $(PROFILE),$(call profile-field,rid),$(RID))
DAEMON_OUT = artifacts/edgeguardd/$(DAEMON_RID)$(if $(PROFILE),-$(PROFILE))
# NativeAOT links with clang when it is there, else with gcc (Debian: apt-get install clang, or build-essential).
AOT_LINKER := $(if $(shell command -v clang 2>/dev/null),,-p:CppCompilerAndLinker=gcc)
# Soak: minutes of load against a running daemon (not in CI).
SOAK_MINUTES ?= 10

.PHONY: daemon run-daemon publish-daemon soak

daemon:
	$(DOTNET) build src/EdgeGuard.Daemon -c $(CONFIG) --nologo -v quiet

# Serves the default model (or MODEL=...) on 127.0.0.1:8088.
run-daemon: daemon
	$(DOTNET) $(DAEMON_DLL) $(if $(MODEL),--model "$(MODEL)")

publish-daemon:
	@if [ -n "$(PROFILE)" ] && [ ! -f "firmware-profiles/$(PROFILE).json" ]; then \
		echo "publish-daemon: firmware-profiles/$(PROFILE).json does not exist" >&2; exit 2; fi
	$(if $(filter linux-arm64,$(DAEMON_RID)),$(MAKE) --no-print-directory publish-arm64-toolchain)
	rm -rf $(DAEMON_OUT)
	$(DOTNET) publish src/EdgeGuard.Daemon -c Release -r $(DAEMON_RID) --nologo -v quiet \
		-p:PublishAot=true -p:StripSymbols=true -p:DebugType=none -p:GenerateDocumentationFile=false \
		$(if $(PROFILE),-p:IlcInstructionSet=$(subst $(COMMA),%2C,$(call profile-field,ilcInstructionSet))) \
		$(if $(filter linux-arm64,$(DAEMON_RID)),-p:CppCompilerAndLinker=clang-14 -p:ObjCopyName=aarch64-linux-gnu-objcopy,$(AOT_LINKER)) \
		-o $(DAEMON_OUT)
	@if [ -n "$(PROFILE)" ]; then mkdir -p $(DAEMON_OUT)/firmware-profiles && cp firmware-profiles/$(PROFILE).json $(DAEMON_OUT)/firmware-profiles/; fi
	@ls -l $(DAEMON_OUT)/edgeguardd | awk '{ printf "%s: %.1f MiB\n", $$9, $$5 / 1048576 }'

soak: build
	deploy/soak.sh $(SOAK_MINUTES)
