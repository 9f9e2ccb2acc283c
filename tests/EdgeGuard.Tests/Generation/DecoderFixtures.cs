using System.Text.Json.Nodes;
using EdgeGuard.Generation.Decoding;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;
using EdgeGuard.Testing;
using TempDirectory = EdgeGuard.Tests.Bundle.TempDirectory;
using EdgeGuard.Tests.ModelFiles;

namespace EdgeGuard.Tests.Generation;

/// <summary>The decoder golden fixtures (<c>tests/fixtures/decoders</c>, from <c>training/edgeguard_train/decoder_fixtures.py</c>) and models loaded from them.</summary>
internal static class DecoderFixtures
{
    public static readonly WorkerPool Pool = new(2);

    public static readonly string[] Names =
    [
        "llama-gqa-tied", "llama-one-kv-head-untied", "llama-head-dim-odd-heads", "llama3-rope-long",
        "qwen2-gqa-bias-untied", "qwen2-tied-one-kv-head", "gpt2-long", "gpt2-bare-names-odd-heads",
    ];

    private static readonly Dictionary<(string, ModelPrecision), DecoderModel> Models = [];

    public static string Path(string name) => System.IO.Path.Combine(RepoPaths.RepoRoot, "tests", "fixtures", "decoders", name);

    /// <summary>The fixture's model, loaded once per precision for the whole test run (the directory stays open).</summary>
    public static DecoderModel Model(string name, ModelPrecision precision = ModelPrecision.Float32)
    {
        lock (Models)
        {
            if (!Models.TryGetValue((name, precision), out DecoderModel? model))
            {
                model = DecoderModel.Load(ModelSource.Open(Path(name)), Pool, precision);
                Models[(name, precision)] = model;
            }

            return model;
        }
    }

    /// <summary>A copy of the fixture's directory with <paramref name="edit"/> applied to its config.</summary>
    public static TempDirectory CopyWithConfig(string name, Action<JsonObject> edit)
    {
        var copy = new TempDirectory();
        foreach (string file in Directory.EnumerateFiles(Path(name)))
        {
            File.Copy(file, copy.File(System.IO.Path.GetFileName(file)));
        }

        var config = (JsonObject)JsonNode.Parse(File.ReadAllText(copy.File("config.json")))!;
        edit(config);
        File.WriteAllText(copy.File("config.json"), config.ToJsonString());
        return copy;
    }

    /// <summary>A copy of the fixture's directory whose weights also hold <paramref name="extraName"/>.</summary>
    public static TempDirectory CopyWithExtraTensor(string name, string extraName, long[] shape)
    {
        var copy = CopyWithConfig(name, _ => { });
        var writer = new SafetensorsTestWriter();
        using (SafetensorsFile weights = SafetensorsFile.Open(System.IO.Path.Combine(Path(name), "model.safetensors")))
        {
            foreach (TensorInfo tensor in weights.Tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                writer.AddF32(tensor.Name, [.. tensor.Shape], weights.ReadFloat32(tensor.Name).Span);
            }
        }

        writer.AddF32(extraName, shape, new float[shape.Aggregate(1L, (a, b) => a * b)]);
        writer.Write(copy.File("model.safetensors"));
        return copy;
    }

    /// <summary>The logits at every position of <paramref name="prompt"/> and of one step after it (token 11), in a new session.</summary>
    public static float[] PrefillAndStepLogits(DecoderModel model, int[] prompt)
    {
        DecoderSession session = model.CreateSession();
        var logits = new float[(prompt.Length + 1) * model.VocabularySize];
        session.PrefillAllPositions(prompt, logits);
        session.Step(11).CopyTo(logits.AsSpan(prompt.Length * model.VocabularySize));
        return logits;
    }
}
