# make publish PROFILE=<name>: a trimmed NativeAOT single binary of the CLI for one firmware profile
# (firmware-profiles/<name>.json: runtime identifier, IlcInstructionSet, int8 kernel) in artifacts/publish/<name>/.
# arm64 profiles cross-link with clang --target=aarch64-linux-gnu and the aarch64 GNU toolchain (installed when missing).
# The binary has no ONNX Runtime backend unless EDGEGUARD_ONNX=true asks for it (then libonnxruntime.so ships beside it).
PROFILE ?=
EDGEGUARD_ONNX ?=
PROFILE_FILE = firmware-profiles/$(PROFILE).json
# $(call json-field,name,file): a string field of a firmware profile
json-field = $(shell sed -n 's/^ *"$(1)": *"\([^"]*\)".*/\1/p' $(2))
profile-field = $(call json-field,$(1),$(PROFILE_FILE))
PUBLISH_DIR = artifacts/publish/$(PROFILE)
COMMA := ,

.PHONY: publish publish-arm64-toolchain

publish-arm64-toolchain:
	@if ! command -v aarch64-linux-gnu-gcc >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc-aarch64-linux-gnu g++-aarch64-linux-gnu; \
	fi

publish: $(if $(filter linux-arm64,$(if $(PROFILE),$(call profile-field,rid))),publish-arm64-toolchain)
	@test -n "$(PROFILE)" || { echo "usage: make publish PROFILE=<$$(ls firmware-profiles | sed 's/\.json$$//' | paste -sd'|')>"; exit 2; }
	@test -f $(PROFILE_FILE) || { echo "no firmware profile $(PROFILE_FILE)"; exit 2; }
	rm -rf $(PUBLISH_DIR)
	$(DOTNET) publish src/EdgeGuard.Cli -c $(CONFIG) -r $(call profile-field,rid) --nologo -v quiet -o $(PUBLISH_DIR) \
	  -p:PublishAot=true -p:StripSymbols=$(if $(KEEP_SYMBOLS),false,true) -p:IlcInstructionSet=$(subst $(COMMA),%2C,$(call profile-field,ilcInstructionSet)) \
	  -p:EdgeGuardProfile=$(PROFILE) -p:EdgeGuardInt8Kernel=$(call profile-field,int8Kernel) \
	  $(if $(filter linux-arm64,$(call profile-field,rid)),-p:CppCompilerAndLinker=clang-14 -p:ObjCopyName=aarch64-linux-gnu-objcopy) \
	  $(if $(EDGEGUARD_ONNX),-p:EdgeGuardOnnx=$(EDGEGUARD_ONNX)) -p:GenerateDocumentationFile=false -p:DebugType=none
	@# The assembly keeps its name (EdgeGuard.Cli: see the project file); the command is edgeguard.
	mv $(PUBLISH_DIR)/EdgeGuard.Cli $(PUBLISH_DIR)/edgeguard
	@ls -l $(PUBLISH_DIR)/edgeguard | awk '{ printf "%s: %.1f MiB\n", $$9, $$5 / 1048576 }'
