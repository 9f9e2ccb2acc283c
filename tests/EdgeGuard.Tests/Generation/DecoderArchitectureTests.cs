using System.Text.Json.Nodes;
using EdgeGuard.Generation.Decoding;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;
using EdgeGuard.Models.Gpt2;
using EdgeGuard.Models.Llama;
using EdgeGuard.Testing;
using EdgeGuard.Tooling;
using TempDirectory = EdgeGuard.Tests.Bundle.TempDirectory;

namespace EdgeGuard.Tests.Generation;

/// <summary>The decoder registry entries: what they accept, what they refuse naming the field, and what they are not.</summary>
public sealed class DecoderArchitectureTests
{
    [Theory]
    [InlineData("llama", typeof(LlamaArchitecture))]
    [InlineData("qwen2", typeof(LlamaArchitecture))]
    [InlineData("gpt2", typeof(Gpt2Architecture))]
    public void Registry_KnowsTheDecoders(string modelType, Type type)
    {
        ModelArchitecture architecture = ModelArchitectures.Get(modelType, "test");
        Assert.IsType(type, architecture);
        Assert.True(architecture.IsDecoder);
        Assert.False(architecture.IsClassifier);
        Assert.Equal("hf-tokenizer-json", architecture.TokenizerKind);
    }

    [Fact]
    public void Synthesize_DecoderShape_WritesALlamaTheRuntimeRunsInBothPrecisions()
    {
        // The random-weight decoders the decode benchmark runs: every tensor a Llama of the shape holds, norm gains 1.
        using var directory = new TempDirectory();
        string tokenizer = System.IO.Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", "smollm-small");
        long parameters = SyntheticModel.Write(ModelShape.Get("llama-tiny"), tokenizer, directory.Path, vocabSize: 6016, seed: 3);
        Assert.Equal((6016 * 64) + (2 * ((64 * 64 * 2) + (64 * 32 * 2) + (3 * 64 * 128) + (2 * 64))) + 64, parameters);

        JsonNode config = JsonNode.Parse(File.ReadAllText(directory.File("config.json")))!;
        Assert.Equal(("llama", 2, true), ((string)config["model_type"]!, (int)config["num_key_value_heads"]!, (bool)config["tie_word_embeddings"]!));
        foreach (ModelPrecision precision in new[] { ModelPrecision.Float32, ModelPrecision.Int8 })
        {
            using DecoderModel model = DecoderModel.Open(directory.Path, precision, threads: 1);
            DecoderSession session = model.CreateSession();
            float[] logits = session.Prefill([1, 2, 3]).ToArray();
            Assert.Equal(6016, logits.Length);
            Assert.All(logits, v => Assert.True(float.IsFinite(v)));
            Assert.True(logits.Max() - logits.Min() > 1e-3f, "random weights give logits that differ");
        }
    }

    [Theory]
    [InlineData("spm-bpe-small", "tokenizer.model", "spm-bpe")]
    [InlineData("qwen2-small", "tokenizer.json", "hf-tokenizer-json")]
    public void Directory_TokenizerKind_IsTheOneItsFilesHold(string tokenizer, string file, string kind)
    {
        // A Llama directory may hold Llama 2's SentencePiece model or a tokenizer.json; the files decide, not the family.
        using var directory = new TempDirectory();
        foreach (string name in new[] { "config.json", "model.safetensors" })
        {
            File.Copy(System.IO.Path.Combine(DecoderFixtures.Path("llama-gqa-tied"), name), directory.File(name));
        }

        File.Copy(System.IO.Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", tokenizer, file), directory.File(file));
        using var source = ModelSource.Open(directory.Path);
        Assert.Equal(kind, source.TokenizerFiles.Kind);
        Assert.True(source.TokenizerFiles.Find(file).HasValue);
    }

    [Fact]
    public void Classifiers_AreNotDecodersAndSayWhyWhenAskedForOne()
    {
        foreach (string type in new[] { "deberta-v2", "bert", "roberta" })
        {
            Assert.False(ModelArchitectures.Get(type, "test").IsDecoder);
        }

        using var source = ModelSource.Open(RepoPaths.DebertaTestModel);
        var e = Assert.Throws<ModelFileException>(() => source.LoadDecoder(DecoderFixtures.Pool));
        Assert.Contains("model_type=\"deberta-v2\" is a sequence classifier, not a decoder language model", e.Message);
    }

    [Fact]
    public void Decoders_RefuseToLoadAsAClassifierOrAGuard()
    {
        using (var source = ModelSource.Open(DecoderFixtures.Path("gpt2-long")))
        {
            var e = Assert.Throws<ModelFileException>(() => source.LoadClassifier(DecoderFixtures.Pool));
            Assert.Contains("model_type=\"gpt2\" is a decoder language model, not a sequence classifier", e.Message);
        }

        var guard = Assert.Throws<ModelFileException>(() => Guard.Open(DecoderFixtures.Path("llama-gqa-tied")));
        Assert.Contains("decoder language model", guard.Message);
    }

    [Theory]
    [InlineData("llama-gqa-tied", "hidden_size", 48, "hidden_size=48 does not match the weights")]
    [InlineData("llama-gqa-tied", "vocab_size", 161, "vocab_size=161 does not match the weights")]
    [InlineData("llama-gqa-tied", "num_hidden_layers", 3, "num_hidden_layers=3 does not match the weights")]
    [InlineData("llama-gqa-tied", "num_key_value_heads", 4, "num_key_value_heads=4 does not match the weights")]
    [InlineData("llama-gqa-tied", "intermediate_size", 65, "intermediate_size=65 does not match the weights")]
    [InlineData("llama-head-dim-odd-heads", "head_dim", 10, "num_attention_heads=5 does not match the weights")]
    [InlineData("qwen2-gqa-bias-untied", "num_attention_heads", 7, "num_attention_heads=7 is not a multiple of num_key_value_heads=2")]
    [InlineData("gpt2-long", "n_positions", 1024, "n_positions=1024 does not match the weights")]
    [InlineData("gpt2-long", "n_inner", 64, "n_inner=64 does not match the weights")]
    [InlineData("gpt2-bare-names-odd-heads", "n_layer", 1, "tensor 'h.1.attn.bias' belongs to layer 1")]
    public void Config_WhoseSizesDisagreeWithTheTensors_IsRefusedNamingTheField(string fixture, string field, int value, string expected)
    {
        using var copy = DecoderFixtures.CopyWithConfig(fixture, c => c[field] = value);
        var e = Assert.Throws<ModelFileException>(() => ModelSource.Open(copy.Path).Dispose());
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("llama-gqa-tied", "{\"rope_type\":\"yarn\",\"factor\":4.0}", "rope_scaling.rope_type=\"yarn\" is not supported")]
    [InlineData("llama-gqa-tied", "{\"type\":\"linear\",\"factor\":2.0}", "rope_scaling.rope_type=\"linear\" is not supported")]
    [InlineData("llama-gqa-tied", "{\"rope_type\":\"llama3\",\"factor\":8.0}", "rope_scaling.low_freq_factor and high_freq_factor must be")]
    [InlineData("qwen2-tied-one-kv-head", "{\"rope_type\":\"dynamic\",\"factor\":2.0}", "rope_scaling.rope_type=\"dynamic\" is not supported")]
    public void UnknownOrIncompleteRopeScaling_IsRefusedNamingTheField(string fixture, string scaling, string expected)
    {
        using var copy = DecoderFixtures.CopyWithConfig(fixture, c => c["rope_scaling"] = JsonNode.Parse(scaling));
        var e = Assert.Throws<ModelFileException>(() => ModelSource.Open(copy.Path).Dispose());
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("qwen2-gqa-bias-untied", "use_sliding_window", "true", "use_sliding_window=true is not supported")]
    [InlineData("llama-gqa-tied", "hidden_act", "\"gelu\"", "hidden_act=\"gelu\" is not supported")]
    [InlineData("llama-gqa-tied", "attention_bias", "true", "attention_bias=true is not supported")]
    [InlineData("llama-gqa-tied", "partial_rotary_factor", "0.5", "partial_rotary_factor=0.5 is not supported")]
    [InlineData("gpt2-long", "activation_function", "\"relu\"", "activation_function=\"relu\" is not supported")]
    [InlineData("gpt2-long", "scale_attn_by_inverse_layer_idx", "true", "scale_attn_by_inverse_layer_idx=true is not supported")]
    [InlineData("llama-gqa-tied", "num_attention_heads", "6", "hidden_size=32 is not divisible by num_attention_heads=6")]
    public void UnsupportedVariant_IsRefusedNamingTheField(string fixture, string field, string json, string expected)
    {
        using var copy = DecoderFixtures.CopyWithConfig(fixture, c => c[field] = JsonNode.Parse(json));
        var e = Assert.Throws<ModelFileException>(() => ModelSource.Open(copy.Path).Dispose());
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("llama-one-kv-head-untied", "{\"rope_theta\":500000.0,\"rope_type\":\"default\"}")]
    [InlineData("llama3-rope-long", "{\"rope_theta\":10000.0,\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":64}")]
    public void RopeParameters_AsTransformers5WritesThem_GiveTheFixturesLogits(string fixture, string parameters)
    {
        using var copy = DecoderFixtures.CopyWithConfig(fixture, c =>
        {
            c.Remove("rope_theta");
            c.Remove("rope_scaling");
            c["rope_parameters"] = JsonNode.Parse(parameters);
        });
        using var pool = new WorkerPool(1);
        using var source = ModelSource.Open(copy.Path);
        float[] expected = DecoderFixtures.Model(fixture).CreateSession().Prefill([9, 8, 7, 6, 5, 4, 3]).ToArray();
        Assert.Equal(expected, DecoderModel.Load(source, pool).CreateSession().Prefill([9, 8, 7, 6, 5, 4, 3]).ToArray());

        // Without them the base would silently be 10000 (or no scaling): the fixture notices.
        using var bare = DecoderFixtures.CopyWithConfig(fixture, c =>
        {
            c.Remove("rope_theta");
            c.Remove("rope_scaling");
        });
        using var bareSource = ModelSource.Open(bare.Path);
        Assert.NotEqual(expected, DecoderModel.Load(bareSource, pool).CreateSession().Prefill([9, 8, 7, 6, 5, 4, 3]).ToArray());
    }

    [Theory]
    [InlineData("{\"full_attention\":{\"rope_theta\":10000.0},\"sliding_attention\":{\"rope_theta\":10000.0}}", "rope_parameters gives neither rope_theta nor rope_type")]
    [InlineData("{\"rope_theta\":20000.0,\"rope_type\":\"default\"}", "rope_theta=10000 disagrees with rope_parameters.rope_theta=20000")]
    [InlineData("{\"rope_theta\":10000.0,\"rope_type\":\"yarn\",\"factor\":4.0}", "rope_parameters.rope_type=\"yarn\" is not supported")]
    [InlineData("{\"rope_theta\":10000.0,\"partial_rotary_factor\":0.5}", "rope_parameters.partial_rotary_factor=0.5 is not supported")]
    public void RopeParameters_ThatAreUnsupportedOrContradictory_AreRefused(string parameters, string expected)
    {
        using var copy = DecoderFixtures.CopyWithConfig("llama-gqa-tied", c => c["rope_parameters"] = JsonNode.Parse(parameters));
        var e = Assert.Throws<ModelFileException>(() => ModelSource.Open(copy.Path).Dispose());
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void UntiedConfig_OverWeightsWithoutAHead_IsRefusedNamingTieWordEmbeddings()
    {
        using var copy = DecoderFixtures.CopyWithConfig("llama-gqa-tied", c => c["tie_word_embeddings"] = false);
        var e = Assert.Throws<ModelFileException>(() => ModelSource.Open(copy.Path).Dispose());
        Assert.Contains("tie_word_embeddings=false but", e.Message);
        Assert.Contains("has no tensor 'lm_head.weight'", e.Message);
    }

    [Fact]
    public void TiedConfig_WithAStoredHeadOfAnotherShape_IsRefused()
    {
        using var copy = DecoderFixtures.CopyWithExtraTensor("qwen2-tied-one-kv-head", "lm_head.weight", [100, 32]);
        var e = Assert.Throws<ModelFileException>(() => ModelSource.Open(copy.Path).Dispose());
        Assert.Contains("tie_word_embeddings=true but tensor 'lm_head.weight'", e.Message);
        Assert.Contains("[100, 32]", e.Message);
    }

    [Fact]
    public void TiedConfig_WithAStoredHeadOfTheTablesShape_UsesTheTableAsHuggingFaceDoes()
    {
        using var copy = DecoderFixtures.CopyWithExtraTensor("qwen2-tied-one-kv-head", "lm_head.weight", [136, 32]);
        using var pool = new WorkerPool(1);
        using var source = ModelSource.Open(copy.Path);
        DecoderModel model = DecoderModel.Load(source, pool);
        float[] expected = DecoderFixtures.Model("qwen2-tied-one-kv-head").CreateSession().Prefill([4, 5]).ToArray();
        Assert.Equal(expected, model.CreateSession().Prefill([4, 5]).ToArray());
    }

    [Fact]
    public void Gpt2_ReadsTheTwoNamingsOfItsTensors()
    {
        using var source = ModelSource.Open(DecoderFixtures.Path("gpt2-bare-names-odd-heads"));
        Assert.NotNull(source.Weights.Find("h.0.attn.c_attn.weight"));
        Assert.Null(source.Weights.Find("transformer.h.0.attn.c_attn.weight"));
        using var named = ModelSource.Open(DecoderFixtures.Path("gpt2-long"));
        Assert.NotNull(named.Weights.Find("transformer.h.0.attn.c_attn.weight"));
    }
}
