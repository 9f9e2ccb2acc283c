using EdgeGuard.Kernels.Int8;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.ModelFiles.Gguf;
using EdgeGuard.Models.Deberta;
using EdgeGuard.Tests.Models;
using EdgeGuard.Models;

namespace EdgeGuard.Tests.Bundle;

/// <summary>Format version 2: int8 linear layers pre-packed, position projections precomputed.</summary>
public sealed class Int8BundleTests
{
    private static readonly string ConfigJson = File.ReadAllText(Path.Combine(EdgeGuard.Testing.RepoPaths.Fixture(SharedModels.Xsmall), "config.json"));

    [Fact]
    public void WriteInt8_FixtureModel_OpensAsVersion3AndGivesTheLogitsOfTheInt8EngineOnTheFloatWeights()
    {
        using var temp = new TempDirectory();
        HuggingFaceDirectory directory = SharedModels.Directory(SharedModels.Xsmall);
        string path = WriteInt8(temp, directory);

        using ModelBundle bundle = ModelBundle.Open(path);
        Assert.Equal(3, bundle.FormatVersion);
        Assert.Equal(BundleFormat.PrecisionInt8, bundle.Precision);
        Assert.Equal(PackedInt8Matrix.LayoutKey, bundle.Metadata[BundleKeys.Int8Layout]);
        const string query = "deberta.encoder.layer.0.attention.self.query_proj";
        Assert.Null(bundle.Find(query + ".weight"));
        Assert.NotNull(bundle.Find(query + ".bias"));
        Assert.NotNull(bundle.Find("deberta-v2.rel_pos.1.key"));
        Assert.NotNull(bundle.FindInt8Linear("pooler.dense", directory.Config.HiddenSize, directory.Config.HiddenSize));
        Assert.NotNull(bundle.Find("classifier.weight"));
        BundleIntegerTensor packed = Assert.Single(bundle.IntegerTensors, t => t.Name == query + ".qweight");
        Assert.Equal("I8", packed.Type);
        Assert.Equal([(long)PackedInt8Matrix.PadRows(directory.Config.HiddenSize), PackedInt8Matrix.PadColumns(directory.Config.HiddenSize)], packed.Shape);
        Assert.DoesNotContain(bundle.Tensors, t => t.Name.EndsWith(".qsum", StringComparison.Ordinal));

        // The word table is only looked up: stored as F16, read as F16 (never widened into a copy at open).
        const string table = "deberta.embeddings.word_embeddings.weight";
        Assert.Equal(TensorDType.F16, bundle.Find(table)!.DType);
        ReadOnlyMemory<Half> half = bundle.FindHalfTable(table, directory.Config.VocabSize, directory.Config.HiddenSize)!.Value;
        float[] widened = new float[directory.Config.HiddenSize];
        System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(half.Span[..widened.Length], widened);
        float[] original = directory.Weights.ReadFloat32(table).Span[..widened.Length].ToArray();
        Assert.All(Enumerable.Range(0, widened.Length), i => Assert.True(Math.Abs(widened[i] - original[i]) <= Math.Abs(original[i]) / 1024, $"{i}: {widened[i]} vs {original[i]}"));
        Assert.Null(bundle.FindHalfTable("classifier.weight", directory.Config.NumLabels, directory.Config.HiddenSize));

        Assert.Equal(PackedInt8Matrix.FullWeightLimit, bundle.Int8WeightLimit);
        var fromBundle = DebertaClassifier.Load(directory.Config, bundle, SharedModels.Pool);
        var fromFloat = DebertaClassifier.Load(directory.Config, directory.Weights, SharedModels.Pool, ModelPrecision.Int8, new Int8Plan(PackedInt8Matrix.FullWeightLimit));
        Assert.Equal(ModelPrecision.Int8, fromBundle.Precision);
        var random = new Random(4);
        int[] ids = [.. Enumerable.Range(0, 2 * 37).Select(_ => random.Next(directory.Config.VocabSize))];
        float[] expected = new float[4], actual = new float[4];
        fromFloat.Forward(ids, [37, 20], 2, 37, expected);
        fromBundle.Forward(ids, [37, 20], 2, 37, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void WriteInt8_SevenBitWeights_AreRecordedAndGiveTheLogitsOfTheEngineQuantisingTo63()
    {
        using var temp = new TempDirectory();
        HuggingFaceDirectory directory = SharedModels.Directory(SharedModels.Xsmall);
        string path = WriteInt8(temp, directory, PackedInt8Matrix.SevenBitWeightLimit);

        using ModelBundle bundle = ModelBundle.Open(path);
        Assert.Equal(PackedInt8Matrix.SevenBitWeightLimit, bundle.Int8WeightLimit);
        Assert.Equal(63u, bundle.Metadata[BundleKeys.Int8WeightLimit]);
        int hidden = directory.Config.HiddenSize, intermediate = directory.Config.IntermediateSize;
        PackedInt8Matrix stored = bundle.FindInt8Linear("deberta.encoder.layer.1.output.dense", hidden, intermediate)!;
        Assert.Equal(PackedInt8Matrix.SevenBitWeightLimit, stored.WeightLimit);
        Assert.Equal(63, stored.Data.ToArray().Max(v => Math.Abs((int)v)));

        var fromBundle = DebertaClassifier.Load(directory.Config, bundle, SharedModels.Pool);
        var sevenBit = DebertaClassifier.Load(directory.Config, directory.Weights, SharedModels.Pool, ModelPrecision.Int8, new Int8Plan(PackedInt8Matrix.SevenBitWeightLimit));
        var eightBit = DebertaClassifier.Load(directory.Config, directory.Weights, SharedModels.Pool, ModelPrecision.Int8, new Int8Plan(PackedInt8Matrix.FullWeightLimit));
        var random = new Random(6);
        int[] ids = [.. Enumerable.Range(0, 2 * 41).Select(_ => random.Next(directory.Config.VocabSize))];
        float[] expected = new float[4], actual = new float[4], coarser = new float[4];
        sevenBit.Forward(ids, [41, 29], 2, 41, expected);
        fromBundle.Forward(ids, [41, 29], 2, 41, actual);
        eightBit.Forward(ids, [41, 29], 2, 41, coarser);
        Assert.Equal(expected, actual);
        Assert.NotEqual(coarser, actual);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(100u)]
    [InlineData(255u)]
    public void Open_Int8BundleWithAnUnsupportedWeightLimit_IsRefusedNamingTheKey(uint limit)
    {
        var metadata = BundleForge.With(BundleKeys.FormatVersion, GgufValue.FromUInt32(2));
        metadata = [.. metadata.Select(kv => kv.Key == BundleKeys.Precision ? (kv.Key, GgufValue.FromString("int8")) : kv)];
        metadata.Add((BundleKeys.Int8Layout, GgufValue.FromString(PackedInt8Matrix.LayoutKey)));
        metadata.Add((BundleKeys.Int8WeightLimit, GgufValue.FromUInt32(limit)));
        using var temp = new TempDirectory();
        string path = temp.File("forged.gguf");
        BundleForge.Write(path, metadata);
        var e = Assert.Throws<ModelFileException>(() => ModelBundle.Open(path));
        Assert.Contains($"{BundleKeys.Int8WeightLimit} is {limit}", e.Message);
    }

    [Fact]
    public void Open_Int8BundleWithAWeightLimitOfAnotherType_IsRefused()
    {
        var metadata = BundleForge.With(BundleKeys.FormatVersion, GgufValue.FromUInt32(2));
        metadata = [.. metadata.Select(kv => kv.Key == BundleKeys.Precision ? (kv.Key, GgufValue.FromString("int8")) : kv)];
        metadata.Add((BundleKeys.Int8Layout, GgufValue.FromString(PackedInt8Matrix.LayoutKey)));
        metadata.Add((BundleKeys.Int8WeightLimit, GgufValue.FromString("63")));
        using var temp = new TempDirectory();
        string path = temp.File("forged.gguf");
        BundleForge.Write(path, metadata);
        var e = Assert.Throws<ModelFileException>(() => ModelBundle.Open(path));
        Assert.Contains(BundleKeys.Int8WeightLimit, e.Message);
    }

    [Fact]
    public void WriteInt8_WordTableBeyondFloat16Range_StaysFloat32()
    {
        using var temp = new TempDirectory();
        HuggingFaceDirectory directory = SharedModels.Directory(SharedModels.Xsmall);
        const string table = "deberta.embeddings.word_embeddings.weight";
        float[] values = directory.Weights.ReadFloat32(table).ToArray();
        values[5] = 70000f;
        var edited = new EditedTensorSource(directory.Weights).Set(table, [directory.Config.VocabSize, directory.Config.HiddenSize], values);
        string path = temp.File("wide.gguf");
        var contents = SampleBundle.Contents() with { ConfigJson = ConfigJson, Precision = BundleFormat.PrecisionInt8 };
        BundleWriter.WriteInt8(path, contents, edited, DebertaClassifier.Load(directory.Config, edited, SharedModels.Pool, ModelPrecision.Int8, new Int8Plan(PackedInt8Matrix.FullWeightLimit)).ToInt8Conversion());
        using ModelBundle bundle = ModelBundle.Open(path);
        Assert.Equal(TensorDType.F32, bundle.Find(table)!.DType);
        Assert.Equal(70000f, bundle.ReadFloat32(table).Span[5]);
    }

    [Fact]
    public void WriteInt8_PackedWeights_MatchQuantisingTheFloatWeights()
    {
        using var temp = new TempDirectory();
        HuggingFaceDirectory directory = SharedModels.Directory(SharedModels.Xsmall);
        using ModelBundle bundle = ModelBundle.Open(WriteInt8(temp, directory));
        int hidden = directory.Config.HiddenSize, intermediate = directory.Config.IntermediateSize;
        const string name = "deberta.encoder.layer.1.output.dense";
        PackedInt8Matrix stored = bundle.FindInt8Linear(name, hidden, intermediate)!;
        PackedInt8Matrix fresh = PackedInt8Matrix.Quantize(directory.Weights.ReadFloat32(name + ".weight").Span, intermediate, hidden, intermediate);
        Assert.Equal(fresh.Data.ToArray(), stored.Data.ToArray());
        Assert.Equal(fresh.Scales.ToArray(), stored.Scales.ToArray());
        Assert.Equal(fresh.ChannelSums.ToArray(), stored.ChannelSums.ToArray());
    }

    [Fact]
    public void FindInt8Linear_WrongShape_IsRefusedNamingTheTensor()
    {
        using var temp = new TempDirectory();
        HuggingFaceDirectory directory = SharedModels.Directory(SharedModels.Xsmall);
        using ModelBundle bundle = ModelBundle.Open(WriteInt8(temp, directory));
        int hidden = directory.Config.HiddenSize;
        var e = Assert.Throws<ModelFileException>(() => bundle.FindInt8Linear("pooler.dense", hidden + 1, hidden));
        Assert.Contains("pooler.dense.q", e.Message);
    }

    [Fact]
    public void Open_Int8BundleWithAnUnknownLayout_IsRefusedNamingTheLayout()
    {
        var metadata = BundleForge.With(BundleKeys.FormatVersion, GgufValue.FromUInt32(2));
        metadata = [.. metadata.Select(kv => kv.Key == BundleKeys.Precision ? (kv.Key, GgufValue.FromString("int8")) : kv)];
        metadata.Add((BundleKeys.Int8Layout, GgufValue.FromString("panels-16x4")));
        using var temp = new TempDirectory();
        string path = temp.File("forged.gguf");
        BundleForge.Write(path, metadata);
        var e = Assert.Throws<ModelFileException>(() => ModelBundle.Open(path));
        Assert.Contains("layout \"panels-16x4\"", e.Message);
    }

    [Fact]
    public void Open_Version2WithFloatPrecision_IsRefused()
    {
        var metadata = BundleForge.With(BundleKeys.FormatVersion, GgufValue.FromUInt32(2));
        using var temp = new TempDirectory();
        string path = temp.File("forged.gguf");
        BundleForge.Write(path, metadata);
        var e = Assert.Throws<ModelFileException>(() => ModelBundle.Open(path));
        Assert.Contains("precision \"f32\" is not supported by bundle format version 2", e.Message);
    }

    [Fact]
    public void Write_Int8Precision_IsRefusedByTheFloatWriter()
    {
        using var temp = new TempDirectory();
        var contents = SampleBundle.Contents() with { Precision = BundleFormat.PrecisionInt8 };
        Assert.Throws<ArgumentException>(() => BundleWriter.Write(temp.File("b.gguf"), contents, SampleBundle.Weights()));
    }

    private static string WriteInt8(TempDirectory temp, HuggingFaceDirectory directory, int weightLimit = PackedInt8Matrix.FullWeightLimit)
    {
        string path = temp.File("int8.gguf");
        var contents = SampleBundle.Contents() with { ConfigJson = ConfigJson, Precision = BundleFormat.PrecisionInt8 };
        BundleWriter.WriteInt8(path, contents, directory.Weights, DebertaClassifier.Load(directory.Config, directory.Weights, SharedModels.Pool, ModelPrecision.Int8, new Int8Plan(weightLimit)).ToInt8Conversion());
        return path;
    }
}
