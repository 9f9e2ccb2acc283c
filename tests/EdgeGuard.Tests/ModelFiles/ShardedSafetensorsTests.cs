using System.Text.Json.Nodes;
using EdgeGuard.Generation.Decoding;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;
using EdgeGuard.Tests.Generation;

namespace EdgeGuard.Tests.ModelFiles;

/// <summary>Checkpoints saved as several safetensors files with <c>model.safetensors.index.json</c>, as larger models are published.</summary>
public sealed class ShardedSafetensorsTests
{
    private const string Fixture = "llama-gqa-tied";
    private static readonly int[] Prompt = [3, 17, 42, 5];

    [Fact]
    public void ShardedDirectory_GivesTheLogitsOfTheSingleFile_AndConvertsToABundle()
    {
        using var copy = Shard(Fixture);
        File.WriteAllText(copy.File("tokenizer.json"), """{"version":"1.0","model":{"type":"BPE","vocab":{},"merges":[]}}""");
        using var pool = new WorkerPool(1);
        float[] expected = DecoderFixtures.PrefillAndStepLogits(DecoderFixtures.Model(Fixture), Prompt);
        using (var sharded = ModelSource.Open(copy.Path))
        {
            var weights = Assert.IsType<ShardedSafetensors>(sharded.Directory!.Weights);
            Assert.Equal(2, weights.ShardPaths.Count);
            Assert.Equal(expected, DecoderFixtures.PrefillAndStepLogits(DecoderModel.Load(sharded, pool), Prompt));
            BundleConversion.Write(sharded, copy.File("model.gguf"), classifier: null, int8: false);
        }

        using var bundle = ModelSource.Open(copy.File("model.gguf"));
        Assert.Equal(expected, DecoderFixtures.PrefillAndStepLogits(DecoderModel.Load(bundle, pool), Prompt));
    }

    [Fact]
    public void IndexMappingATensorToAShardThatLacksIt_IsRefused()
    {
        using var copy = Shard(Fixture, index => index["weight_map"]!["model.norm.weight"] = "model-00001-of-00002.safetensors");
        var error = Assert.Throws<ModelFileException>(() => ModelSource.Open(copy.Path));
        Assert.Contains("\"model.norm.weight\" is mapped to \"model-00001-of-00002.safetensors\", which does not hold it", error.Message);
    }

    [Fact]
    public void AShardHoldingATensorTheIndexDoesNotList_IsRefused()
    {
        using var copy = Shard(Fixture, index => index["weight_map"]!.AsObject().Remove("model.norm.weight"));
        var error = Assert.Throws<ModelFileException>(() => ModelSource.Open(copy.Path));
        Assert.Contains("holds the tensor \"model.norm.weight\", but the index does not list it", error.Message);
    }

    [Theory]
    [InlineData("../model-00002-of-00002.safetensors", "a shard is a .safetensors file name in the index's directory")]
    [InlineData("model-00003-of-00002.safetensors", "the shard \"model-00003-of-00002.safetensors\" it names is missing")]
    [InlineData("model.bin", "a shard is a .safetensors file name")]
    public void IndexNamingAFileItCannotUse_IsRefused(string file, string message)
    {
        using var copy = Shard(Fixture, index => index["weight_map"]!["model.norm.weight"] = file);
        var error = Assert.Throws<ModelFileException>(() => ModelSource.Open(copy.Path));
        Assert.Contains(message, error.Message);
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("""{"metadata": {}}""", "needs a \"weight_map\" object")]
    [InlineData("""{"weight_map": {}}""", "weight_map is empty")]
    [InlineData("""{"weight_map": {"a": 3}}""", "maps \"a\" to \"3\"")]
    public void MalformedIndex_IsRefused(string json, string message)
    {
        using var copy = Shard(Fixture);
        File.WriteAllText(copy.File(ShardedSafetensors.IndexFileName), json);
        var error = Assert.Throws<ModelFileException>(() => ModelSource.Open(copy.Path));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void SingleFileAndIndexTogether_AreRefusedAsAmbiguous()
    {
        using var copy = Shard(Fixture);
        File.Copy(Path.Combine(DecoderFixtures.Path(Fixture), HuggingFaceDirectory.WeightsFileName), copy.File(HuggingFaceDirectory.WeightsFileName));
        var error = Assert.Throws<ModelFileException>(() => ModelSource.Open(copy.Path));
        Assert.Contains("keep the checkpoint you mean", error.Message);
    }

    /// <summary>A copy of the fixture with its weights in two shards (the norm and head tensors in the second) and their index.</summary>
    private static Bundle.TempDirectory Shard(string name, Action<JsonObject>? editIndex = null)
    {
        var copy = DecoderFixtures.CopyWithConfig(name, _ => { });
        File.Delete(copy.File(HuggingFaceDirectory.WeightsFileName));
        string[] shardNames = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
        var writers = new[] { new SafetensorsTestWriter(), new SafetensorsTestWriter() };
        var map = new JsonObject();
        using (SafetensorsFile weights = SafetensorsFile.Open(Path.Combine(DecoderFixtures.Path(name), HuggingFaceDirectory.WeightsFileName)))
        {
            foreach (TensorInfo tensor in weights.Tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                int shard = tensor.Name.StartsWith("model.layers.", StringComparison.Ordinal) ? 0 : 1;
                writers[shard].AddF32(tensor.Name, [.. tensor.Shape], weights.ReadFloat32(tensor.Name).Span);
                map[tensor.Name] = shardNames[shard];
            }
        }

        writers[0].Write(copy.File(shardNames[0]));
        writers[1].Write(copy.File(shardNames[1]));
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = 0 }, ["weight_map"] = map };
        editIndex?.Invoke(index);
        File.WriteAllText(copy.File(ShardedSafetensors.IndexFileName), index.ToJsonString());
        return copy;
    }
}
