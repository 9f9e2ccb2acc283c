using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.ModelFiles.Gguf;

namespace EdgeGuard.Tests.Bundle;

/// <summary>Bundle-level rules, each tested on a sealed file that breaks only that rule.</summary>
public sealed class BundleValidationTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Open_ForgedValidBundle_Opens()
    {
        string path = Forge(BundleForge.ValidMetadata());
        using ModelBundle bundle = ModelBundle.Open(path);
        Assert.Equal(BundleForge.TensorValues, bundle.ReadFloat32("w").ToArray());
        Assert.Equal([2L, 3L], bundle.Find("w")!.Shape);
    }

    [Fact]
    public void Open_NewerBundleVersion_IsRefusedWithUpgradeMessage()
    {
        string path = Forge(BundleForge.With(BundleKeys.FormatVersion, GgufValue.FromUInt32(5)));
        var e = Assert.Throws<ModelFileException>(() => ModelBundle.Open(path));
        Assert.Equal($"{path}: bundle format version 5 is newer than this runtime supports (4); upgrade EdgeGuard", e.Message);
    }

    [Fact]
    public void Open_BundleVersionZero_IsRefused() =>
        AssertRefused(BundleForge.With(BundleKeys.FormatVersion, GgufValue.FromUInt32(0)), "version 0 is not valid");

    [Fact]
    public void Open_PlainGgufFile_IsRefusedAsNotABundle()
    {
        string path = _dir.File("plain.gguf");
        BundleForge.Write(path, [("general.architecture", GgufValue.FromString("llama"))]);
        var e = Assert.Throws<ModelFileException>(() => ModelBundle.Open(path));
        Assert.Contains("is not an EdgeGuard bundle", e.Message);
    }

    [Theory]
    [InlineData(BundleKeys.Architecture)]
    [InlineData(BundleKeys.HeaderChecksum)]
    [InlineData(BundleKeys.TensorDataChecksum)]
    [InlineData(BundleKeys.Precision)]
    [InlineData(BundleKeys.Labels)]
    [InlineData(BundleKeys.UnsafeLabel)]
    [InlineData(BundleKeys.Threshold)]
    [InlineData(BundleKeys.ConfigJson)]
    [InlineData(BundleKeys.TokenizerModel)]
    public void Open_MissingRequiredKey_FailsNamingIt(string key) =>
        AssertRefused(BundleForge.Without(key), $"required key {key} is missing");

    [Theory]
    [InlineData(BundleKeys.FormatVersion, "must be u32")]
    [InlineData(BundleKeys.HeaderChecksum, "must be u64")]
    [InlineData(BundleKeys.Architecture, "must be string")]
    [InlineData(BundleKeys.Precision, "must be string")]
    [InlineData(BundleKeys.Labels, "must be array")]
    [InlineData(BundleKeys.UnsafeLabel, "must be u32")]
    [InlineData(BundleKeys.Threshold, "must be f32")]
    [InlineData(BundleKeys.ConfigJson, "must be string")]
    [InlineData(BundleKeys.TokenizerModel, "must be array")]
    [InlineData(BundleKeys.Name, "must be a string")]
    [InlineData(BundleKeys.Source, "must be a string")]
    public void Open_KeyOfWrongType_FailsNamingKeyAndType(string key, string expected)
    {
        string message = Refuse(BundleForge.With(key, GgufValue.FromFloat64(0.5)));
        Assert.Contains($"{key} is f64", message);
        Assert.Contains(expected, message);
    }

    [Fact]
    public void Open_LabelsThatAreNotStrings_Fail() =>
        AssertRefused(BundleForge.With(BundleKeys.Labels, GgufValue.FromArray(GgufArray.FromBytes(new byte[] { 0, 1 }))), "must be an array of strings");

    [Fact]
    public void Open_TokenizerThatIsNotBytes_Fails() =>
        AssertRefused(BundleForge.With(BundleKeys.TokenizerModel, GgufValue.FromArray(GgufArray.FromStrings(["a"]))), "must be an array of u8");

    [Fact]
    public void Open_NoLabels_Fails() =>
        AssertRefused(BundleForge.With(BundleKeys.Labels, GgufValue.FromArray(GgufArray.FromStrings([]))), "labels is empty");

    [Fact]
    public void Open_EmptyLabel_Fails() =>
        AssertRefused(BundleForge.With(BundleKeys.Labels, GgufValue.FromArray(GgufArray.FromStrings(["safe", ""]))), "empty label");

    [Fact]
    public void Open_UnsafeLabelOutOfRange_Fails() =>
        AssertRefused(BundleForge.With(BundleKeys.UnsafeLabel, GgufValue.FromUInt32(2)), "only 2 labels");

    [Theory]
    [InlineData(0f)]
    [InlineData(1f)]
    [InlineData(-0.5f)]
    [InlineData(1.5f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void Open_ThresholdOutsideZeroOne_Fails(float threshold) =>
        AssertRefused(BundleForge.With(BundleKeys.Threshold, GgufValue.FromFloat32(threshold)), "strictly between 0 and 1");

    [Fact]
    public void Open_EmptyTokenizer_Fails() =>
        AssertRefused(BundleForge.With(BundleKeys.TokenizerModel, GgufValue.FromArray(GgufArray.FromBytes(Array.Empty<byte>()))), "carries no tokenizer");

    [Theory]
    [InlineData("{\"model_type\": ", "not valid JSON")]
    [InlineData("[1, 2]", "not an object")]
    [InlineData("", "not valid JSON")]
    public void Open_ConfigThatIsNotAJsonObject_Fails(string config, string expected) =>
        AssertRefused(BundleForge.With(BundleKeys.ConfigJson, GgufValue.FromString(config)), expected);

    [Fact]
    public void Open_UnknownPrecision_Fails() =>
        AssertRefused(BundleForge.With(BundleKeys.Precision, GgufValue.FromString("int8")), "precision \"int8\" is not supported");

    [Fact]
    public void Open_OtherArchitecture_Fails() =>
        AssertRefused(BundleForge.With(BundleKeys.Architecture, GgufValue.FromString("llama")), "architecture \"llama\" is not valid in bundle format version 1");

    [Fact]
    public void Open_Int8TensorInVersionOneBundle_IsRefusedAsNeedingANewerRuntime()
    {
        string message = Refuse(BundleForge.ValidMetadata(), [("w.qweight", GgmlType.I8, [2, 3], new byte[6])]);
        Assert.Contains("tensor 'w.qweight' is stored as I8", message);
        Assert.Contains("needs a newer EdgeGuard", message);
    }

    [Fact]
    public void Open_NoTensors_Fails() =>
        Assert.Contains("holds no tensors", Refuse(BundleForge.ValidMetadata(), []));

    [Fact]
    public void Open_UnknownExtraKey_IsIgnored()
    {
        string path = Forge(BundleForge.With("edgeguard.some_future_hint", GgufValue.FromString("ignorable")));
        using ModelBundle bundle = ModelBundle.Open(path);
        Assert.Equal("ignorable", bundle.Metadata["edgeguard.some_future_hint"]);
    }

    [Fact]
    public void Open_UnsealedBundle_FailsTheHeaderChecksum()
    {
        string path = _dir.File("unsealed.gguf");
        BundleForge.Write(path, BundleForge.ValidMetadata(), seal: false);
        var e = Assert.Throws<ModelFileException>(() => ModelBundle.Open(path));
        Assert.Contains("header checksum mismatch", e.Message);
    }

    private string Forge(
        IEnumerable<(string Key, GgufValue Value)> metadata,
        IEnumerable<(string Name, GgmlType Type, long[] Shape, byte[] Data)>? tensors = null)
    {
        string path = _dir.File(Guid.NewGuid().ToString("N") + ".gguf");
        BundleForge.Write(path, metadata, tensors);
        return path;
    }

    private string Refuse(
        IEnumerable<(string Key, GgufValue Value)> metadata,
        IEnumerable<(string Name, GgmlType Type, long[] Shape, byte[] Data)>? tensors = null)
    {
        string path = Forge(metadata, tensors);
        var e = Assert.Throws<ModelFileException>(() => ModelBundle.Open(path).Dispose());
        Assert.StartsWith(path + ": ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    private void AssertRefused(IEnumerable<(string Key, GgufValue Value)> metadata, string expectedProblem) =>
        Assert.Contains(expectedProblem, Refuse(metadata));
}
