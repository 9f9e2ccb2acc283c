using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.ModelFiles.Gguf;

namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>
/// An opened EdgeGuard bundle: a memory-mapped GGUF file whose integrity and bundle-level invariants were checked
/// on open. Weights stored as F32 are handed out zero-copy from the map; metadata is parsed once.
/// Immutable after opening and safe to read from several threads; dispose it to unmap the file, after which
/// memory it handed out must no longer be used.
/// </summary>
public sealed class ModelBundle : ITensorSource, IInt8WeightSource
{
    private readonly GgufReader _file;
    private readonly Dictionary<string, (TensorInfo Info, GgufTensorInfo Stored)> _tensors;

    // I8 and I32 tensors of an int8 bundle: not float weights, so not in Tensors; read through IInt8WeightSource.
    private readonly Dictionary<string, GgufTensorInfo> _integerTensors = new(StringComparer.Ordinal);

    private ModelBundle(GgufReader file, bool verifyTensorData)
    {
        _file = file;

        // Order matters for the messages: a plain GGUF file is "not a bundle", a damaged bundle is "corrupt"
        // (the checksum envelope is the same in every format version), and only an intact newer file is "newer".
        uint version = RequireValue(BundleKeys.FormatVersion, GgufValueType.UInt32, missing: "is not an EdgeGuard bundle (it has no edgeguard.bundle.version key; a plain GGUF file?)").AsUInt32();
        VerifyHeaderChecksum();
        if (version == 0)
        {
            Fail("bundle format version 0 is not valid");
        }

        if (version > BundleFormat.CurrentVersion)
        {
            Fail($"bundle format version {version} is newer than this runtime supports ({BundleFormat.CurrentVersion}); upgrade EdgeGuard");
        }

        FormatVersion = (int)version;
        bool legacy = FormatVersion < BundleFormat.ModelAgnosticVersion;
        Architecture = RequireValue(BundleKeys.Architecture, GgufValueType.String).AsString();
        if (legacy ? Architecture != BundleFormat.LegacyArchitecture : Architecture.Length is 0 or > BundleFormat.MaxNameLength)
        {
            Fail(legacy
                ? $"architecture {ErrorText.Quote(Architecture)} is not valid in bundle format version {FormatVersion} (only '{BundleFormat.LegacyArchitecture}')"
                : $"architecture {ErrorText.Quote(Architecture)} is not a model_type of 1 to {BundleFormat.MaxNameLength} characters");
        }

        Precision = RequireValue(BundleKeys.Precision, GgufValueType.String).AsString();
        string? expectedPrecision = !legacy ? null : FormatVersion >= BundleFormat.Int8Version ? BundleFormat.PrecisionInt8 : BundleFormat.PrecisionF32;
        if (expectedPrecision is not null ? Precision != expectedPrecision : Precision is not BundleFormat.PrecisionF32 and not BundleFormat.PrecisionInt8)
        {
            Fail($"precision {ErrorText.Quote(Precision)} is not supported by bundle format version {FormatVersion} (expected {(expectedPrecision is null ? $"'{BundleFormat.PrecisionF32}' or '{BundleFormat.PrecisionInt8}'" : $"'{expectedPrecision}'")})");
        }

        if (Precision == BundleFormat.PrecisionInt8)
        {
            string layout = RequireValue(BundleKeys.Int8Layout, GgufValueType.String).AsString();
            if (layout != PackedInt8Matrix.LayoutKey)
            {
                Fail($"int8 weights are packed in layout {ErrorText.Quote(layout)}, which this runtime's kernels do not read (they read '{PackedInt8Matrix.LayoutKey}'); convert the model again with this EdgeGuard");
            }

            if (_file.FindMetadata(BundleKeys.Int8WeightLimit) is not null)
            {
                uint limit = RequireValue(BundleKeys.Int8WeightLimit, GgufValueType.UInt32).AsUInt32();
                if (!PackedInt8Matrix.IsWeightLimit(limit))
                {
                    Fail($"{BundleKeys.Int8WeightLimit} is {limit}; int8 weights are quantised to ±{PackedInt8Matrix.FullWeightLimit} (8 bits) or ±{PackedInt8Matrix.SevenBitWeightLimit} (7 bits)");
                }

                Int8WeightLimit = (int)limit;
            }
        }

        ConfigJson = RequireValue(BundleKeys.ConfigJson, GgufValueType.String).AsString();
        if (ConfigJsonText.Problem(ConfigJson) is { } configProblem)
        {
            Fail($"{BundleKeys.ConfigJson}: {configProblem}");
        }

        if (legacy || _file.FindMetadata(BundleKeys.Labels) is not null || _file.FindMetadata(BundleKeys.UnsafeLabel) is not null || _file.FindMetadata(BundleKeys.Threshold) is not null)
        {
            Labels = ReadLabels();
            uint unsafeLabel = RequireValue(BundleKeys.UnsafeLabel, GgufValueType.UInt32).AsUInt32();
            if (unsafeLabel >= Labels.Count)
            {
                Fail($"{BundleKeys.UnsafeLabel} is {unsafeLabel}, but there are only {Labels.Count} labels");
            }

            UnsafeLabel = (int)unsafeLabel;
            Threshold = RequireValue(BundleKeys.Threshold, GgufValueType.Float32).AsFloat32();
            if (!(Threshold > 0 && Threshold < 1))
            {
                Fail($"{BundleKeys.Threshold} is {Threshold}; it must be strictly between 0 and 1");
            }
        }

        if (legacy)
        {
            TokenizerKind = BundleFormat.LegacyTokenizerKind;
            TokenizerFiles = new Dictionary<string, ReadOnlyMemory<byte>>(StringComparer.Ordinal) { [BundleFormat.LegacyTokenizerFile] = ReadBytes(BundleKeys.TokenizerModel) };
        }
        else
        {
            (TokenizerKind, TokenizerFiles) = ReadTokenizer();
        }

        GenerationConfigJson = OptionalString(BundleKeys.GenerationConfigJson);
        if (GenerationConfigJson is not null && ConfigJsonText.Problem(GenerationConfigJson) is { } generationProblem)
        {
            Fail($"{BundleKeys.GenerationConfigJson}: {generationProblem}");
        }

        Name = OptionalString(BundleKeys.Name);
        Source = OptionalString(BundleKeys.Source);
        _tensors = ReadTensors();
        Tensors = _file.Tensors.Where(t => _tensors.ContainsKey(t.Name)).Select(t => _tensors[t.Name].Info).ToArray();

        var metadata = new Dictionary<string, object>(_file.Metadata.Count, StringComparer.Ordinal);
        foreach (GgufMetadataEntry entry in _file.Metadata)
        {
            metadata.Add(entry.Key, entry.Value.ToObject());
        }

        Metadata = metadata;
        if (verifyTensorData)
        {
            VerifyTensorDataChecksum();
        }
    }

    /// <summary>The bundle's path, as given to <see cref="Open"/>.</summary>
    public string Origin => _file.Path;

    /// <summary>The bundle format version of the file (<c>edgeguard.bundle.version</c>).</summary>
    public int FormatVersion { get; }

    /// <summary>The model's Hugging Face <c>config.json</c>, compact.</summary>
    public string ConfigJson { get; }

    /// <summary>The model's Hugging Face <c>generation_config.json</c>, compact, or null when the bundle has none.</summary>
    public string? GenerationConfigJson { get; }

    /// <summary>The model's Hugging Face <c>model_type</c> (<c>general.architecture</c>).</summary>
    public string Architecture { get; }

    /// <summary>The tokenizer kind (<c>spm-unigram</c> in versions 1 and 2).</summary>
    public string TokenizerKind { get; }

    /// <summary>The tokenizer's files, name → bytes straight from the map. Valid until the bundle is disposed.</summary>
    public IReadOnlyDictionary<string, ReadOnlyMemory<byte>> TokenizerFiles { get; }

    /// <summary>Whether the bundle holds classifier metadata (<see cref="Labels"/>, <see cref="UnsafeLabel"/>, <see cref="Threshold"/>); always in versions 1 and 2.</summary>
    [MemberNotNullWhen(true, nameof(Labels))]
    public bool IsClassifier => Labels is not null;

    /// <summary>Class names, index = class id; null when the model is not a classifier.</summary>
    public IReadOnlyList<string>? Labels { get; }

    /// <summary>The class id that means unsafe.</summary>
    public int UnsafeLabel { get; }

    /// <summary>Decision threshold on P(unsafe), strictly between 0 and 1.</summary>
    public float Threshold { get; }

    /// <summary>Weight precision (<c>f32</c> in version 1, <c>int8</c> in version 2, either in version 3).</summary>
    public string Precision { get; }

    /// <summary>The largest |w| of the int8 weights (<see cref="BundleKeys.Int8WeightLimit"/>): 127 or 63.</summary>
    public int Int8WeightLimit { get; } = PackedInt8Matrix.FullWeightLimit;

    /// <summary>Human-readable model name, if the bundle has one.</summary>
    public string? Name { get; }

    /// <summary>Provenance, if the bundle records it.</summary>
    public string? Source { get; }

    /// <summary>Size of the bundle file in bytes.</summary>
    public long FileSize => _file.FileSize;

    /// <summary>
    /// Every metadata pair, in file order, for <c>edgeguard inspect</c>: numbers as their CLR type, strings as
    /// <see cref="string"/>, arrays as <see cref="GgufArray"/> (whose <c>ToString</c> is a one-line summary).
    /// </summary>
    public IReadOnlyDictionary<string, object> Metadata { get; }

    /// <inheritdoc />
    public IReadOnlyCollection<TensorInfo> Tensors { get; }

    /// <summary>The I8 and I32 tensors of an int8 bundle (packed weights and channel sums), which are not float weights and so not in <see cref="Tensors"/>.</summary>
    public IReadOnlyList<BundleIntegerTensor> IntegerTensors =>
        [.. _integerTensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal).Select(t => new BundleIntegerTensor(t.Name, GgmlTypes.Name(t.Type), t.Shape, t.ByteLength))];

    /// <summary>
    /// Maps <paramref name="path"/> and validates it: GGUF structure, header checksum, format version, required keys
    /// and their types, labels, threshold, tokenizer, config JSON, tensor types, and — unless
    /// <paramref name="verifyTensorData"/> is false — the tensor data checksum.
    /// </summary>
    /// <param name="path">The bundle file.</param>
    /// <param name="verifyTensorData">
    /// Hash all weights at open (reads the whole file once). Pass false on boards where start-up time matters more
    /// than catching a corrupted weight: pages are then read lazily on first use, and a damaged weight goes
    /// undetected. The header checksum, which also covers the file length, is verified either way.
    /// </param>
    /// <exception cref="ModelFileException">Anything about the file is wrong; the message names the file and the problem.</exception>
    public static ModelBundle Open(string path, bool verifyTensorData = true)
    {
        GgufReader file = GgufReader.Open(path);
        try
        {
            return new ModelBundle(file, verifyTensorData);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public TensorInfo? Find(string name) => _tensors.TryGetValue(name, out var tensor) ? tensor.Info : null;

    /// <inheritdoc />
    public ReadOnlyMemory<float> ReadFloat32(string name)
    {
        if (!_tensors.TryGetValue(name, out var tensor))
        {
            throw new ModelFileException($"{Origin}: has no tensor named '{name}'");
        }

        GgufTensorInfo stored = tensor.Stored;
        if (stored.Type == GgmlType.F32)
        {
            return _file.GetTensorMemory<float>(stored);
        }

        float[] values = new float[stored.ElementCount];
        if (stored.Type == GgmlType.F16)
        {
            HalfPrecision.WidenF16(_file.GetTensorBytes(stored), values);
        }
        else if (stored.Type == GgmlType.Q8_0)
        {
            Q8Blocks.Dequantize(_file.GetTensorBytes(stored), values);
        }
        else
        {
            HalfPrecision.WidenBF16(_file.GetTensorBytes(stored), values);
        }

        return values;
    }

    /// <inheritdoc />
    public PackedInt8Matrix? FindInt8Linear(string prefix, int rows, int columns)
    {
        if (!_integerTensors.TryGetValue(prefix + ".qweight", out GgufTensorInfo? weight))
        {
            return null;
        }

        int padded = PackedInt8Matrix.PadColumns(columns);
        GgufTensorInfo scale = RequireStored(prefix + ".qscale", GgmlType.F32, [rows]);
        GgufTensorInfo sum = RequireStored(prefix + ".qsum", GgmlType.I32, [rows]);
        CheckStored(weight, GgmlType.I8, [PackedInt8Matrix.PadRows(rows), padded]);
        return new PackedInt8Matrix(
            rows, columns, _file.GetTensorMemory<sbyte>(weight), _file.GetTensorMemory<float>(scale), _file.GetTensorMemory<int>(sum), Int8WeightLimit);
    }

    /// <inheritdoc />
    public ReadOnlyMemory<float>? FindPrecomputed(string name, int rows, int columns)
    {
        if (!_tensors.ContainsKey(name))
        {
            return null;
        }

        return _file.GetTensorMemory<float>(RequireStored(name, GgmlType.F32, [rows, columns]));
    }

    /// <inheritdoc />
    public ReadOnlyMemory<Half>? FindHalfTable(string name, int rows, int columns)
    {
        GgufTensorInfo? stored = _file.FindTensor(name);
        if (stored is null || stored.Type != GgmlType.F16)
        {
            return null;
        }

        CheckStored(stored, GgmlType.F16, [rows, columns]);
        return _file.GetTensorMemory<Half>(stored);
    }

    /// <inheritdoc />
    public ReadOnlyMemory<byte>? FindQ8Table(string name, int rows, int columns)
    {
        GgufTensorInfo? stored = _file.FindTensor(name);
        if (stored is null || stored.Type != GgmlType.Q8_0)
        {
            return null;
        }

        CheckStored(stored, GgmlType.Q8_0, [rows, columns]);
        return _file.GetTensorMemory<byte>(stored);
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();

    private GgufTensorInfo RequireStored(string name, GgmlType type, long[] shape)
    {
        GgufTensorInfo? stored = _file.FindTensor(name);
        if (stored is null)
        {
            Fail($"tensor '{name}' is missing (expected {GgmlTypes.Name(type)} [{string.Join(", ", shape)}])");
        }

        CheckStored(stored, type, shape);
        return stored;
    }

    private void CheckStored(GgufTensorInfo stored, GgmlType type, long[] shape)
    {
        if (stored.Type != type || !stored.Shape.SequenceEqual(shape))
        {
            Fail($"tensor '{stored.Name}' is {GgmlTypes.Name(stored.Type)} [{string.Join(", ", stored.Shape)}], expected {GgmlTypes.Name(type)} [{string.Join(", ", shape)}]");
        }
    }

    private void VerifyHeaderChecksum()
    {
        GgufMetadataEntry stored = RequireEntry(BundleKeys.HeaderChecksum, GgufValueType.UInt64);
        RequireEntry(BundleKeys.TensorDataChecksum, GgufValueType.UInt64);
        ulong computed = BundleChecksum.ComputeHeader(_file, stored.ValueOffset);
        if (computed != stored.Value.AsUInt64())
        {
            Fail($"header checksum mismatch (stored {stored.Value.AsUInt64():x16}, computed {computed:x16}): the metadata or tensor table is corrupt, or the file was truncated or extended; copy the bundle again");
        }
    }

    private void VerifyTensorDataChecksum()
    {
        ulong stored = RequireValue(BundleKeys.TensorDataChecksum, GgufValueType.UInt64).AsUInt64();
        ulong computed = BundleChecksum.ComputeTensorData(_file);
        if (computed != stored)
        {
            Fail($"tensor data checksum mismatch (stored {stored:x16}, computed {computed:x16}): the weights are corrupt; copy the bundle again");
        }
    }

    private string[] ReadLabels()
    {
        GgufArray array = RequireValue(BundleKeys.Labels, GgufValueType.Array).AsArray();
        if (array.ElementType != GgufValueType.String)
        {
            Fail($"{BundleKeys.Labels} is an array of {GgufValueTypes.Name(array.ElementType)}; it must be an array of strings");
        }

        if (array.Count == 0)
        {
            Fail($"{BundleKeys.Labels} is empty; a classifier has at least one class");
        }

        string[] labels = [.. array.Strings];
        if (labels.Any(string.IsNullOrEmpty))
        {
            Fail($"{BundleKeys.Labels} holds an empty label");
        }

        return labels;
    }

    private ReadOnlyMemory<byte> ReadBytes(string key)
    {
        GgufArray array = RequireValue(key, GgufValueType.Array).AsArray();
        if (array.ElementType != GgufValueType.UInt8)
        {
            Fail($"{key} is an array of {GgufValueTypes.Name(array.ElementType)}; it must be an array of u8");
        }

        if (array.Count == 0)
        {
            Fail($"{key} is empty; the bundle carries no tokenizer");
        }

        return array.RawBytes;
    }

    private (string Kind, IReadOnlyDictionary<string, ReadOnlyMemory<byte>> Files) ReadTokenizer()
    {
        string kind = RequireValue(BundleKeys.TokenizerKind, GgufValueType.String).AsString();
        if (kind.Length is 0 or > BundleFormat.MaxNameLength)
        {
            Fail($"{BundleKeys.TokenizerKind} {ErrorText.Quote(kind)} is not a tokenizer kind of 1 to {BundleFormat.MaxNameLength} characters");
        }

        GgufArray names = RequireValue(BundleKeys.TokenizerFiles, GgufValueType.Array).AsArray();
        if (names.ElementType != GgufValueType.String || names.Count is 0 or > BundleFormat.MaxTokenizerFiles)
        {
            Fail($"{BundleKeys.TokenizerFiles} must be an array of 1 to {BundleFormat.MaxTokenizerFiles} file names");
        }

        var files = new Dictionary<string, ReadOnlyMemory<byte>>(StringComparer.Ordinal);
        foreach (string name in names.Strings)
        {
            if (!BundleNames.IsTokenizerFileName(name) || files.ContainsKey(name))
            {
                Fail($"{BundleKeys.TokenizerFiles} holds {ErrorText.Quote(name)}, which is not a plain file name of 1 to {BundleFormat.MaxNameLength} characters or is listed twice");
            }

            files.Add(name, ReadBytes(BundleKeys.TokenizerFilePrefix + name));
        }

        return (kind, files);
    }

    private Dictionary<string, (TensorInfo, GgufTensorInfo)> ReadTensors()
    {
        if (_file.Tensors.Count == 0)
        {
            Fail("holds no tensors");
        }

        var tensors = new Dictionary<string, (TensorInfo, GgufTensorInfo)>(_file.Tensors.Count, StringComparer.Ordinal);
        foreach (GgufTensorInfo stored in _file.Tensors)
        {
            if (Precision == BundleFormat.PrecisionInt8 && stored.Type is GgmlType.I8 or GgmlType.I32)
            {
                _integerTensors.Add(stored.Name, stored);
                continue;
            }

            bool q8Table = stored.Type == GgmlType.Q8_0 && Precision == BundleFormat.PrecisionInt8 && FormatVersion >= BundleFormat.Q8TableVersion;
            if (!GgmlTypes.TryGetTensorDType(stored.Type, out TensorDType dtype) || (stored.Type == GgmlType.Q8_0 && !q8Table))
            {
                Fail($"tensor '{stored.Name}' is stored as {GgmlTypes.Name(stored.Type)}, which {Precision} bundles of format version {FormatVersion} do not use (F32, F16, BF16{(FormatVersion >= BundleFormat.Q8TableVersion ? "; Q8_0 in int8 bundles" : string.Empty)}); the file needs a newer EdgeGuard or is corrupt");
            }

            tensors.Add(stored.Name, (new TensorInfo(stored.Name, dtype, stored.Shape), stored));
        }

        return tensors;
    }

    private string? OptionalString(string key)
    {
        GgufMetadataEntry? entry = _file.FindMetadata(key);
        if (entry is null)
        {
            return null;
        }

        if (entry.Value.Type != GgufValueType.String)
        {
            Fail($"{key} is {GgufValueTypes.Name(entry.Value.Type)}; it must be a string");
        }

        return entry.Value.AsString();
    }

    private GgufValue RequireValue(string key, GgufValueType type, string? missing = null) => RequireEntry(key, type, missing).Value;

    private GgufMetadataEntry RequireEntry(string key, GgufValueType type, string? missing = null)
    {
        GgufMetadataEntry? entry = _file.FindMetadata(key);
        if (entry is null)
        {
            Fail(missing ?? $"required key {key} is missing");
        }

        if (entry.Value.Type != type)
        {
            Fail($"{key} is {GgufValueTypes.Name(entry.Value.Type)}; it must be {GgufValueTypes.Name(type)}");
        }

        return entry;
    }

    [DoesNotReturn]
    private void Fail(string problem) => throw new ModelFileException($"{_file.Path}: {problem}");
}
