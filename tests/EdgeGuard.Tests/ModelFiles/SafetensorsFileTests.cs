using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using EdgeGuard.ModelFiles;
using EdgeGuard.Testing;

namespace EdgeGuard.Tests.ModelFiles;

public sealed class SafetensorsFileTests
{
    private static readonly float[] Values = [1.5f, -2f, 0.25f, 3f, -0.125f, 1024f];

    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void ReadFloat32_EachSupportedDType_RoundTripsValues(string dtype)
    {
        using var dir = new TempDirectory();
        var writer = new SafetensorsTestWriter();
        _ = dtype switch
        {
            "F16" => writer.AddF16("w", [2, 3], Values),
            "BF16" => writer.AddBF16("w", [2, 3], Values),
            _ => writer.AddF32("w", [2, 3], Values),
        };
        writer.Write(dir.File("m.safetensors"));

        using var file = SafetensorsFile.Open(dir.File("m.safetensors"));
        TensorInfo info = Assert.Single(file.Tensors);
        Assert.Equal(Enum.Parse<TensorDType>(dtype), info.DType);
        Assert.Equal([2L, 3L], info.Shape);
        Assert.Equal(Values, file.ReadFloat32("w").ToArray());
    }

    [Fact]
    public void ReadFloat32_AlignedF32_IsAViewOfTheMappedFile()
    {
        using var dir = new TempDirectory();
        new SafetensorsTestWriter().AddF32("w", [6], Values).Write(dir.File("m.safetensors"));
        using var file = SafetensorsFile.Open(dir.File("m.safetensors"));
        ReadOnlyMemory<float> memory = file.ReadFloat32("w");
        Assert.False(MemoryMarshal.TryGetArray(memory, out _));
        Assert.Equal(Values, memory.ToArray());
    }

    [Fact]
    public void ReadFloat32_UnalignedF32_IsConvertedToACopy()
    {
        using var dir = new TempDirectory();
        new SafetensorsTestWriter { LeadingPadding = 2 }.AddF32("w", [6], Values).Write(dir.File("m.safetensors"));
        using var file = SafetensorsFile.Open(dir.File("m.safetensors"));
        ReadOnlyMemory<float> memory = file.ReadFloat32("w");
        Assert.True(MemoryMarshal.TryGetArray(memory, out _));
        Assert.Equal(Values, memory.ToArray());
    }

    [Fact]
    public void Open_TruncatedAnywhere_ThrowsModelFileException()
    {
        byte[] bytes = new SafetensorsTestWriter().AddF32("a", [3], Values.AsSpan(0, 3)).AddF16("b", [3], Values.AsSpan(3)).ToBytes();
        using var dir = new TempDirectory();
        string path = dir.File("m.safetensors");
        for (int length = 0; length < bytes.Length; length++)
        {
            File.WriteAllBytes(path, bytes[..length]);
            Assert.Throws<ModelFileException>(() => SafetensorsFile.Open(path).Dispose());
        }
    }

    [Fact]
    public void Parse_AnyFlippedHeaderByte_EitherParsesOrThrowsModelFileException()
    {
        string header = new SafetensorsTestWriter().AddF32("a.weight", [2, 3], Values).AddBF16("b", [1], [1f]).Header();
        byte[] json = Encoding.UTF8.GetBytes(header);
        long dataLength = 24 + 2;
        foreach (byte mask in new byte[] { 0x01, 0x20, 0x80, 0xFF })
        {
            for (int i = 0; i < json.Length; i++)
            {
                byte[] corrupt = (byte[])json.Clone();
                corrupt[i] ^= mask;
                try
                {
                    List<SafetensorsEntry> entries = SafetensorsHeader.Parse(corrupt, dataLength, "corrupt");
                    Assert.All(entries, e => Assert.InRange(e.End, e.Begin, dataLength));
                }
                catch (ModelFileException)
                {
                }
            }
        }
    }

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 40)]
    [InlineData(100_000_001UL)]
    [InlineData(0UL)]
    public void Open_AbsurdHeaderLength_ThrowsModelFileException(ulong headerLength)
    {
        byte[] bytes = new SafetensorsTestWriter().AddF32("w", [6], Values).ToBytes();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength);
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("m.safetensors"), bytes);
        var error = Assert.Throws<ModelFileException>(() => SafetensorsFile.Open(dir.File("m.safetensors")));
        Assert.Contains("header length", error.Message);
    }

    [Fact]
    public void Open_OverlappingTensors_NamesBoth()
    {
        var writer = new SafetensorsTestWriter().AddF32("first", [3], Values.AsSpan(0, 3)).AddF32("second", [3], Values.AsSpan(3));
        string header = writer.Header().Replace("[12,24]", "[8,20]");
        var error = Assert.Throws<ModelFileException>(() => Open(writer.Build(header)));
        Assert.Contains("'first' and 'second' overlap", error.Message);
    }

    [Fact]
    public void Open_ShapeDisagreeingWithOffsets_NamesTheTensor()
    {
        var writer = new SafetensorsTestWriter().AddF32("w", [2, 3], Values);
        var error = Assert.Throws<ModelFileException>(() => Open(writer.Build(writer.Header().Replace("[2,3]", "[2,4]"))));
        Assert.Contains("'w'", error.Message);
        Assert.Contains("[2, 4]", error.Message);
    }

    [Fact]
    public void Open_OffsetsBeyondTheFile_ThrowsModelFileException()
    {
        var writer = new SafetensorsTestWriter().AddF32("w", [6], Values);
        var error = Assert.Throws<ModelFileException>(() => Open(writer.Build(writer.Header().Replace("[0,24]", "[24,48]"))));
        Assert.Contains("outside", error.Message);
    }

    [Fact]
    public void Open_DuplicateTensorName_ThrowsModelFileException()
    {
        var writer = new SafetensorsTestWriter().AddF32("w", [3], Values.AsSpan(0, 3)).AddF32("v", [3], Values.AsSpan(3));
        var error = Assert.Throws<ModelFileException>(() => Open(writer.Build(writer.Header().Replace("\"v\"", "\"w\""))));
        Assert.Contains("twice", error.Message);
    }

    [Fact]
    public void ReadFloat32_UnsupportedDType_NamesTensorAndDType()
    {
        using var dir = new TempDirectory();
        new SafetensorsTestWriter().AddF32("w", [6], Values).Add("deberta.embeddings.position_ids", "I64", [1, 2], new byte[16]).Write(dir.File("m.safetensors"));
        using var file = SafetensorsFile.Open(dir.File("m.safetensors"));
        Assert.Null(file.Find("deberta.embeddings.position_ids"));
        Assert.DoesNotContain(file.Tensors, t => t.Name == "deberta.embeddings.position_ids");
        var error = Assert.Throws<ModelFileException>(() => file.ReadFloat32("deberta.embeddings.position_ids"));
        Assert.Contains("'deberta.embeddings.position_ids' has dtype I64", error.Message);
    }

    [Fact]
    public void Open_UnknownDType_NamesTensorAndDType()
    {
        var writer = new SafetensorsTestWriter().Add("q", "Q4_K", [4], new byte[4]);
        var error = Assert.Throws<ModelFileException>(() => Open(writer.ToBytes()));
        Assert.Contains("'q' has unknown dtype 'Q4_K'", error.Message);
    }

    [Fact]
    public void ReadFloat32_UnknownName_ThrowsModelFileException()
    {
        using var file = SafetensorsFile.Open(Path.Combine(RepoPaths.Fixture("tiny-buckets"), "model.safetensors"));
        Assert.Throws<ModelFileException>(() => file.ReadFloat32("no.such.tensor"));
    }

    [Fact]
    public void Open_MissingFile_NamesThePath()
    {
        string path = Path.Combine(Path.GetTempPath(), "edgeguard-missing-" + Guid.NewGuid().ToString("N") + ".safetensors");
        var error = Assert.Throws<ModelFileException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Open_FixtureWeights_ListsEveryTensor()
    {
        using var file = SafetensorsFile.Open(Path.Combine(RepoPaths.Fixture("xsmall-2layer"), "model.safetensors"));
        Assert.Equal(42, file.Tensors.Count);
        TensorInfo embeddings = file.Find("deberta.embeddings.word_embeddings.weight")!;
        Assert.Equal([1000L, 384L], embeddings.Shape);
        Assert.Equal(1000 * 384, file.ReadFloat32(embeddings.Name).Length);
    }

    private static void Open(byte[] bytes)
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("m.safetensors"), bytes);
        SafetensorsFile.Open(dir.File("m.safetensors")).Dispose();
    }
}
