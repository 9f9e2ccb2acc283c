using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles.Gguf;
using EdgeGuard.Models.Deberta;

namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>Writes EdgeGuard bundles: one GGUF file holding config, tokenizer, labels, threshold and weights.</summary>
public static class BundleWriter
{
    // Half-precision tensors are narrowed through a pooled buffer of this many elements at a time.
    private const int NarrowChunkElements = 1 << 16;

    /// <summary>
    /// Writes every tensor of <paramref name="weights"/> and <paramref name="contents"/> to <paramref name="path"/>
    /// as a float bundle (format version <see cref="BundleFormat.Float32Version"/>).
    /// </summary>
    /// <remarks>
    /// Tensors are stored as F32 whatever their source type: F16 and BF16 widen exactly, and F32 weights are
    /// what the float32 engine maps zero-copy at start-up (see <c>docs/decisions/0001-bundle-format.md</c>).
    /// Tensors are written in ordinal name order, 64-byte aligned, so the same inputs give the same file.
    /// The write is atomic: the bundle is written to a temporary file in the same directory, sealed with its
    /// checksums, flushed to disk, opened and fully verified, and only then renamed over <paramref name="path"/>.
    /// On any failure the temporary file is removed and an existing file at <paramref name="path"/> is untouched.
    /// </remarks>
    /// <param name="path">Destination file; replaced if it exists.</param>
    /// <param name="contents">Config, tokenizer, labels, threshold and descriptive fields.</param>
    /// <param name="weights">The model's tensors.</param>
    /// <param name="progress">Receives the fraction done, from 0 to 1.</param>
    /// <exception cref="ArgumentException"><paramref name="contents"/> is invalid (the message says which field and why).</exception>
    /// <exception cref="ModelFileException">A tensor of <paramref name="weights"/> cannot be stored or read.</exception>
    /// <exception cref="IOException">The destination cannot be written.</exception>
    public static void Write(string path, BundleContents contents, ITensorSource weights, IProgress<double>? progress = null) =>
        Write(path, contents, weights, progress, keepHalfPrecision: false);

    /// <summary>
    /// As <see cref="Write(string, BundleContents, ITensorSource, IProgress{double}?)"/>; with
    /// <paramref name="keepHalfPrecision"/>, F16 and BF16 source tensors keep their type instead of widening.
    /// Format version 1 readers accept such tensors (converting on read); the public writer does not produce them.
    /// </summary>
    internal static void Write(string path, BundleContents contents, ITensorSource weights, IProgress<double>? progress, bool keepHalfPrecision)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(contents);
        ArgumentNullException.ThrowIfNull(weights);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Bundles are little-endian; writing them on a big-endian host is not supported.");
        }

        GgufWriter gguf = Describe(contents, BundleFormat.PrecisionF32);
        AddTensors(gguf, weights, keepHalfPrecision);
        WriteAtomically(Path.GetFullPath(path), gguf, progress);
    }

    /// <summary>
    /// Writes an int8 bundle (format version <see cref="BundleFormat.Int8Version"/>): every encoder linear layer and the
    /// pooler as <c>P.qweight</c> (I8, per-channel symmetric, packed as <see cref="PackedInt8Matrix"/>), <c>P.qscale</c>
    /// (F32) and <c>P.qsum</c> (I32) instead of <c>P.weight</c>; each layer's position projections as
    /// <c>edgeguard.rel_pos.{i}.key/.query</c> (F32); the word embedding table as F16 (rounded; kept F32 if a value
    /// is beyond F16's range); every other tensor as F32. Atomic and self-verified as
    /// <see cref="Write(string, BundleContents, ITensorSource, IProgress{double}?)"/>.
    /// </summary>
    /// <param name="contents">As for a float bundle, with <see cref="BundleContents.Precision"/> = <see cref="BundleFormat.PrecisionInt8"/>.</param>
    /// <param name="config">The model's config, to find its layers.</param>
    /// <param name="pool">Runs the quantisation and the position projections.</param>
    /// <param name="weightLimit">
    /// The largest |w|: <see cref="PackedInt8Matrix.FullWeightLimit"/> (8-bit weights, the default) or
    /// <see cref="PackedInt8Matrix.SevenBitWeightLimit"/> (7-bit, which the AVX2 kernel multiplies faster); recorded as
    /// <see cref="BundleKeys.Int8WeightLimit"/>.
    /// </param>
    public static void WriteInt8(
        string path, BundleContents contents, ITensorSource weights, DebertaConfig config, WorkerPool pool, IProgress<double>? progress = null, int weightLimit = PackedInt8Matrix.FullWeightLimit)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(contents);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(pool);
        GgufWriter gguf = Describe(contents, BundleFormat.PrecisionInt8);
        gguf.AddMetadata(BundleKeys.Int8Layout, GgufValue.FromString(PackedInt8Matrix.LayoutKey));
        gguf.AddMetadata(BundleKeys.Int8WeightLimit, GgufValue.FromUInt32((uint)weightLimit));

        var classifier = DebertaClassifier.Load(config, weights, pool, DebertaPrecision.Int8, weightLimit);
        Linear[] linears = [.. classifier.Int8Linears];
        var replaced = new HashSet<string>(linears.Select(l => l.Name + ".weight"), StringComparer.Ordinal);
        var entries = new List<(string Name, GgmlType Type, long[] Shape, Action<Stream> Write)>();
        (string tableName, ReadOnlyMemory<Half> halfTable) = classifier.HalfWordEmbeddings;
        if (!halfTable.IsEmpty)
        {
            replaced.Add(tableName);
            entries.Add((tableName, GgmlType.F16, [config.VocabSize, config.HiddenSize], stream => stream.Write(MemoryMarshal.AsBytes(halfTable.Span))));
        }

        foreach (TensorInfo tensor in weights.Tensors)
        {
            if (!replaced.Contains(tensor.Name))
            {
                if (GgufFormat.DescribeInvalidTensor(tensor.Name, tensor.Shape) is { } problem)
                {
                    throw new ModelFileException($"{weights.Origin}: {problem}, so it cannot be stored in a bundle");
                }

                entries.Add((tensor.Name, GgmlType.F32, [.. tensor.Shape], stream => WriteTensor(stream, weights, tensor, TensorDType.F32)));
            }
        }

        foreach (Linear linear in linears)
        {
            PackedInt8Matrix packed = linear.Quantized!;
            entries.Add((linear.Name + ".qweight", GgmlType.I8, [packed.PaddedRows, packed.PaddedColumns], stream => stream.Write(MemoryMarshal.AsBytes(packed.Data.Span))));
            entries.Add((linear.Name + ".qscale", GgmlType.F32, [packed.Rows], stream => stream.Write(MemoryMarshal.AsBytes(packed.Scales.Span))));
            entries.Add((linear.Name + ".qsum", GgmlType.I32, [packed.Rows], stream => stream.Write(MemoryMarshal.AsBytes(packed.ChannelSums.Span))));
        }

        int relRows = 2 * config.PositionBuckets;
        for (int layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            (float[] key, float[] query) = classifier.PositionProjections(layer);
            string prefix = string.Create(CultureInfo.InvariantCulture, $"{BundleKeys.PositionProjectionPrefix}{layer}.");
            entries.Add((prefix + "key", GgmlType.F32, [relRows, config.HiddenSize], stream => stream.Write(MemoryMarshal.AsBytes(key.AsSpan()))));
            entries.Add((prefix + "query", GgmlType.F32, [relRows, config.HiddenSize], stream => stream.Write(MemoryMarshal.AsBytes(query.AsSpan()))));
        }

        foreach (var entry in entries.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            gguf.AddTensor(entry.Name, entry.Type, entry.Shape, entry.Write);
        }

        WriteAtomically(Path.GetFullPath(path), gguf, progress);
    }

    private static GgufWriter Describe(BundleContents contents, string precision)
    {
        string? problem = DescribeInvalidContents(contents, precision);
        if (problem is not null)
        {
            throw new ArgumentException($"Bundle contents: {problem}.", nameof(contents));
        }

        var gguf = new GgufWriter(BundleFormat.Alignment);
        gguf.AddMetadata(BundleKeys.Architecture, GgufValue.FromString(BundleFormat.Architecture));
        if (contents.Name is not null)
        {
            gguf.AddMetadata(BundleKeys.Name, GgufValue.FromString(contents.Name));
        }

        gguf.AddMetadata(BundleKeys.FormatVersion, GgufValue.FromUInt32(precision == BundleFormat.PrecisionInt8 ? BundleFormat.Int8Version : BundleFormat.Float32Version));

        // Placeholders; BundleChecksum.Seal fills them in once the whole file is on disk.
        gguf.AddMetadata(BundleKeys.HeaderChecksum, GgufValue.FromUInt64(0));
        gguf.AddMetadata(BundleKeys.TensorDataChecksum, GgufValue.FromUInt64(0));

        gguf.AddMetadata(BundleKeys.Precision, GgufValue.FromString(contents.Precision));
        gguf.AddMetadata(BundleKeys.Labels, GgufValue.FromArray(GgufArray.FromStrings(contents.Labels)));
        gguf.AddMetadata(BundleKeys.UnsafeLabel, GgufValue.FromUInt32((uint)contents.UnsafeLabel));
        gguf.AddMetadata(BundleKeys.Threshold, GgufValue.FromFloat32(contents.Threshold));
        if (contents.Source is not null)
        {
            gguf.AddMetadata(BundleKeys.Source, GgufValue.FromString(contents.Source));
        }

        gguf.AddMetadata(BundleKeys.ConfigJson, GgufValue.FromString(ConfigJsonText.Canonicalize(contents.ConfigJson)));
        gguf.AddMetadata(BundleKeys.TokenizerModel, GgufValue.FromArray(GgufArray.FromBytes(contents.TokenizerModel.ToArray())));
        return gguf;
    }

    private static string? DescribeInvalidContents(BundleContents contents, string precision)
    {
        if (contents.ConfigJson is null)
        {
            return "ConfigJson is null";
        }

        if (ConfigJsonText.Problem(contents.ConfigJson) is { } configProblem)
        {
            return configProblem;
        }

        if (contents.TokenizerModel is null || contents.TokenizerModel.Length == 0)
        {
            return "TokenizerModel is empty; a bundle carries the SentencePiece model";
        }

        if (contents.Labels is null || contents.Labels.Count == 0)
        {
            return "Labels is empty; a classifier has at least one class";
        }

        if (contents.Labels.Any(string.IsNullOrEmpty))
        {
            return "Labels holds an empty name";
        }

        if (contents.UnsafeLabel < 0 || contents.UnsafeLabel >= contents.Labels.Count)
        {
            return $"UnsafeLabel {contents.UnsafeLabel} is not a class id (0 to {contents.Labels.Count - 1})";
        }

        if (!(contents.Threshold > 0 && contents.Threshold < 1))
        {
            return $"Threshold {contents.Threshold} is not strictly between 0 and 1";
        }

        if (contents.Precision != precision)
        {
            return precision == BundleFormat.PrecisionF32
                ? $"Precision '{contents.Precision}' is not supported by bundle format version {BundleFormat.Float32Version} (only '{BundleFormat.PrecisionF32}'; int8 bundles are written by WriteInt8)"
                : $"Precision '{contents.Precision}' does not match an int8 bundle ('{BundleFormat.PrecisionInt8}')";
        }

        return null;
    }

    private static void AddTensors(GgufWriter gguf, ITensorSource weights, bool keepHalfPrecision)
    {
        TensorInfo[] tensors = weights.Tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToArray();
        if (tensors.Length == 0)
        {
            throw new ModelFileException($"{weights.Origin}: holds no tensors; a bundle needs the model's weights");
        }

        foreach (TensorInfo tensor in tensors)
        {
            if (GgufFormat.DescribeInvalidTensor(tensor.Name, tensor.Shape) is { } problem)
            {
                throw new ModelFileException($"{weights.Origin}: {problem}, so it cannot be stored in a bundle");
            }

            TensorDType stored = keepHalfPrecision ? tensor.DType : TensorDType.F32;
            gguf.AddTensor(tensor.Name, GgmlTypes.From(stored), tensor.Shape, stream => WriteTensor(stream, weights, tensor, stored));
        }
    }

    private static void WriteTensor(Stream stream, ITensorSource weights, TensorInfo tensor, TensorDType stored)
    {
        ReadOnlySpan<float> values = weights.ReadFloat32(tensor.Name).Span;
        if (values.Length != tensor.ElementCount)
        {
            throw new ModelFileException(
                $"{weights.Origin}: tensor '{tensor.Name}' returned {values.Length} values; its shape {tensor.ShapeText} holds {tensor.ElementCount}");
        }

        if (stored == TensorDType.F32)
        {
            stream.Write(MemoryMarshal.AsBytes(values));
            return;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(NarrowChunkElements * 2);
        try
        {
            for (int start = 0; start < values.Length; start += NarrowChunkElements)
            {
                ReadOnlySpan<float> chunk = values.Slice(start, Math.Min(NarrowChunkElements, values.Length - start));
                Span<byte> bytes = buffer.AsSpan(0, chunk.Length * 2);
                bool exact = stored == TensorDType.F16 ? HalfPrecision.TryNarrowToF16(chunk, bytes) : HalfPrecision.TryNarrowToBF16(chunk, bytes);
                if (!exact)
                {
                    throw new ModelFileException(
                        $"{weights.Origin}: tensor '{tensor.Name}' is declared {tensor.DType} but holds values {tensor.DType} cannot represent exactly");
                }

                stream.Write(bytes);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void WriteAtomically(string fullPath, GgufWriter gguf, IProgress<double>? progress)
    {
        if (Directory.Exists(fullPath))
        {
            throw new IOException($"{fullPath} is a directory; give the bundle a file name.");
        }

        string directory = Path.GetDirectoryName(fullPath)!;
        string tempPath = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            // Writing is most of the work; sealing and the verifying re-read share the last fifth.
            var writing = progress is null ? null : new ScaledProgress(progress, 0, 0.8);
            using (var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
            {
                gguf.WriteTo(stream, writing);
            }

            BundleChecksum.Seal(tempPath);
            progress?.Report(0.9);

            // Never rename a file into place that the reader would refuse.
            using (ModelBundle.Open(tempPath, verifyTensorData: true))
            {
            }

            File.Move(tempPath, fullPath, overwrite: true);
            progress?.Report(1);
        }
        catch
        {
            TryDelete(tempPath);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The original failure is the one worth reporting; a leftover temp file is named to be recognisable.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private sealed class ScaledProgress(IProgress<double> inner, double from, double to) : IProgress<double>
    {
        public void Report(double value) => inner.Report(from + ((to - from) * value));
    }
}
