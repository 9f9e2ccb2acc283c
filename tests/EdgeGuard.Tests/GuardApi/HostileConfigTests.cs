using System.Text.Json.Nodes;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Tests.ModelFiles;

namespace EdgeGuard.Tests.GuardApi;

/// <summary>
/// A config.json is text anyone can edit. Whatever it says, opening the model must end in one short
/// <see cref="ModelFileException"/> line, quickly: never an allocation of what the config claims, an
/// OutOfMemoryException, an overflow or an index error, and never a model that opens and then fails every call.
/// </summary>
public sealed class HostileConfigTests(TinyModelFixture model) : IClassFixture<TinyModelFixture>
{
    /// <summary>A value that removes the field from the config instead of setting it.</summary>
    private const string Absent = "<absent>";

    // What refusing may allocate on the calling thread: the tiny model's files and the checks' bookkeeping, far below
    // what a config-sized allocation (labels, layers, tables by the config's word) would take.
    private const long RefusalAllocationLimit = 64L << 20;

    /// <summary>A JSON object merged into the tiny model's config, and what the message must say.</summary>
    public static TheoryData<string, string> HostileConfigs() => new()
    {
        // Counts the classifier fixes; the tiny model has 2 labels.
        { """{"num_labels": 20000000, "id2label": "<absent>", "label2id": "<absent>"}""", "num_labels=20000000 does not match the weights" },
        { """{"num_labels": 3, "id2label": "<absent>", "label2id": "<absent>"}""", "so num_labels=2" },
        { """{"id2label": {"0": "safe", "1": "unsafe", "2": "other"}, "label2id": "<absent>"}""", "num_labels=3 does not match the weights" },
        { """{"num_labels": 0, "id2label": "<absent>"}""", "num_labels=0 must be at least 1" },
        { """{"num_labels": -2147483648, "id2label": "<absent>"}""", "num_labels=-2147483648" },
        { """{"num_labels": 2.5}""", "$.num_labels" },
        { """{"num_labels": "2"}""", "$.num_labels" },
        { """{"num_labels": 1e30}""", "$.num_labels" },

        // Layers: the tiny model has 2.
        { """{"num_hidden_layers": 2147483647}""", "num_hidden_layers=2147483647 does not match the weights" },
        { """{"num_hidden_layers": 3}""", "has tensors for 2 layers and none for layer 2" },
        { """{"num_hidden_layers": 1}""", "belongs to layer 1, but" },
        { """{"num_hidden_layers": -1}""", "num_hidden_layers=-1 must be positive" },
        { """{"num_hidden_layers": 0}""", "num_hidden_layers=0 must be positive" },
        { """{"num_hidden_layers": 2147483648}""", "$.num_hidden_layers" },
        { """{"num_hidden_layers": null}""", "$.num_hidden_layers" },

        // Widths: hidden 64, intermediate 128, 2 heads.
        { """{"hidden_size": 2147483646, "pooler_hidden_size": "<absent>"}""", "hidden_size=2147483646 does not match the weights" },
        { """{"hidden_size": 96, "pooler_hidden_size": "<absent>"}""", "so hidden_size=64" },
        { """{"hidden_size": 0}""", "hidden_size=0 must be positive" },
        { """{"hidden_size": 64.5}""", "$.hidden_size" },
        { """{"intermediate_size": 2147483647}""", "intermediate_size=2147483647 does not match the weights" },
        { """{"intermediate_size": -1}""", "intermediate_size=-1 must be positive" },
        { """{"num_attention_heads": 0}""", "num_attention_heads=0 must be positive" },
        { """{"num_attention_heads": 2147483647}""", "not divisible by num_attention_heads=2147483647" },
        { """{"attention_head_size": -1}""", "attention_head_size=-1" },
        { """{"embedding_size": 2147483647}""", "embedding_size=2147483647" },
        { """{"pooler_hidden_size": 2147483647}""", "pooler_hidden_size=2147483647" },

        // Vocabulary: the embedding table has 2001 rows.
        { """{"vocab_size": 2147483647}""", "vocab_size=2147483647 does not match the weights" },
        { """{"vocab_size": 1000}""", "so vocab_size=2001" },
        { """{"vocab_size": 0}""", "vocab_size=0 must be positive" },
        { """{"type_vocab_size": 2}""", "type_vocab_size=2" },
        { """{"type_vocab_size": -1}""", "type_vocab_size=-1" },

        // Positions: 64 buckets (128 rel_embeddings rows).
        { """{"max_position_embeddings": 1, "max_relative_positions": 256}""", "max_position_embeddings=1 is too small" },
        { """{"max_position_embeddings": 3, "max_relative_positions": 256}""", "max_position_embeddings=3 is too small" },
        { """{"max_position_embeddings": 4, "max_relative_positions": 256}""", "max_position_embeddings=4 is too small" },
        { """{"max_position_embeddings": 3}""", "max_position_embeddings=3 is too small" },
        { """{"max_position_embeddings": 0}""", "max_position_embeddings=0 must be positive" },
        { """{"max_position_embeddings": 2147483647}""", "max_position_embeddings=2147483647 is too large" },
        { """{"position_buckets": 2147483647, "max_relative_positions": 2147483647}""", "position_buckets=2147483647 does not match the weights" },
        { """{"position_buckets": 32}""", "so position_buckets=64" },
        { """{"position_buckets": -1}""", "position_buckets=-1" },
        { """{"max_relative_positions": 2}""", "max_relative_positions=2" },

        // Numbers the engine computes with in float32.
        { """{"layer_norm_eps": 1e-50}""", "layer_norm_eps=1E-50 must be a positive number float32 can hold" },
        { """{"layer_norm_eps": 1e308}""", "layer_norm_eps=1E+308 must be a positive number float32 can hold" },
        { """{"layer_norm_eps": -1}""", "layer_norm_eps=-1" },
        { """{"layer_norm_eps": 1e400}""", "layer_norm_eps" },

        // Variants and types.
        { """{"conv_kernel_size": 2147483647}""", "conv_kernel_size=2147483647" },
        { """{"relative_attention": "yes"}""", "$.relative_attention" },
        { """{"model_type": 5}""", "$.model_type" },
    };

    [Theory]
    [MemberData(nameof(HostileConfigs))]
    public void Open_HostileConfigValue_IsOneShortModelFileExceptionQuickly(string patch, string expected)
    {
        using var dir = CopyWithConfig(Patch(patch));
        AssertRefusedQuickly(dir.Path, expected);
    }

    [Fact]
    public void Open_HugeOrMultiLineConfigStrings_AreQuotedShortOnOneLine()
    {
        string huge = new('x', 1_000_000);
        var id2label = new JsonObject();
        for (int i = 0; i < 100_000; i++)
        {
            id2label["k" + i] = "label " + i;
        }

        var cases = new (JsonObject Patch, string Expected)[]
        {
            (new JsonObject { ["hidden_act"] = huge }, "hidden_act=\"xxxx"),
            (new JsonObject { ["model_type"] = "bert\nsecond line\u001b[31m red" }, "model_type=\"bert\\u000asecond line\\u001b[31m red\""),
            (new JsonObject { ["pos_att_type"] = string.Concat(Enumerable.Repeat("p2c|", 100_000)) }, "pos_att_type=[\"p2c\", \"p2c\""),
            (new JsonObject { ["id2label"] = id2label, ["label2id"] = null }, "id2label has the keys [\"k0\", \"k1\""),
            (new JsonObject { ["id2label"] = new JsonObject { ["0"] = "unsafe " + huge, ["1"] = "toxic" } }, "both look unsafe"),
        };

        foreach ((JsonObject patch, string expected) in cases)
        {
            JsonObject config = Patch("{}");
            foreach ((string key, JsonNode? value) in patch.ToList())
            {
                patch.Remove(key);
                if (value is null)
                {
                    config.Remove(key);
                }
                else
                {
                    config[key] = value;
                }
            }

            using var dir = CopyWithConfig(config);
            AssertRefusedQuickly(dir.Path, expected);
        }
    }

    [Fact]
    public void Open_MaxPositionEmbeddingsAtTheMinimum_ClassifiesPromptsAndPairs()
    {
        JsonObject config = Patch("""{"max_position_embeddings": 5, "max_relative_positions": 256}""");
        using var dir = CopyWithConfig(config);
        using var guard = Guard.Open(dir.Path);
        Assert.Equal(5, guard.WindowTokens);
        Assert.InRange(guard.Classify("a longer prompt than one window holds").UnsafeScore, 0f, 1f);
        Assert.InRange(guard.Classify("a prompt", "and a response").UnsafeScore, 0f, 1f);
    }

    [Fact]
    public void Open_BundleWithManyMoreLabelsThanOutputs_IsRefusedBeforeTheLabelsAreRead()
    {
        using var hf = HuggingFaceDirectory.Open(model.HfDir);
        using var dir = new TempDirectory();
        string path = dir.File("many-labels.gguf");
        string[] labels = [.. Enumerable.Range(0, 100_000).Select(i => "class_" + i)];
        var contents = new BundleContents(
            "deberta-v2", hf.ConfigJson, new BundleTokenizer("spm-unigram", new Dictionary<string, byte[]> { ["spm.model"] = File.ReadAllBytes(hf.FindFile("spm.model")!) }),
            new BundleClassifier(labels, 1, 0.5f), "f32", "tiny", "test");
        BundleWriter.Write(path, contents, hf.Weights);

        var error = AssertRefusedQuickly(path, "100000 labels are named but the classifier has 2 outputs");
        Assert.DoesNotContain("class_99999", error.Message);
    }

    private static ModelFileException AssertRefusedQuickly(string modelPath, string expected)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<ModelFileException>(() => Guard.Open(modelPath, new GuardOptions { Threads = 1 }).Dispose());
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < RefusalAllocationLimit, $"refusing allocated {allocated / 1048576.0:F1} MiB");
        Assert.InRange(error.Message.Length, 1, ModelFileException.MaxMessageLength);
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain('\r', error.Message);
        Assert.DoesNotContain('\u001b', error.Message);
        Assert.StartsWith(modelPath, error.Message);
        Assert.Contains(expected, error.Message);
        return error;
    }

    private JsonObject Patch(string patch)
    {
        JsonObject config = JsonNode.Parse(File.ReadAllText(Path.Combine(model.HfDir, "config.json")))!.AsObject();
        foreach ((string key, JsonNode? value) in JsonNode.Parse(patch)!.AsObject())
        {
            if (value is JsonValue v && v.TryGetValue(out string? text) && text == Absent)
            {
                config.Remove(key);
            }
            else
            {
                config[key] = value?.DeepClone();
            }
        }

        return config;
    }

    private TempDirectory CopyWithConfig(JsonObject config)
    {
        var dir = new TempDirectory();
        File.Copy(Path.Combine(model.HfDir, "model.safetensors"), dir.File("model.safetensors"));
        File.Copy(Path.Combine(model.HfDir, "spm.model"), dir.File("spm.model"));
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        return dir;
    }
}
