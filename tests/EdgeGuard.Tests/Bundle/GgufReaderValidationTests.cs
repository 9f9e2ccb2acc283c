using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Gguf;

namespace EdgeGuard.Tests.Bundle;

/// <summary>Files wrong in exactly one place, laid out by hand; each must fail with a one-line message naming the problem.</summary>
public sealed class GgufReaderValidationTests : IDisposable
{
    private const int OneMegabyte = 1 << 20;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Open_MissingFile_FailsNamingTheFile()
    {
        string path = _dir.File("absent.gguf");
        var e = Assert.Throws<ModelFileException>(() => GgufReader.Open(path));
        Assert.Equal($"{path}: file not found", e.Message);
    }

    [Fact]
    public void Open_Directory_FailsSayingItIsADirectory()
    {
        var e = Assert.Throws<ModelFileException>(() => GgufReader.Open(_dir.Path));
        Assert.Contains("is a directory", e.Message);
    }

    [Fact]
    public void Open_PathWithNulCharacter_FailsAsModelFileException()
    {
        var e = Assert.Throws<ModelFileException>(() => GgufReader.Open(_dir.File("bad\0name.gguf")));
        Assert.Contains("cannot", e.Message);
    }

    [Fact]
    public void Open_EmptyFile_FailsAsTooShort() =>
        AssertRefused([], "too short for a GGUF header");

    [Fact]
    public void Open_WrongMagic_FailsAsNotGguf() =>
        AssertRefused(new RawGgufBuilder().Bytes("GGML"u8).U32(3).U64(0).U64(0).ToArray(), "not a GGUF file");

    [Fact]
    public void Open_OlderVersion_FailsNamingTheVersion() =>
        AssertRefused(new RawGgufBuilder().Header(0, 0, version: 2).ToArray(), "GGUF version 2 is not supported");

    [Fact]
    public void Open_NewerVersion_FailsAskingForAnUpgrade() =>
        AssertRefused(new RawGgufBuilder().Header(0, 0, version: 4).ToArray(), "GGUF version 4 is newer than this runtime supports (3)");

    [Fact]
    public void Open_BigEndianFile_FailsSayingSo() =>
        AssertRefused(new RawGgufBuilder().Header(0, 0, version: 0x0300_0000).ToArray(), "big-endian");

    [Fact]
    public void Open_HugeMetadataCount_FailsWithoutAllocating() =>
        AssertRefusedCheaply(new RawGgufBuilder().Header(0, ulong.MaxValue / 2).Zeros(64).ToArray(), "metadata count");

    [Fact]
    public void Open_HugeTensorCount_FailsWithoutAllocating() =>
        AssertRefusedCheaply(new RawGgufBuilder().Header(1UL << 40, 0).Zeros(64).ToArray(), "tensor count");

    [Fact]
    public void Open_HugeKeyLength_FailsWithoutAllocating() =>
        AssertRefusedCheaply(new RawGgufBuilder().Header(0, 1).U64(1UL << 62).Zeros(32).ToArray(), "metadata key #0");

    [Fact]
    public void Open_HugeStringLength_FailsWithoutAllocating() =>
        AssertRefusedCheaply(new RawGgufBuilder().Header(0, 1).Str("k").U32(8).U64(ulong.MaxValue).Zeros(32).ToArray(), "'k'");

    [Fact]
    public void Open_HugeArrayCount_FailsWithoutAllocating() =>
        AssertRefusedCheaply(new RawGgufBuilder().Header(0, 1).Str("k").U32(9).U32(8).U64(1UL << 60).Zeros(32).ToArray(), "claims");

    [Fact]
    public void Open_HugeFixedSizeArrayCount_FailsWithoutAllocating() =>
        AssertRefusedCheaply(new RawGgufBuilder().Header(0, 1).Str("k").U32(9).U32(12).U64(ulong.MaxValue / 4).Zeros(32).ToArray(), "claims");

    [Fact]
    public void Open_ArraysNestedTooDeep_Fails()
    {
        var b = new RawGgufBuilder().Header(0, 1).Str("k").U32(9);
        for (int i = 0; i < GgufFormat.MaxArrayNesting; i++)
        {
            b.U32(9).U64(1);
        }

        AssertRefused(b.U32(0).U64(0).ToArray(), "nests arrays");
    }

    [Fact]
    public void Open_UnknownValueType_Fails() =>
        AssertRefused(new RawGgufBuilder().Header(0, 1).Str("k").U32(13).U32(0).ToArray(), "value type 13");

    [Fact]
    public void Open_UnknownArrayElementType_Fails() =>
        AssertRefused(new RawGgufBuilder().Header(0, 1).Str("k").U32(9).U32(77).U64(0).ToArray(), "value type 77");

    [Fact]
    public void Open_BooleanByteTwo_Fails() =>
        AssertRefused(new RawGgufBuilder().Header(0, 1).Str("k").U32(7).U8(2).ToArray(), "boolean");

    [Fact]
    public void Open_BooleanArrayWithByteTwo_Fails() =>
        AssertRefused(new RawGgufBuilder().Header(0, 1).Str("k").U32(9).U32(7).U64(2).U8(1).U8(2).ToArray(), "boolean");

    [Fact]
    public void Open_InvalidUtf8String_Fails() =>
        AssertRefused(new RawGgufBuilder().Header(0, 1).Str("k").U32(8).Str([0xC3, 0x28]).ToArray(), "not valid UTF-8");

    [Fact]
    public void Open_NonAsciiKey_Fails() =>
        AssertRefused(new RawGgufBuilder().Header(0, 1).Str("ké").U32(0).U8(1).ToArray(), "not ASCII");

    [Fact]
    public void Open_EmptyKey_Fails() =>
        AssertRefused(new RawGgufBuilder().Header(0, 1).Str("").U32(0).U8(1).Zeros(16).ToArray(), "keys must be 1 to");

    [Fact]
    public void Open_DuplicateKey_Fails() =>
        AssertRefused(new RawGgufBuilder().Header(0, 2).KvU32("k", 1).KvU32("k", 2).ToArray(), "'k' appears more than once");

    [Theory]
    [InlineData(48u)]
    [InlineData(4u)]
    [InlineData(0u)]
    public void Open_InvalidAlignment_Fails(uint alignment) =>
        AssertRefused(new RawGgufBuilder().Header(0, 1).KvU32("general.alignment", alignment).ToArray(), "power of two");

    [Fact]
    public void Open_AlignmentOfWrongType_Fails() =>
        AssertRefused(new RawGgufBuilder().Header(0, 1).Str("general.alignment").U32(10).U64(32).ToArray(), "must be u32");

    [Fact]
    public void Open_TensorNameTooLong_Fails() =>
        AssertRefused(OneTensor(name: new string('x', 64)), "64-byte name");

    [Fact]
    public void Open_DuplicateTensorName_Fails() =>
        AssertRefused(
            new RawGgufBuilder().Header(2, 0).TensorInfo("t", 0, 0, 1).TensorInfo("t", 0, 32, 1).PadTo(32).Zeros(64).ToArray(),
            "'t' appears more than once");

    [Fact]
    public void Open_FiveDimensions_Fails() =>
        AssertRefused(OneTensor(dims: [1, 1, 1, 1, 1]), "5 dimensions");

    [Fact]
    public void Open_ZeroDimension_Fails() =>
        AssertRefused(OneTensor(dims: [4, 0]), "every dimension must be at least 1");

    [Fact]
    public void Open_NegativeDimension_Fails() =>
        AssertRefused(OneTensor(dims: [ulong.MaxValue]), "every dimension must be at least 1");

    [Fact]
    public void Open_ElementCountOverflow_Fails() =>
        AssertRefused(OneTensor(dims: [1UL << 40, 1UL << 40]), "overflows");

    [Theory]
    [InlineData(2u)] // Q4_0, a block-quantized type
    [InlineData(99u)]
    public void Open_UnknownGgmlType_FailsNamingTheType(uint type) =>
        AssertRefused(OneTensor(type: type), $"ggml type {type}, which this runtime does not read");

    [Fact]
    public void Open_Q8_0Tensor_IsSizedByBlocks()
    {
        // [2, 64]: four 34-byte blocks.
        string path = Write(new RawGgufBuilder().Header(1, 0).TensorInfo("t", 8, 0, 64, 2).PadTo(32).Zeros(4 * 34).ToArray());
        using GgufReader reader = GgufReader.Open(path);
        GgufTensorInfo tensor = reader.FindTensor("t")!;
        Assert.Equal(GgmlType.Q8_0, tensor.Type);
        Assert.Equal([2L, 64L], tensor.Shape);
        Assert.Equal(136, tensor.ByteLength);
        Assert.Equal(128, tensor.ElementCount);
    }

    [Fact]
    public void Open_Q8_0TensorCutShort_FailsAsTruncated() =>
        AssertRefused(new RawGgufBuilder().Header(1, 0).TensorInfo("t", 8, 0, 64, 2).PadTo(32).Zeros((4 * 34) - 1).ToArray(), "past the end");

    [Theory]
    [InlineData(new ulong[] { 48, 2 }, "rows of 48 values")]
    [InlineData(new ulong[] { 16 }, "rows of 16 values")]
    [InlineData(new ulong[0], "rows of 1 values")]
    public void Open_Q8_0RowsThatAreNotWholeBlocks_Fail(ulong[] dims, string expected) =>
        AssertRefused(new RawGgufBuilder().Header(1, 0).TensorInfo("t", 8, 0, dims).PadTo(32).Zeros(256).ToArray(), $"tensor 't' is Q8_0 with {expected}; that type stores whole blocks of 32 values");

    [Fact]
    public void Open_Q8_0ByteSizeOverflow_Fails() =>
        // 31·2⁵⁸ elements fit 64 bits; their 31·2⁵³ blocks of 34 bytes do not.
        AssertRefused(OneTensor(dims: [31 * 32, 1UL << 53], type: 8), "has a byte size that overflows 64 bits");

    [Fact]
    public void Open_MisalignedTensorOffset_Fails() =>
        AssertRefused(OneTensor(offset: 4), "not a multiple of the alignment 32");

    [Fact]
    public void Open_TensorPastTheEndOfTheFile_Fails() =>
        AssertRefused(OneTensor(dims: [9]), "past the end");

    [Fact]
    public void Open_OverlappingTensors_Fails() =>
        AssertRefused(
            new RawGgufBuilder().Header(2, 0).TensorInfo("a", 0, 0, 16).TensorInfo("b", 0, 32, 16).PadTo(32).Zeros(128).ToArray(),
            "'a' and 'b' overlap");

    [Fact]
    public void Open_DataSectionMissing_FailsAsTruncated() =>
        AssertRefused(new RawGgufBuilder().Header(1, 0).TensorInfo("t", 0, 0, 1).ToArray(), "truncated");

    [Fact]
    public void Open_ValidHandBuiltFile_Opens()
    {
        // The baseline the tests above each break in one place.
        string path = Write(OneTensor());
        using GgufReader reader = GgufReader.Open(path);
        Assert.Equal([2L, 4L], reader.FindTensor("t")!.Shape);
    }

    /// <summary>A file with one F32 tensor named <paramref name="name"/> with the given innermost-first dims.</summary>
    private static byte[] OneTensor(string name = "t", ulong[]? dims = null, uint type = 0, ulong offset = 0) =>
        new RawGgufBuilder().Header(1, 0).TensorInfo(name, type, offset, dims ?? [4, 2]).PadTo(32).Zeros(32).ToArray();

    private string Write(byte[] bytes)
    {
        string path = _dir.File(Guid.NewGuid().ToString("N") + ".gguf");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private void AssertRefused(byte[] bytes, string expectedProblem)
    {
        string path = Write(bytes);
        var e = Assert.Throws<ModelFileException>(() => GgufReader.Open(path).Dispose());
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(expectedProblem, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    private void AssertRefusedCheaply(byte[] bytes, string expectedProblem)
    {
        string path = Write(bytes);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFileException>(() => GgufReader.Open(path).Dispose());
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains(expectedProblem, e.Message);
        Assert.True(allocated < OneMegabyte, $"refusing the file allocated {allocated} bytes");
    }
}
