using System.Buffers;
using System.Runtime.InteropServices;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.ModelFiles.Gguf;

namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>Writes EdgeGuard bundles: one GGUF file holding config, tokenizer, labels, threshold and weights.</summary>
public static class BundleWriter
{
    // Half-precision tensors are narrowed through a pooled buffer of this many elements at a time.
    private const int NarrowChunkElements = 1 << 16;

    /// <summary>
    /// Writes every tensor of <paramref name="weights"/> and <paramref name="contents"/> to <paramref name="path"/>
    /// as a float bundle (format version <see cref="BundleFormat.ModelAgnosticVersion"/>).
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
    /// Readers accept such tensors (converting on read); the public writer does not produce them.
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

        GgufWriter gguf = Describe(contents, BundleFormat.PrecisionF32, BundleFormat.ModelAgnosticVersion);
        AddTensors(gguf, weights, keepHalfPrecision);
        WriteAtomically(Path.GetFullPath(path), gguf, progress);
    }

    /// <summary>
    /// Writes an int8 bundle: every linear layer of <paramref name="conversion"/> as <c>P.qweight</c> (I8, per-channel
    /// symmetric, packed as <see cref="PackedInt8Matrix"/>), <c>P.qscale</c> (F32) and <c>P.qsum</c> (I32) instead of
    /// <c>P.weight</c>; its float16 tables as F16 and its Q8_0 tables as Q8_0 instead of F32; its precomputed tensors
    /// (named under the architecture) as F32; every other tensor of <paramref name="weights"/> as F32. The file is format
    /// version <see cref="BundleFormat.Q8TableVersion"/> when it holds a Q8_0 table, else
    /// <see cref="BundleFormat.ModelAgnosticVersion"/>. Atomic and self-verified as
    /// <see cref="Write(string, BundleContents, ITensorSource, IProgress{double}?)"/>.
    /// </summary>
    /// <param name="contents">As for a float bundle, with <see cref="BundleContents.Precision"/> = <see cref="BundleFormat.PrecisionInt8"/>.</param>
    /// <param name="weights">The model's float tensors.</param>
    /// <param name="conversion">What the architecture prepared for the int8 engine (<c>EncoderClassifier.ToInt8Conversion</c>).</param>
    public static void WriteInt8(string path, BundleContents contents, ITensorSource weights, Int8Conversion conversion, IProgress<double>? progress = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(contents);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(conversion);
        uint version = conversion.Q8Tables.Count > 0 ? BundleFormat.Q8TableVersion : BundleFormat.ModelAgnosticVersion;
        GgufWriter gguf = Describe(contents, BundleFormat.PrecisionInt8, version);
        gguf.AddMetadata(BundleKeys.Int8Layout, GgufValue.FromString(PackedInt8Matrix.LayoutKey));
        gguf.AddMetadata(BundleKeys.Int8WeightLimit, GgufValue.FromUInt32((uint)conversion.WeightLimit));

        var replaced = new HashSet<string>(conversion.Linears.Select(l => l.Prefix + ".weight"), StringComparer.Ordinal);
        var entries = new List<(string Name, GgmlType Type, long[] Shape, Action<Stream> Write)>();
        foreach (Int8Conversion.HalfTable table in conversion.HalfTables)
        {
            replaced.Add(table.Name);
            entries.Add((table.Name, GgmlType.F16, [table.Rows, table.Columns], stream => stream.Write(MemoryMarshal.AsBytes(table.Values.Span))));
        }

        foreach (Int8Conversion.Q8Table table in conversion.Q8Tables)
        {
            replaced.Add(table.Name);
            entries.Add((table.Name, GgmlType.Q8_0, [table.Rows, table.Columns], stream => stream.Write(table.Blocks.Span)));
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

        foreach (Int8Conversion.PackedLinear linear in conversion.Linears)
        {
            PackedInt8Matrix packed = linear.Matrix;
            entries.Add((linear.Prefix + ".qweight", GgmlType.I8, [packed.PaddedRows, packed.PaddedColumns], stream => stream.Write(MemoryMarshal.AsBytes(packed.Data.Span))));
            entries.Add((linear.Prefix + ".qscale", GgmlType.F32, [packed.Rows], stream => stream.Write(MemoryMarshal.AsBytes(packed.Scales.Span))));
            entries.Add((linear.Prefix + ".qsum", GgmlType.I32, [packed.Rows], stream => stream.Write(MemoryMarshal.AsBytes(packed.ChannelSums.Span))));
        }

        foreach (Int8Conversion.Precomputed tensor in conversion.PrecomputedTensors)
        {
            entries.Add((tensor.Name, GgmlType.F32, [tensor.Rows, tensor.Columns], stream => stream.Write(MemoryMarshal.AsBytes(tensor.Values.Span))));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            if (!names.Add(entry.Name))
            {
                throw new ArgumentException($"Two tensors of the int8 bundle are named '{entry.Name}'.", nameof(conversion));
            }

            gguf.AddTensor(entry.Name, entry.Type, entry.Shape, entry.Write);
        }

        WriteAtomically(Path.GetFullPath(path), gguf, progress);
    }

    private static GgufWriter Describe(BundleContents contents, string precision, uint version)
    {
        string? problem = DescribeInvalidContents(contents, precision);
        if (problem is not null)
        {
            throw new ArgumentException($"Bundle contents: {problem}.", nameof(contents));
        }

        var gguf = new GgufWriter(BundleFormat.Alignment);
        gguf.AddMetadata(BundleKeys.Architecture, GgufValue.FromString(contents.Architecture));
        if (contents.Name is not null)
        {
            gguf.AddMetadata(BundleKeys.Name, GgufValue.FromString(contents.Name));
        }

        gguf.AddMetadata(BundleKeys.FormatVersion, GgufValue.FromUInt32(version));

        // Placeholders; BundleChecksum.Seal fills them in once the whole file is on disk.
        gguf.AddMetadata(BundleKeys.HeaderChecksum, GgufValue.FromUInt64(0));
        gguf.AddMetadata(BundleKeys.TensorDataChecksum, GgufValue.FromUInt64(0));

        gguf.AddMetadata(BundleKeys.Precision, GgufValue.FromString(contents.Precision));
        if (contents.Classifier is { } classifier)
        {
            gguf.AddMetadata(BundleKeys.Labels, GgufValue.FromArray(GgufArray.FromStrings(classifier.Labels)));
            gguf.AddMetadata(BundleKeys.UnsafeLabel, GgufValue.FromUInt32((uint)classifier.UnsafeLabel));
            gguf.AddMetadata(BundleKeys.Threshold, GgufValue.FromFloat32(classifier.Threshold));
        }

        if (contents.Source is not null)
        {
            gguf.AddMetadata(BundleKeys.Source, GgufValue.FromString(contents.Source));
        }

        foreach ((string key, GgufValue value) in contents.ArchitectureMetadata ?? [])
        {
            gguf.AddMetadata(key, value);
        }

        gguf.AddMetadata(BundleKeys.ConfigJson, GgufValue.FromString(ConfigJsonText.Canonicalize(contents.ConfigJson)));
        if (contents.GenerationConfigJson is not null)
        {
            gguf.AddMetadata(BundleKeys.GenerationConfigJson, GgufValue.FromString(ConfigJsonText.Canonicalize(contents.GenerationConfigJson)));
        }

        gguf.AddMetadata(BundleKeys.TokenizerKind, GgufValue.FromString(contents.Tokenizer.Kind));
        string[] fileNames = [.. contents.Tokenizer.Files.Keys.Order(StringComparer.Ordinal)];
        gguf.AddMetadata(BundleKeys.TokenizerFiles, GgufValue.FromArray(GgufArray.FromStrings(fileNames)));
        foreach (string name in fileNames)
        {
            gguf.AddMetadata(BundleKeys.TokenizerFilePrefix + name, GgufValue.FromArray(GgufArray.FromBytes(contents.Tokenizer.Files[name])));
        }

        return gguf;
    }

    private static string? DescribeInvalidContents(BundleContents contents, string precision)
    {
        if (string.IsNullOrEmpty(contents.Architecture) || contents.Architecture.Length > BundleFormat.MaxNameLength)
        {
            return $"Architecture must be a model_type of 1 to {BundleFormat.MaxNameLength} characters";
        }

        if (contents.ConfigJson is null)
        {
            return "ConfigJson is null";
        }

        if (ConfigJsonText.Problem(contents.ConfigJson) is { } configProblem)
        {
            return configProblem;
        }

        if (contents.GenerationConfigJson is not null && ConfigJsonText.Problem(contents.GenerationConfigJson) is { } generationProblem)
        {
            return $"GenerationConfigJson: {generationProblem}";
        }

        if (contents.Tokenizer is null || string.IsNullOrEmpty(contents.Tokenizer.Kind) || contents.Tokenizer.Kind.Length > BundleFormat.MaxNameLength)
        {
            return $"Tokenizer needs a kind of 1 to {BundleFormat.MaxNameLength} characters";
        }

        if (contents.Tokenizer.Files is null || contents.Tokenizer.Files.Count == 0 || contents.Tokenizer.Files.Count > BundleFormat.MaxTokenizerFiles)
        {
            return $"Tokenizer must carry 1 to {BundleFormat.MaxTokenizerFiles} files";
        }

        foreach ((string name, byte[] bytes) in contents.Tokenizer.Files)
        {
            if (!BundleNames.IsTokenizerFileName(name))
            {
                return $"tokenizer file name {ErrorText.Quote(name)} is not a plain file name of 1 to {BundleFormat.MaxNameLength} characters";
            }

            if (bytes is null || bytes.Length == 0)
            {
                return $"tokenizer file {name} is empty";
            }
        }

        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string key, GgufValue value) in contents.ArchitectureMetadata ?? [])
        {
            if (!key.StartsWith(contents.Architecture + ".", StringComparison.Ordinal) || key.Length == contents.Architecture.Length + 1 || value is null)
            {
                return $"architecture metadata key {ErrorText.Quote(key)} is not a key under '{contents.Architecture}.' with a value";
            }

            if (!keys.Add(key))
            {
                return $"architecture metadata key {ErrorText.Quote(key)} is given twice";
            }
        }

        if (contents.Classifier is { } classifier)
        {
            if (classifier.Labels is null || classifier.Labels.Count == 0)
            {
                return "Labels is empty; a classifier has at least one class";
            }

            if (classifier.Labels.Any(string.IsNullOrEmpty))
            {
                return "Labels holds an empty name";
            }

            if (classifier.UnsafeLabel < 0 || classifier.UnsafeLabel >= classifier.Labels.Count)
            {
                return $"UnsafeLabel {classifier.UnsafeLabel} is not a class id (0 to {classifier.Labels.Count - 1})";
            }

            if (!(classifier.Threshold > 0 && classifier.Threshold < 1))
            {
                return $"Threshold {classifier.Threshold} is not strictly between 0 and 1";
            }
        }

        if (contents.Precision != precision)
        {
            return precision == BundleFormat.PrecisionF32
                ? $"Precision '{contents.Precision}' does not match a float bundle ('{BundleFormat.PrecisionF32}'; int8 bundles are written by WriteInt8)"
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
