using EdgeGuard.Generation;
using EdgeGuard.Generation.Logits;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Models;

namespace EdgeGuard.Tests.Generation;

/// <summary>A decoder's generation_config.json: read as transformers reads it, carried into bundles, refused by field when invalid.</summary>
public sealed class GenerationDefaultsTests
{
    [Fact]
    public void Parse_SamplingModel_TakesItsSettingsAndTransformersDefaultsForTheRest()
    {
        GenerationDefaults defaults = GenerationDefaults.Parse("""{"do_sample": true, "temperature": 0.6, "top_p": 0.9, "eos_token_id": [128001, 128009], "max_new_tokens": 64}""", "m");
        Assert.Equal(new SamplingSettings { Temperature = 0.6f, TopK = 50, TopP = 0.9 }, defaults.Sampling);
        Assert.Equal([128001, 128009], defaults.EndOfSequenceIds);
        Assert.Equal(64, defaults.MaxNewTokens);
        GenerationOptions options = defaults.ToOptions();
        Assert.Equal(defaults.Sampling, options.Sampling);
        Assert.Equal([128001, 128009], options.StopTokenIds);
        Assert.Equal(64, options.MaxNewTokens);
    }

    [Theory]
    [InlineData("{}", 0f, 1f, null)]
    [InlineData("""{"temperature": 0.7, "top_p": 0.8, "repetition_penalty": 1.1, "eos_token_id": 2}""", 0f, 1.1f, 2)]
    [InlineData("""{"do_sample": true, "top_k": 0, "min_p": 0.05}""", 1f, 1f, null)]
    public void Parse_FieldsAsTransformersReadsThem(string json, float temperature, float repetitionPenalty, int? eos)
    {
        GenerationDefaults defaults = GenerationDefaults.Parse(json, "m");
        Assert.Equal(temperature, defaults.Sampling.Temperature);
        Assert.Equal(repetitionPenalty, defaults.Sampling.RepetitionPenalty);
        Assert.Equal(eos is { } id ? [id] : [], defaults.EndOfSequenceIds);
        Assert.Null(defaults.MaxNewTokens);
        if (json.Contains("top_k", StringComparison.Ordinal))
        {
            Assert.Null(defaults.Sampling.TopK);
            Assert.Equal(0.05, defaults.Sampling.MinP);
        }
        else
        {
            // Greedy ignores the sampling fields, as transformers does without do_sample.
            Assert.True(defaults.Sampling.IsGreedy);
            Assert.Equal(1.0, defaults.Sampling.TopP);
        }
    }

    [Theory]
    [InlineData("[]", "must be a JSON object")]
    [InlineData("{", "not valid JSON")]
    [InlineData("""{"temperature": "hot", "do_sample": true}""", "temperature must be a number")]
    [InlineData("""{"do_sample": "yes"}""", "do_sample must be true or false")]
    [InlineData("""{"do_sample": true, "top_p": 1.5}""", "Top-p must lie in (0, 1]")]
    [InlineData("""{"eos_token_id": [2, -1]}""", "eos_token_id must be a token id or a list of them")]
    [InlineData("""{"max_new_tokens": 0}""", "max_new_tokens is 0")]
    [InlineData("""{"top_k": 2.5}""", "top_k must be a whole number")]
    public void Parse_InvalidField_IsRefusedNamingIt(string json, string message)
    {
        var error = Assert.Throws<ModelFileException>(() => GenerationDefaults.Parse(json, "model-dir"));
        Assert.StartsWith("model-dir: ", error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void DirectoryAndItsBundle_GiveTheSameDefaults_AndAModelWithoutTheFileHasNone()
    {
        using var copy = DecoderFixtures.CopyWithConfig("llama-gqa-tied", _ => { });
        File.WriteAllText(copy.File("tokenizer.json"), """{"version":"1.0","model":{"type":"BPE","vocab":{},"merges":[]}}""");
        using var pool = new WorkerPool(1);
        using (var source = ModelSource.Open(copy.Path))
        {
            BundleConversion.Write(source, copy.File("plain.gguf"), classifier: null, int8: false);
        }

        using (var plain = ModelSource.Open(copy.File("plain.gguf")))
        {
            Assert.Null(plain.GenerationConfigJson);
        }

        File.WriteAllText(copy.File(HuggingFaceDirectory.GenerationConfigFileName), """
            {
              "do_sample": true, "temperature": 0.5, "top_k": 20, "eos_token_id": [1, 2],
              "transformers_version": "4.46.0"
            }
            """);
        using (var source = ModelSource.Open(copy.Path))
        {
            BundleConversion.Write(source, copy.File("model.gguf"), classifier: null, int8: true);
        }

        using var bundle = ModelSource.Open(copy.File("model.gguf"));
        Assert.Equal("""{"do_sample":true,"temperature":0.5,"top_k":20,"eos_token_id":[1,2],"transformers_version":"4.46.0"}""", bundle.GenerationConfigJson);
        GenerationDefaults fromBundle = GenerationDefaults.Parse(bundle.GenerationConfigJson!, bundle.Path);

        // A directory without tokenizer files opens as a model driven by ids; its defaults come with it.
        File.Delete(copy.File("tokenizer.json"));
        using var fromDirectory = GenerativeModel.Open(copy.Path, pool, requireTokenizer: false);
        Assert.Equal(new SamplingSettings { Temperature = 0.5f, TopK = 20 }, fromDirectory.Defaults!.Sampling);
        Assert.Equal(fromDirectory.Defaults, fromBundle with { EndOfSequenceIds = fromDirectory.Defaults.EndOfSequenceIds });
        Assert.Equal([1, 2], fromBundle.EndOfSequenceIds);
        Assert.Equal([1, 2], fromDirectory.Defaults.EndOfSequenceIds);
    }

    [Fact]
    public void GenerationConfigThatIsNotAnObject_IsRefusedByTheWriterAndByOpen()
    {
        using var copy = DecoderFixtures.CopyWithConfig("llama-gqa-tied", _ => { });
        File.WriteAllText(copy.File("tokenizer.json"), """{"version":"1.0","model":{"type":"BPE","vocab":{},"merges":[]}}""");
        File.WriteAllText(copy.File(HuggingFaceDirectory.GenerationConfigFileName), "[1, 2]");
        using var pool = new WorkerPool(1);
        using (var source = ModelSource.Open(copy.Path))
        {
            var error = Assert.Throws<ArgumentException>(() => BundleConversion.Write(source, copy.File("model.gguf"), classifier: null, int8: false));
            Assert.Contains("GenerationConfigJson", error.Message);
        }

        File.Delete(copy.File("tokenizer.json"));
        var opened = Assert.Throws<ModelFileException>(() => GenerativeModel.Open(copy.Path, pool, requireTokenizer: false));
        Assert.Contains("generation_config.json must be a JSON object", opened.Message);
    }
}
