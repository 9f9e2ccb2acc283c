using System.Buffers;
using System.Runtime.InteropServices;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.ModelFiles.Gguf;

namespace EdgeGuard.Tests.Bundle;

public sealed class BundleRoundTripTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Open_WrittenBundle_HasEveryTensorBitIdentical()
    {
        string path = _dir.File("model.gguf");
        using InMemoryTensorSource source = SampleBundle.Weights();
        BundleWriter.Write(path, SampleBundle.Contents(), source);

        using ModelBundle bundle = ModelBundle.Open(path);
        Assert.Equal(source.Tensors.Count, bundle.Tensors.Count);
        foreach (TensorInfo expected in source.Tensors)
        {
            TensorInfo actual = bundle.Find(expected.Name)!;
            Assert.Equal(expected.Shape, actual.Shape);
            Assert.Equal(TensorDType.F32, actual.DType); // F16 and BF16 are widened on write
            AssertSameBits(source.ReadFloat32(expected.Name), bundle.ReadFloat32(expected.Name));
        }
    }

    [Fact]
    public void Open_WrittenBundle_HasTheMetadataThatWasWritten()
    {
        string path = _dir.File("model.gguf");
        BundleContents contents = SampleBundle.Contents();
        using InMemoryTensorSource source = SampleBundle.Weights();
        BundleWriter.Write(path, contents, source);

        using ModelBundle bundle = ModelBundle.Open(path);
        Assert.Equal(3, bundle.FormatVersion);
        Assert.Equal("deberta-v2", bundle.Architecture);
        Assert.Equal(ConfigJsonCompact, bundle.ConfigJson);
        Assert.Equal("spm-unigram", bundle.TokenizerKind);
        Assert.Equal(["spm.model"], bundle.TokenizerFiles.Keys);
        Assert.Equal(contents.Tokenizer.Files["spm.model"], bundle.TokenizerFiles["spm.model"].ToArray());
        Assert.Equal(contents.Classifier!.Labels, bundle.Labels);
        Assert.Equal(contents.Classifier.UnsafeLabel, bundle.UnsafeLabel);
        Assert.Equal(BitConverter.SingleToUInt32Bits(contents.Classifier.Threshold), BitConverter.SingleToUInt32Bits(bundle.Threshold));
        Assert.Equal("f32", bundle.Precision);
        Assert.Equal("tiny-guard", bundle.Name);
        Assert.Equal("tests", bundle.Source);
        Assert.Equal(path, bundle.Origin);
        Assert.Equal(new FileInfo(path).Length, bundle.FileSize);

        Assert.Equal("deberta-v2", bundle.Metadata["general.architecture"]);
        Assert.Equal(64u, bundle.Metadata["general.alignment"]);
        Assert.Equal(3u, bundle.Metadata["edgeguard.bundle.version"]);
        Assert.Equal(1u, bundle.Metadata["edgeguard.unsafe_label"]);
        Assert.IsType<ulong>(bundle.Metadata["edgeguard.checksum.header"]);
        Assert.Equal("[\"safe\", \"unsafe\"]", bundle.Metadata["edgeguard.labels"].ToString());
        Assert.Equal("spm-unigram", bundle.Metadata["edgeguard.tokenizer.kind"]);
        Assert.Equal("[\"spm.model\"]", bundle.Metadata["edgeguard.tokenizer.files"].ToString());
        Assert.Equal("u8[97]", bundle.Metadata["edgeguard.tokenizer.file.spm.model"].ToString());
    }

    [Fact]
    public void Open_WithoutBundleOptionalFields_HasNullNameAndSource()
    {
        string path = _dir.File("model.gguf");
        using InMemoryTensorSource source = SampleBundle.Weights();
        BundleWriter.Write(path, SampleBundle.Contents() with { Name = null, Source = null }, source);

        using ModelBundle bundle = ModelBundle.Open(path);
        Assert.Null(bundle.Name);
        Assert.Null(bundle.Source);
        Assert.False(bundle.Metadata.ContainsKey("general.name"));
    }

    [Fact]
    public void ReadFloat32_F32Tensor_IsZeroCopyFromTheMap()
    {
        string path = _dir.File("model.gguf");
        using InMemoryTensorSource source = SampleBundle.Weights();
        BundleWriter.Write(path, SampleBundle.Contents(), source);

        using ModelBundle bundle = ModelBundle.Open(path);
        ReadOnlyMemory<float> weights = bundle.ReadFloat32("deberta.embeddings.word_embeddings.weight");
        Assert.True(MemoryMarshal.TryGetMemoryManager(weights, out MemoryManager<float>? _));
        Assert.False(MemoryMarshal.TryGetArray(weights, out _));
    }

    [Fact]
    public void Write_KeepingHalfPrecision_StoresF16AndBF16AndReadsThemBackExactly()
    {
        string path = _dir.File("half.gguf");
        using InMemoryTensorSource source = SampleBundle.Weights();
        BundleWriter.Write(path, SampleBundle.Contents(), source, progress: null, keepHalfPrecision: true);

        using ModelBundle bundle = ModelBundle.Open(path);
        Assert.Equal(TensorDType.F16, bundle.Find("half.matrix")!.DType);
        Assert.Equal(TensorDType.BF16, bundle.Find("brain.float.tensor")!.DType);
        foreach (TensorInfo tensor in source.Tensors)
        {
            AssertSameBits(source.ReadFloat32(tensor.Name), bundle.ReadFloat32(tensor.Name));
        }
    }

    [Fact]
    public void Write_HalfPrecisionTensorWithValuesF16CannotHold_FailsNamingTheTensor()
    {
        var source = new InMemoryTensorSource().Add("h", TensorDType.F16, [2], new byte[4]);
        using var lying = new LyingSource(source, "h", [0.1f, 0.2f]);
        var e = Assert.Throws<ModelFileException>(() =>
            BundleWriter.Write(_dir.File("x.gguf"), SampleBundle.Contents(), lying, progress: null, keepHalfPrecision: true));
        Assert.Contains("'h'", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void Write_TensorData_Is64ByteAlignedInNameOrder()
    {
        string path = _dir.File("model.gguf");
        using InMemoryTensorSource source = SampleBundle.Weights();
        BundleWriter.Write(path, SampleBundle.Contents(), source);

        using GgufReader file = GgufReader.Open(path);
        Assert.Equal(64u, file.Alignment);
        Assert.Equal(0, file.DataStart % 64);
        Assert.All(file.Tensors, t => Assert.Equal(0, t.Offset % 64));
        Assert.Equal(file.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal), file.Tensors.Select(t => t.Name));
    }

    [Fact]
    public void Write_Succeeds_LeavesOnlyTheBundleInTheDirectory()
    {
        string path = _dir.File("model.gguf");
        using InMemoryTensorSource source = SampleBundle.Weights();
        BundleWriter.Write(path, SampleBundle.Contents(), source);

        Assert.Equal([path], Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void Write_SourceFailsMidway_LeavesNoTempFileAndKeepsTheExistingBundle()
    {
        string path = _dir.File("model.gguf");
        File.WriteAllBytes(path, [1, 2, 3]);
        using InMemoryTensorSource source = SampleBundle.Weights();
        int reads = 0;
        source.BeforeRead = _ =>
        {
            if (++reads == 3)
            {
                throw new IOException("disk went away");
            }
        };

        Assert.Throws<IOException>(() => BundleWriter.Write(path, SampleBundle.Contents(), source));
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir.Path));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
    }

    [Fact]
    public void Write_OverExistingBundle_ReplacesIt()
    {
        string path = _dir.File("model.gguf");
        using InMemoryTensorSource source = SampleBundle.Weights();
        BundleWriter.Write(path, SampleBundle.Contents(), source);
        BundleWriter.Write(path, SampleBundle.Contents() with { Classifier = new BundleClassifier(["safe", "unsafe"], 1, 0.9f) }, source);

        using ModelBundle bundle = ModelBundle.Open(path);
        Assert.Equal(0.9f, bundle.Threshold);
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void Write_SameInputsInAnotherOrder_ProducesTheSameBytes()
    {
        using InMemoryTensorSource forward = SampleBundle.Weights();
        var reversed = new InMemoryTensorSource();
        foreach (TensorInfo tensor in forward.Tensors.Reverse())
        {
            float[] values = forward.ReadFloat32(tensor.Name).ToArray();
            reversed.AddF32(tensor.Name, [.. tensor.Shape], values);
        }

        BundleWriter.Write(_dir.File("a.gguf"), SampleBundle.Contents(), forward);
        BundleWriter.Write(_dir.File("b.gguf"), SampleBundle.Contents(), reversed);
        Assert.Equal(File.ReadAllBytes(_dir.File("a.gguf")), File.ReadAllBytes(_dir.File("b.gguf")));
    }

    [Fact]
    public void Write_ReportsProgressRisingToOne()
    {
        var reports = new List<double>();
        using InMemoryTensorSource source = SampleBundle.Weights();
        BundleWriter.Write(_dir.File("model.gguf"), SampleBundle.Contents(), source, new CollectingProgress(reports));

        Assert.True(reports.Count > source.Tensors.Count);
        Assert.Equal(reports.Order(), reports);
        Assert.Equal(1.0, reports[^1]);
        Assert.InRange(reports[0], 0.0, 0.01);
    }

    [Theory]
    [MemberData(nameof(InvalidContents))]
    public void Write_InvalidContents_IsRefusedNamingTheField(string field, BundleContents contents)
    {
        using InMemoryTensorSource source = SampleBundle.Weights();
        var e = Assert.Throws<ArgumentException>(() => BundleWriter.Write(_dir.File("model.gguf"), contents, source));
        Assert.Contains(field, e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }

    public static TheoryData<string, BundleContents> InvalidContents()
    {
        BundleContents valid = SampleBundle.Contents();
        return new TheoryData<string, BundleContents>
        {
            { "not valid JSON", valid with { ConfigJson = "{\"model_type\": " } },
            { "not an object", valid with { ConfigJson = "[1, 2]" } },
            { "Architecture", valid with { Architecture = "" } },
            { "Tokenizer", valid with { Tokenizer = valid.Tokenizer with { Kind = "" } } },
            { "Tokenizer", valid with { Tokenizer = valid.Tokenizer with { Files = new Dictionary<string, byte[]>() } } },
            { "tokenizer file spm.model is empty", valid with { Tokenizer = valid.Tokenizer with { Files = new Dictionary<string, byte[]> { ["spm.model"] = [] } } } },
            { "not a plain file name", valid with { Tokenizer = valid.Tokenizer with { Files = new Dictionary<string, byte[]> { ["../spm.model"] = [1] } } } },
            { "Labels", valid with { Classifier = new BundleClassifier([], 0, 0.5f) } },
            { "Labels", valid with { Classifier = new BundleClassifier(["safe", ""], 1, 0.5f) } },
            { "UnsafeLabel", valid with { Classifier = new BundleClassifier(["safe", "unsafe"], 2, 0.5f) } },
            { "UnsafeLabel", valid with { Classifier = new BundleClassifier(["safe", "unsafe"], -1, 0.5f) } },
            { "Threshold", valid with { Classifier = new BundleClassifier(["safe", "unsafe"], 1, 0f) } },
            { "Threshold", valid with { Classifier = new BundleClassifier(["safe", "unsafe"], 1, 1f) } },
            { "Threshold", valid with { Classifier = new BundleClassifier(["safe", "unsafe"], 1, float.NaN) } },
            { "Precision", valid with { Precision = "int8" } },
        };
    }

    [Fact]
    public void Write_TensorNameTooLongForGguf_FailsNamingTheSource()
    {
        var source = new InMemoryTensorSource("weights.safetensors").AddF32(new string('w', 64), [1], [1f]);
        var e = Assert.Throws<ModelFileException>(() => BundleWriter.Write(_dir.File("model.gguf"), SampleBundle.Contents(), source));
        Assert.StartsWith("weights.safetensors: ", e.Message);
        Assert.Contains("at most 63", e.Message);
    }

    [Fact]
    public void Write_SourceWithoutTensors_IsRefused()
    {
        var e = Assert.Throws<ModelFileException>(() =>
            BundleWriter.Write(_dir.File("model.gguf"), SampleBundle.Contents(), new InMemoryTensorSource("empty")));
        Assert.Contains("holds no tensors", e.Message);
    }

    [Fact]
    public void Write_SourceReturningTooFewValues_FailsNamingTheTensor()
    {
        using InMemoryTensorSource source = SampleBundle.Weights();
        source.ForcedReadLength = 1;
        var e = Assert.Throws<ModelFileException>(() => BundleWriter.Write(_dir.File("model.gguf"), SampleBundle.Contents(), source));
        Assert.Contains("returned 1 values", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void ReadFloat32_UnknownTensor_FailsNamingIt()
    {
        string path = _dir.File("model.gguf");
        using InMemoryTensorSource source = SampleBundle.Weights();
        BundleWriter.Write(path, SampleBundle.Contents(), source);

        using ModelBundle bundle = ModelBundle.Open(path);
        var e = Assert.Throws<ModelFileException>(() => bundle.ReadFloat32("missing.weight"));
        Assert.Equal($"{path}: has no tensor named 'missing.weight'", e.Message);
        Assert.Null(bundle.Find("missing.weight"));
    }

    /// <summary>The sample config as the writer stores it: compact, members and number spellings kept.</summary>
    private const string ConfigJsonCompact =
        "{\"model_type\":\"deberta-v2\",\"hidden_size\":8,\"layer_norm_eps\":1e-07,\"id2label\":{\"0\":\"safe\",\"1\":\"unsafe\"},\"note\":\"café <ok>\"}";

    private static void AssertSameBits(ReadOnlyMemory<float> expected, ReadOnlyMemory<float> actual) =>
        Assert.Equal(
            MemoryMarshal.Cast<float, uint>(expected.Span).ToArray(),
            MemoryMarshal.Cast<float, uint>(actual.Span).ToArray());

    private sealed class CollectingProgress(List<double> reports) : IProgress<double>
    {
        public void Report(double value) => reports.Add(value);
    }

    /// <summary>Declares the inner source's tensors but returns fixed values for one of them.</summary>
    private sealed class LyingSource(InMemoryTensorSource inner, string name, float[] values) : ITensorSource
    {
        public string Origin => inner.Origin;

        public IReadOnlyCollection<TensorInfo> Tensors => inner.Tensors;

        public TensorInfo? Find(string tensorName) => inner.Find(tensorName);

        public ReadOnlyMemory<float> ReadFloat32(string tensorName) => tensorName == name ? values : inner.ReadFloat32(tensorName);

        public void Dispose() => inner.Dispose();
    }
}
