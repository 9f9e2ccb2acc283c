using System.Buffers.Binary;
using System.IO.Hashing;
using EdgeGuard.ModelFiles.Gguf;

namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>
/// The bundle's integrity envelope, the same in every bundle format version so that any reader can tell a
/// corrupt file from a newer one. Both checksums are XXH3-64 with seed 0, stored as u64 metadata:
/// <list type="bullet">
/// <item><c>edgeguard.checksum.tensor_data</c> covers the tensor data section, <c>[DataStart, end of file)</c>, padding included.</item>
/// <item><c>edgeguard.checksum.header</c> covers the header region <c>[0, DataStart)</c> (header, every metadata pair
/// including the tensor-data checksum, tensor infos, padding) with its own eight value bytes taken as zero,
/// followed by the file length as a little-endian u64, so truncating or extending the file breaks it too.</item>
/// </list>
/// Together they cover every byte of the file: a flipped byte in the header region fails the header check,
/// one in the data section fails the data check.
/// </summary>
internal static class BundleChecksum
{
    // Hashing reads the map in slices this big: the span API takes int lengths, and data sections pass 2 GiB.
    private const int SliceBytes = 16 << 20;

    /// <summary>The header checksum of <paramref name="file"/>, given where its stored value sits.</summary>
    public static ulong ComputeHeader(GgufReader file, long headerValueOffset) =>
        ComputeHeader(file.GetFileBytes(0, (int)file.DataStart), (int)headerValueOffset, file.FileSize);

    /// <summary>The tensor data checksum of <paramref name="file"/>.</summary>
    /// <remarks>
    /// Each slice is evicted from the process's resident memory once hashed: otherwise verifying at open would leave
    /// every weight resident, including the rows of the embedding table no input ever looks up.
    /// </remarks>
    public static ulong ComputeTensorData(GgufReader file)
    {
        var hash = new XxHash3();
        for (long offset = file.DataStart; offset < file.FileSize; offset += SliceBytes)
        {
            int length = (int)Math.Min(SliceBytes, file.FileSize - offset);
            hash.Append(file.GetFileBytes(offset, length));
            file.EvictFileBytes(offset, length);
        }

        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>
    /// Fills in both checksums of a freshly written bundle whose two checksum keys hold u64 placeholders,
    /// then flushes the file to disk.
    /// </summary>
    public static void Seal(string path)
    {
        long headerValueOffset;
        long dataValueOffset;
        ulong dataChecksum;
        byte[] headerRegion;
        long fileLength;
        using (GgufReader file = GgufReader.Open(path))
        {
            headerValueOffset = ChecksumValueOffset(file, BundleKeys.HeaderChecksum);
            dataValueOffset = ChecksumValueOffset(file, BundleKeys.TensorDataChecksum);
            dataChecksum = ComputeTensorData(file);
            headerRegion = file.GetFileBytes(0, (int)file.DataStart).ToArray();
            fileLength = file.FileSize;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(headerRegion.AsSpan((int)dataValueOffset, 8), dataChecksum);
        ulong headerChecksum = ComputeHeader(headerRegion, (int)headerValueOffset, fileLength);

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.None);
        Span<byte> value = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(value, dataChecksum);
        stream.Position = dataValueOffset;
        stream.Write(value);
        BinaryPrimitives.WriteUInt64LittleEndian(value, headerChecksum);
        stream.Position = headerValueOffset;
        stream.Write(value);
        stream.Flush(flushToDisk: true);
    }

    private static ulong ComputeHeader(ReadOnlySpan<byte> headerRegion, int headerValueOffset, long fileLength)
    {
        Span<byte> scratch = stackalloc byte[8];
        var hash = new XxHash3();
        hash.Append(headerRegion[..headerValueOffset]);
        scratch.Clear();
        hash.Append(scratch);
        hash.Append(headerRegion[(headerValueOffset + 8)..]);
        BinaryPrimitives.WriteInt64LittleEndian(scratch, fileLength);
        hash.Append(scratch);
        return hash.GetCurrentHashAsUInt64();
    }

    private static long ChecksumValueOffset(GgufReader file, string key)
    {
        GgufMetadataEntry? entry = file.FindMetadata(key);
        if (entry is null || entry.Value.Type != GgufValueType.UInt64)
        {
            throw new InvalidOperationException($"{file.Path} has no u64 placeholder for {key}.");
        }

        return entry.ValueOffset;
    }
}
