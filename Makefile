# EdgeGuard build entry points. `make run` and `make test` are the two set-up commands of the README.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

CLI_DLL := src/EdgeGuard.Cli/bin/$(CONFIG)/net10.0/EdgeGuard.Cli.dll
EDGEGUARD := $(DOTNET) $(CLI_DLL)
# The text `make run` classifies; override with TEXT="..." (and RESPONSE="..." for a pair).
TEXT ?= How do I bake sourdough bread at home?
RESPONSE ?=

# Parts of the project add their own targets in mk/*.mk; each appends what `make test` must also run to TEST_TARGETS.
TEST_TARGETS := test-dotnet
-include mk/*.mk

.PHONY: all build test test-dotnet run clean

all: build

build:
	$(DOTNET) build EdgeGuard.sln -c $(CONFIG) --nologo -v quiet

test: $(TEST_TARGETS)

test-dotnet: build
	$(DOTNET) test EdgeGuard.sln -c $(CONFIG) --no-build --nologo -v quiet

run: build
	$(EDGEGUARD) classify "$(TEXT)" $(if $(RESPONSE),--response "$(RESPONSE)")

clean:
	$(DOTNET) clean EdgeGuard.sln -c $(CONFIG) --nologo -v quiet
	rm -rf artifacts
