using EdgeGuard.Generation.Decoding;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Models;

namespace EdgeGuard.Tests.Generation;

/// <summary>Decoder directories converted to bundles (float32 and int8) run exactly as the directory does and carry llama.cpp's GGUF keys.</summary>
public sealed class DecoderBundleTests
{
    // Tokenizer files are carried byte for byte; their content is the tokenizer's business.
    private const string TokenizerJson = """{"version":"1.0","model":{"type":"BPE","vocab":{},"merges":[]}}""";

    [Theory]
    [InlineData("llama-one-kv-head-untied", false)]
    [InlineData("qwen2-gqa-bias-untied", false)]
    [InlineData("gpt2-bare-names-odd-heads", false)]
    [InlineData("llama-gqa-tied", true)]
    [InlineData("qwen2-tied-one-kv-head", true)]
    [InlineData("gpt2-long", true)]
    public void Bundle_OfADecoderDirectory_GivesTheDirectorysLogits(string fixture, bool int8)
    {
        using var copy = DecoderFixtures.CopyWithConfig(fixture, _ => { });
        File.WriteAllText(copy.File("tokenizer.json"), TokenizerJson);
        string bundlePath = copy.File("model.gguf");
        using var pool = new WorkerPool(1);
        using (var directory = ModelSource.Open(copy.Path))
        {
            BundleConversion.Write(directory, bundlePath, classifier: null, int8, PackedInt8Matrix.FullWeightLimit, name: fixture);
        }

        int[] prompt = [3, 17, 42, 5, 99, 7];
        float[] expected, actual;
        using (var directory = ModelSource.Open(copy.Path))
        {
            DecoderModel model = DecoderModel.Load(directory, pool, int8 ? ModelPrecision.Int8 : ModelPrecision.Float32, PackedInt8Matrix.FullWeightLimit);
            expected = DecoderFixtures.PrefillAndStepLogits(model, prompt);
        }

        using (var bundle = ModelSource.Open(bundlePath))
        {
            Assert.Equal(ModelSource.BundleFormatName, bundle.Format);
            Assert.Equal(int8 ? BundleFormat.PrecisionInt8 : BundleFormat.PrecisionF32, bundle.Precision);
            Assert.False(bundle.Bundle!.IsClassifier);
            Assert.Equal("hf-tokenizer-json", bundle.TokenizerFiles.Kind);
            Assert.Equal(TokenizerJson, System.Text.Encoding.UTF8.GetString(bundle.TokenizerFiles.Files["tokenizer.json"].Span));
            DecoderModel model = DecoderModel.Load(bundle, pool);
            Assert.Equal(int8 ? ModelPrecision.Int8 : ModelPrecision.Float32, model.Precision);
            actual = DecoderFixtures.PrefillAndStepLogits(model, prompt);
        }

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Bundle_CarriesLlamaCppKeysAndTheConfigAsWritten()
    {
        using var copy = DecoderFixtures.CopyWithConfig("llama-one-kv-head-untied", _ => { });
        File.WriteAllText(copy.File("tokenizer.json"), TokenizerJson);
        using (var directory = ModelSource.Open(copy.Path))
        {
            BundleConversion.Write(directory, copy.File("model.gguf"), classifier: null, int8: false);
        }

        using var bundle = ModelBundle.Open(copy.File("model.gguf"));
        Assert.Equal("llama", bundle.Architecture);
        Assert.Equal(64u, bundle.Metadata["llama.context_length"]);
        Assert.Equal(48u, bundle.Metadata["llama.embedding_length"]);
        Assert.Equal(2u, bundle.Metadata["llama.block_count"]);
        Assert.Equal(80u, bundle.Metadata["llama.feed_forward_length"]);
        Assert.Equal(3u, bundle.Metadata["llama.attention.head_count"]);
        Assert.Equal(1u, bundle.Metadata["llama.attention.head_count_kv"]);
        Assert.Equal(500000f, bundle.Metadata["llama.rope.freq_base"]);
        Assert.Equal(1e-5f, bundle.Metadata["llama.attention.layer_norm_rms_epsilon"]);
        Assert.Equal(16u, bundle.Metadata["llama.rope.dimension_count"]);
        Assert.Contains("\"eos_token_id\":2", bundle.ConfigJson);
    }

    [Fact]
    public void Gpt2Bundle_CarriesItsLlamaCppKeys()
    {
        using var copy = DecoderFixtures.CopyWithConfig("gpt2-bare-names-odd-heads", _ => { });
        File.WriteAllText(copy.File("tokenizer.json"), TokenizerJson);
        using (var directory = ModelSource.Open(copy.Path))
        {
            BundleConversion.Write(directory, copy.File("model.gguf"), classifier: null, int8: false);
        }

        using var bundle = ModelBundle.Open(copy.File("model.gguf"));
        Assert.Equal(48u, bundle.Metadata["gpt2.context_length"]);
        Assert.Equal(36u, bundle.Metadata["gpt2.embedding_length"]);
        Assert.Equal(60u, bundle.Metadata["gpt2.feed_forward_length"]);
        Assert.Equal(3u, bundle.Metadata["gpt2.attention.head_count"]);
        Assert.Equal(1e-5f, bundle.Metadata["gpt2.attention.layer_norm_epsilon"]);
        Assert.False(bundle.Metadata.ContainsKey("gpt2.attention.head_count_kv"));
    }

    [Fact]
    public void ArchitectureMetadata_OutsideTheArchitecturesNamespace_IsRefused()
    {
        using var copy = DecoderFixtures.CopyWithConfig("llama-gqa-tied", _ => { });
        using var directory = ModelSource.Open(copy.Path);
        var contents = new BundleContents(
            "llama", directory.Config.ToJson(), new BundleTokenizer("hf-tokenizer-json", new Dictionary<string, byte[]> { ["tokenizer.json"] = [1] }), null,
            BundleFormat.PrecisionF32, null, null, [new("edgeguard.precision", EdgeGuard.ModelFiles.Gguf.GgufValue.FromString("int8"))]);
        var e = Assert.Throws<ArgumentException>(() => BundleWriter.Write(copy.File("x.gguf"), contents, directory.Weights));
        Assert.Contains("is not a key under 'llama.'", e.Message);
    }

    [Fact]
    public void DecoderModelOpen_OfABundle_OwnsItsFiles()
    {
        using var copy = DecoderFixtures.CopyWithConfig("llama3-rope-long", _ => { });
        File.WriteAllText(copy.File("tokenizer.json"), TokenizerJson);
        using (var directory = ModelSource.Open(copy.Path))
        {
            BundleConversion.Write(directory, copy.File("model.gguf"), classifier: null, int8: false);
        }

        float[] expected = DecoderFixtures.PrefillAndStepLogits(DecoderFixtures.Model("llama3-rope-long"), [1, 2, 3]);
        using var model = DecoderModel.Open(copy.File("model.gguf"), threads: 1);
        Assert.Equal(expected, DecoderFixtures.PrefillAndStepLogits(model, [1, 2, 3]));
    }
}
