using System.Buffers.Binary;
using System.Text;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.ModelFiles.Gguf;

namespace EdgeGuard.Tests.Bundle;

/// <summary>
/// Damage to a real bundle, at every offset: it must end in <see cref="ModelFileException"/> — never another
/// exception, never a crash — except that damage inside the tensor data opens when data verification is off.
/// </summary>
public sealed class BundleCorruptionTests : IClassFixture<BundleCorruptionTests.WrittenBundle>, IDisposable
{
    private const int OneMegabyte = 1 << 20;
    private readonly WrittenBundle _bundle;
    private readonly TempDirectory _dir = new();
    private readonly string _path;

    public BundleCorruptionTests(WrittenBundle bundle)
    {
        _bundle = bundle;
        _path = _dir.File("damaged.gguf");
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Open_UndamagedCopy_Opens()
    {
        // The baseline every case below damages.
        Assert.Null(TryOpen(_bundle.Bytes, verifyTensorData: true));
    }

    [Fact]
    public void Open_TruncatedFile_FailsWithClearMessage()
    {
        int[] lengths = [0, 1, 3, 4, 8, 23, 24, 25, (int)_bundle.DataStart - 1, (int)_bundle.DataStart, (int)_bundle.DataStart + 1, _bundle.Bytes.Length - 1];
        foreach (int length in lengths.Concat(Enumerable.Range(0, _bundle.Bytes.Length).Where(n => n % 3 == 0)))
        {
            byte[] truncated = _bundle.Bytes[..length];

            // The header checksum covers the file length, so truncation is caught with or without data verification.
            AssertFailsCleanly(TryOpen(truncated, verifyTensorData: true), $"truncated to {length} bytes");
            AssertFailsCleanly(TryOpen(truncated, verifyTensorData: false), $"truncated to {length} bytes, data unverified");
        }
    }

    [Fact]
    public void Open_ExtendedFile_FailsTheHeaderChecksum()
    {
        byte[] extended = [.. _bundle.Bytes, .. new byte[64]];
        Exception? failure = TryOpen(extended, verifyTensorData: false);
        AssertFailsCleanly(failure, "64 zero bytes appended");
        Assert.Contains("header checksum mismatch", failure!.Message);
    }

    [Fact]
    public void Open_FlippedByteAnywhere_FailsWhenVerifyingTensorData()
    {
        for (int offset = 0; offset < _bundle.Bytes.Length; offset++)
        {
            // Whole-byte flips everywhere; single-bit flips on every seventh byte.
            foreach (byte mask in offset % 7 == 0 ? new byte[] { 0xFF, 0x01 } : [0xFF])
            {
                byte[] damaged = Flip(offset, mask);
                AssertFailsCleanly(TryOpen(damaged, verifyTensorData: true), $"byte {offset} ^ 0x{mask:x2}");
            }
        }
    }

    [Fact]
    public void Open_FlippedByteWithoutDataVerification_FailsInTheHeaderAndOpensInTheData()
    {
        for (int offset = 0; offset < _bundle.Bytes.Length; offset += 2)
        {
            Exception? failure = TryOpen(Flip(offset, 0xFF), verifyTensorData: false);
            if (offset < _bundle.DataStart)
            {
                AssertFailsCleanly(failure, $"header byte {offset}");
            }
            else
            {
                Assert.Null(failure);
            }
        }
    }

    [Fact]
    public void Open_FlippedTensorByte_FailsNamingTheTensorDataChecksum()
    {
        Exception? failure = TryOpen(Flip((int)_bundle.DataStart + 5, 0x40), verifyTensorData: true);
        AssertFailsCleanly(failure, "data byte");
        Assert.Contains("tensor data checksum mismatch", failure!.Message);
    }

    [Fact]
    public void Open_FlippedTokenizerByte_FailsNamingTheHeaderChecksum()
    {
        // The tokenizer's bytes parse whatever their value, so only the checksum can notice.
        Exception? failure = TryOpen(Flip(_bundle.TokenizerOffset + 10, 0x01), verifyTensorData: false);
        AssertFailsCleanly(failure, "tokenizer byte");
        Assert.Contains("header checksum mismatch", failure!.Message);
    }

    [Fact]
    public void Open_TensorOfUnknownGgmlType_FailsNamingTheType()
    {
        byte[] damaged = (byte[])_bundle.Bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(damaged.AsSpan(_bundle.ProbeTypeOffset), 99);
        Exception? failure = TryOpen(damaged, verifyTensorData: false);
        AssertFailsCleanly(failure, "tensor type 99");
        Assert.Contains("ggml type 99", failure!.Message);
    }

    [Fact]
    public void Open_HugeLabelCount_FailsWithoutLargeAllocation()
    {
        byte[] damaged = (byte[])_bundle.Bytes.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(damaged.AsSpan(_bundle.LabelCountOffset), 1UL << 60);
        File.WriteAllBytes(_path, damaged);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFileException>(() => ModelBundle.Open(_path).Dispose());
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("claims", e.Message);
        Assert.True(allocated < OneMegabyte, $"refusing the file allocated {allocated} bytes");
    }

    private byte[] Flip(int offset, byte mask)
    {
        byte[] damaged = (byte[])_bundle.Bytes.Clone();
        damaged[offset] ^= mask;
        return damaged;
    }

    private Exception? TryOpen(byte[] bytes, bool verifyTensorData)
    {
        File.WriteAllBytes(_path, bytes);
        try
        {
            using ModelBundle bundle = ModelBundle.Open(_path, verifyTensorData);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private void AssertFailsCleanly(Exception? failure, string damage)
    {
        Assert.True(failure is not null, $"{damage}: the bundle opened");
        Assert.True(failure is ModelFileException, $"{damage}: threw {failure.GetType().Name}: {failure.Message}");
        Assert.StartsWith(_path + ": ", failure.Message);
        Assert.DoesNotContain('\n', failure.Message);
    }

    /// <summary>One bundle written by <see cref="BundleWriter"/>, with the offsets the targeted tests damage.</summary>
    public sealed class WrittenBundle : IDisposable
    {
        private readonly TempDirectory _dir = new();

        public WrittenBundle()
        {
            string path = _dir.File("model.gguf");
            using InMemoryTensorSource weights = SampleBundle.Weights().AddF32("probe.weight", [2], [7f, 8f]);
            BundleWriter.Write(path, SampleBundle.Contents(), weights);
            Bytes = File.ReadAllBytes(path);
            using GgufReader file = GgufReader.Open(path);
            DataStart = file.DataStart;

            // An array value is element type (4), count (8), then the elements.
            LabelCountOffset = (int)file.FindMetadata(BundleKeys.Labels)!.ValueOffset + 4;
            TokenizerOffset = (int)file.FindMetadata(BundleKeys.TokenizerFilePrefix + "spm.model")!.ValueOffset + 12;

            // A tensor info is name, n_dims (4), dims (8 each), type (4), offset (8).
            byte[] name = Encoding.UTF8.GetBytes("probe.weight");
            int nameAt = Bytes.AsSpan(0, (int)DataStart).IndexOf(name);
            ProbeTypeOffset = nameAt + name.Length + 4 + 8;
        }

        public byte[] Bytes { get; }

        public long DataStart { get; }

        public int LabelCountOffset { get; }

        public int TokenizerOffset { get; }

        public int ProbeTypeOffset { get; }

        public void Dispose() => _dir.Dispose();
    }
}
