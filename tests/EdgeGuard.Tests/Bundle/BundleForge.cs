using System.Runtime.InteropServices;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.ModelFiles.Gguf;

namespace EdgeGuard.Tests.Bundle;

/// <summary>
/// Writes bundle-shaped GGUF files with any metadata, including metadata <see cref="BundleWriter"/> refuses to write,
/// and seals them with valid checksums, so each bundle-level rule can be tested on a file that breaks only that rule.
/// </summary>
internal static class BundleForge
{
    public static readonly float[] TensorValues = [1, 2, 3, 4, 5, 6];

    /// <summary>The metadata a valid version 1 bundle holds (general.alignment is added by the GGUF writer).</summary>
    public static List<(string Key, GgufValue Value)> ValidMetadata() =>
    [
        (BundleKeys.Architecture, GgufValue.FromString("deberta-v2")),
        (BundleKeys.FormatVersion, GgufValue.FromUInt32(1)),
        (BundleKeys.HeaderChecksum, GgufValue.FromUInt64(0)),
        (BundleKeys.TensorDataChecksum, GgufValue.FromUInt64(0)),
        (BundleKeys.Precision, GgufValue.FromString("f32")),
        (BundleKeys.Labels, GgufValue.FromArray(GgufArray.FromStrings(["safe", "unsafe"]))),
        (BundleKeys.UnsafeLabel, GgufValue.FromUInt32(1)),
        (BundleKeys.Threshold, GgufValue.FromFloat32(0.5f)),
        (BundleKeys.ConfigJson, GgufValue.FromString("{\"model_type\":\"deberta-v2\"}")),
        (BundleKeys.TokenizerModel, GgufValue.FromArray(GgufArray.FromBytes(new byte[] { 1, 2, 3 }))),
    ];

    /// <summary>Valid metadata with <paramref name="key"/> set to <paramref name="value"/> (added if absent).</summary>
    public static List<(string Key, GgufValue Value)> With(string key, GgufValue value)
    {
        List<(string Key, GgufValue Value)> metadata = ValidMetadata();
        int index = metadata.FindIndex(e => e.Key == key);
        if (index >= 0)
        {
            metadata[index] = (key, value);
        }
        else
        {
            metadata.Add((key, value));
        }

        return metadata;
    }

    /// <summary>Valid metadata without <paramref name="key"/>.</summary>
    public static List<(string Key, GgufValue Value)> Without(string key)
    {
        List<(string Key, GgufValue Value)> metadata = ValidMetadata();
        metadata.RemoveAll(e => e.Key == key);
        return metadata;
    }

    /// <summary>
    /// Writes the metadata and, by default, one F32 tensor <c>w</c> of shape [2, 3], then seals the checksums when
    /// both checksum keys are present as u64 and <paramref name="seal"/> is true.
    /// </summary>
    public static void Write(
        string path,
        IEnumerable<(string Key, GgufValue Value)> metadata,
        IEnumerable<(string Name, GgmlType Type, long[] Shape, byte[] Data)>? tensors = null,
        bool seal = true)
    {
        var writer = new GgufWriter(BundleFormat.Alignment);
        foreach ((string key, GgufValue value) in metadata)
        {
            writer.AddMetadata(key, value);
        }

        tensors ??= [("w", GgmlType.F32, [2, 3], MemoryMarshal.AsBytes(TensorValues.AsSpan()).ToArray())];
        foreach ((string name, GgmlType type, long[] shape, byte[] data) in tensors)
        {
            writer.AddTensor(name, type, shape, s => s.Write(data));
        }

        using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write))
        {
            writer.WriteTo(stream);
        }

        if (seal && CanSeal(path))
        {
            BundleChecksum.Seal(path);
        }
    }

    private static bool CanSeal(string path)
    {
        using GgufReader file = GgufReader.Open(path);
        return file.FindMetadata(BundleKeys.HeaderChecksum)?.Value.Type == GgufValueType.UInt64
            && file.FindMetadata(BundleKeys.TensorDataChecksum)?.Value.Type == GgufValueType.UInt64;
    }
}
