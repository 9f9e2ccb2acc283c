# edgeguardd: the guard daemon. Its tests run in `make test` through EdgeGuard.sln; nothing is added to TEST_TARGETS.
DAEMON_DLL := src/EdgeGuard.Daemon/bin/$(CONFIG)/net10.0/edgeguardd.dll
# NativeAOT target and optional firmware profile: make publish-daemon [RID=linux-arm64] [PROFILE=name]
RID ?= linux-x64
PROFILE ?=
DAEMON_OUT = artifacts/edgeguardd/$(RID)$(if $(PROFILE),-$(PROFILE))
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
	rm -rf $(DAEMON_OUT)
	$(DOTNET) publish src/EdgeGuard.Daemon -c Release -r $(RID) --nologo -v quiet \
		-p:PublishAot=true $(AOT_LINKER) -o $(DAEMON_OUT)
	@if [ -n "$(PROFILE)" ]; then mkdir -p $(DAEMON_OUT)/firmware-profiles && cp firmware-profiles/$(PROFILE).json $(DAEMON_OUT)/firmware-profiles/; fi
	@ls -l $(DAEMON_OUT)/edgeguardd

soak: build
	deploy/soak.sh $(SOAK_MINUTES)
