using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Unicode;
using EdgeGuard.Kernels.Memory;

namespace EdgeGuard.ModelFiles.Gguf;

/// <summary>
/// A memory-mapped GGUF v3 file, validated when opened: every length and count is checked against the file
/// before anything is allocated for it, and every tensor lies aligned, whole and alone inside the data section.
/// Metadata arrays of numbers and tensor data are handed out as slices of the map, not copies.
/// </summary>
/// <remarks>
/// Validation on open: magic, version 3, every key (non-empty ASCII, unique), every value type, every string
/// (inside the file, valid UTF-8), every array (count bounded by the bytes left, nesting bounded), booleans 0 or 1,
/// <c>general.alignment</c> (u32, power of two, multiple of 8), and every tensor (name unique and at most
/// <see cref="GgufFormat.MaxTensorNameBytes"/> bytes, at most <see cref="GgufFormat.MaxDimensions"/> dimensions,
/// none zero or negative, a ggml type this runtime reads, rows of a block type whole blocks, offset aligned, data inside the data section,
/// no two tensors overlapping). Any violation is a <see cref="ModelFileException"/> naming the file and the problem.
/// The instance is immutable after opening and safe to read from several threads.
/// </remarks>
public sealed class GgufReader : IDisposable
{
    // Smallest encodings, used to bound counts before allocating: a KV is a key length (8), a 1-byte key,
    // a type tag (4) and a 1-byte value; a tensor info is a name length (8), a 1-byte name, n_dims (4),
    // type (4) and offset (8); a string element is its length (8); an array element is type (4) + count (8).
    private const int MinMetadataEntryBytes = 8 + 1 + 4 + 1;
    private const int MinTensorInfoBytes = 8 + 1 + 4 + 4 + 8;
    private const int MinStringBytes = 8;
    private const int MinArrayBytes = 4 + 8;

    private readonly MemoryMappedRegion _region;
    private readonly Dictionary<string, GgufMetadataEntry> _metadataByKey;
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;

    private GgufReader(
        string path,
        MemoryMappedRegion region,
        List<GgufMetadataEntry> metadata,
        List<GgufTensorInfo> tensors,
        uint alignment,
        long dataStart)
    {
        Path = path;
        _region = region;
        Metadata = metadata;
        Tensors = tensors;
        Alignment = alignment;
        DataStart = dataStart;
        _metadataByKey = new Dictionary<string, GgufMetadataEntry>(metadata.Count, StringComparer.Ordinal);
        foreach (GgufMetadataEntry entry in metadata)
        {
            _metadataByKey.Add(entry.Key, entry);
        }

        _tensorsByName = new Dictionary<string, GgufTensorInfo>(tensors.Count, StringComparer.Ordinal);
        foreach (GgufTensorInfo tensor in tensors)
        {
            _tensorsByName.Add(tensor.Name, tensor);
        }
    }

    /// <summary>The file this reader maps, as given to <see cref="Open"/>.</summary>
    public string Path { get; }

    /// <summary>Length of the file in bytes.</summary>
    public long FileSize => _region.Length;

    /// <summary>Alignment of tensor data: <c>general.alignment</c>, or <see cref="GgufFormat.DefaultAlignment"/>.</summary>
    public uint Alignment { get; }

    /// <summary>
    /// File offset where the tensor data section starts: the end of the tensor infos rounded up to
    /// <see cref="Alignment"/>. Everything before it is the header region (header, metadata, tensor infos, padding).
    /// </summary>
    public long DataStart { get; }

    /// <summary>Every metadata pair, in file order.</summary>
    public IReadOnlyList<GgufMetadataEntry> Metadata { get; }

    /// <summary>Every tensor, in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>
    /// Maps and validates the GGUF file at <paramref name="path"/>.
    /// </summary>
    /// <exception cref="ModelFileException">The file is missing, unreadable, not GGUF v3, or violates the format.</exception>
    public static GgufReader Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!BitConverter.IsLittleEndian)
        {
            throw new ModelFileException($"{path}: GGUF files are little-endian and this runtime does not support big-endian hosts");
        }

        if (Directory.Exists(path))
        {
            throw new ModelFileException($"{path}: is a directory, not a GGUF file");
        }

        MemoryMappedRegion region;
        try
        {
            region = MemoryMappedRegion.Open(path);
        }
        catch (FileNotFoundException)
        {
            throw new ModelFileException($"{path}: file not found");
        }
        catch (DirectoryNotFoundException)
        {
            throw new ModelFileException($"{path}: file not found (its directory does not exist)");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ModelFileException($"{path}: cannot read the file: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new ModelFileException($"{path}: cannot read the file: {e.Message}", e);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            // A path the platform cannot open at all (an embedded NUL, a device that cannot be mapped).
            throw new ModelFileException($"{path}: cannot open the file: {e.Message}", e);
        }

        try
        {
            return Parse(path, region);
        }
        catch
        {
            region.Dispose();
            throw;
        }
    }

    /// <summary>The metadata pair with key <paramref name="key"/>, or null.</summary>
    public GgufMetadataEntry? FindMetadata(string key) => _metadataByKey.GetValueOrDefault(key);

    /// <summary>The tensor named <paramref name="name"/>, or null.</summary>
    public GgufTensorInfo? FindTensor(string name) => _tensorsByName.GetValueOrDefault(name);

    /// <summary>The bytes of a tensor, straight from the map. Valid until this reader is disposed.</summary>
    public ReadOnlySpan<byte> GetTensorBytes(GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return _region.GetSpan(tensor.Offset, checked((int)tensor.ByteLength));
    }

    /// <summary>
    /// The elements of a tensor as <typeparamref name="T"/>, zero-copy from the map. The caller picks the
    /// <typeparamref name="T"/> that matches <see cref="GgufTensorInfo.Type"/>. Valid until this reader is disposed.
    /// </summary>
    /// <exception cref="ArgumentException">The tensor's byte length is not a whole number of <typeparamref name="T"/>.</exception>
    public ReadOnlyMemory<T> GetTensorMemory<T>(GgufTensorInfo tensor)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (tensor.ByteLength % size != 0)
        {
            throw new ArgumentException($"Tensor '{tensor.Name}' has {tensor.ByteLength} bytes, not a whole number of {size}-byte elements.", nameof(tensor));
        }

        return _region.GetMemory<T>(tensor.Offset, checked((int)(tensor.ByteLength / size)));
    }

    /// <summary>
    /// The file's bytes in <c>[offset, offset + length)</c>, straight from the map; for integrity checks that
    /// hash regions of the file. Valid until this reader is disposed.
    /// </summary>
    public ReadOnlySpan<byte> GetFileBytes(long offset, int length) => _region.GetSpan(offset, length);

    /// <summary>Lets the process's resident memory drop bytes a one-pass read is done with (they stay readable).</summary>
    public void EvictFileBytes(long offset, long length) => _region.Evict(offset, length);

    /// <inheritdoc />
    public void Dispose() => _region.Dispose();

    private static GgufReader Parse(string path, MemoryMappedRegion region)
    {
        long fileLength = region.Length;
        if (fileLength < GgufFormat.HeaderBytes)
        {
            Fail(path, $"file is {fileLength} bytes, too short for a GGUF header ({GgufFormat.HeaderBytes} bytes)");
        }

        // Metadata and tensor infos are parsed from one span; a header region beyond 2 GiB is refused
        // by the span's bounds checks rather than supported, as no model needs one.
        ReadOnlySpan<byte> headerRegion = region.GetSpan(0, (int)Math.Min(fileLength, int.MaxValue));
        var reader = new GgufSpanReader(headerRegion, path, fileLength);

        ReadOnlySpan<byte> magic = reader.Take(4, "magic");
        if (!magic.SequenceEqual(GgufFormat.Magic))
        {
            Fail(path, $"not a GGUF file (starts with {Convert.ToHexString(magic)}, expected 47475546 'GGUF')");
        }

        CheckVersion(path, reader.ReadUInt32("version"));
        ulong tensorCount = reader.ReadUInt64("tensor count");
        ulong metadataCount = reader.ReadUInt64("metadata count");
        if (metadataCount > (ulong)(reader.Remaining / MinMetadataEntryBytes))
        {
            Fail(path, $"metadata count {metadataCount} cannot fit in the {fileLength}-byte file");
        }

        if (tensorCount > (ulong)(reader.Remaining / MinTensorInfoBytes))
        {
            Fail(path, $"tensor count {tensorCount} cannot fit in the {fileLength}-byte file");
        }

        var parser = new ValueParser(path, region);
        var metadata = new List<GgufMetadataEntry>((int)metadataCount);
        var keys = new HashSet<string>((int)metadataCount, StringComparer.Ordinal);
        for (ulong i = 0; i < metadataCount; i++)
        {
            string key = ReadKey(path, ref reader, i);
            if (!keys.Add(key))
            {
                Fail(path, $"metadata key '{key}' appears more than once");
            }

            string context = $"metadata '{key}'";
            var type = (GgufValueType)reader.ReadUInt32(context);
            long valueOffset = reader.Position;
            GgufValue value = parser.ReadValue(ref reader, type, context, depth: 0);
            metadata.Add(new GgufMetadataEntry(key, value, valueOffset));
        }

        uint alignment = ReadAlignment(path, metadata);
        List<(string Name, GgmlType Type, long[] Shape, long Elements, ulong Offset)> infos = ReadTensorInfos(path, ref reader, (int)tensorCount);

        long dataStart = GgufFormat.AlignUp(reader.Position, alignment);
        if (dataStart > fileLength)
        {
            if (infos.Count > 0)
            {
                Fail(path, $"tensor data section would start at offset {dataStart}, past the end of the {fileLength}-byte file; the file is truncated");
            }

            // A file without tensors may end right after its tensor infos, without padding.
            dataStart = fileLength;
        }

        if (dataStart > int.MaxValue)
        {
            Fail(path, "the metadata and tensor infos extend past 2 GiB, which this runtime does not support");
        }

        List<GgufTensorInfo> tensors = PlaceTensors(path, infos, alignment, dataStart, fileLength);
        return new GgufReader(path, region, metadata, tensors, alignment, dataStart);
    }

    private static void CheckVersion(string path, uint version)
    {
        if (version == GgufFormat.Version)
        {
            return;
        }

        // A big-endian file stores its version byte-swapped; say so instead of quoting a nonsense number.
        if (BinaryPrimitives.ReverseEndianness(version) is >= 1 and <= GgufFormat.Version)
        {
            Fail(path, "big-endian GGUF file; only little-endian files are supported");
        }

        if (version < GgufFormat.Version)
        {
            Fail(path, $"GGUF version {version} is not supported; only version {GgufFormat.Version} is (re-convert the model with a current tool)");
        }

        Fail(path, $"GGUF version {version} is newer than this runtime supports ({GgufFormat.Version}); upgrade EdgeGuard");
    }

    private static string ReadKey(string path, ref GgufSpanReader reader, ulong index)
    {
        string what = $"metadata key #{index}";
        ReadOnlySpan<byte> bytes = reader.ReadStringBytes(what);
        if (bytes.Length == 0 || bytes.Length > GgufFormat.MaxKeyBytes)
        {
            Fail(path, $"{what} is {bytes.Length} bytes long; keys must be 1 to {GgufFormat.MaxKeyBytes} bytes");
        }

        if (!Ascii.IsValid(bytes))
        {
            Fail(path, $"{what} is not ASCII");
        }

        return Encoding.ASCII.GetString(bytes);
    }

    private static uint ReadAlignment(string path, List<GgufMetadataEntry> metadata)
    {
        GgufMetadataEntry? entry = metadata.Find(e => e.Key == GgufFormat.AlignmentKey);
        if (entry is null)
        {
            return GgufFormat.DefaultAlignment;
        }

        if (entry.Value.Type != GgufValueType.UInt32)
        {
            Fail(path, $"{GgufFormat.AlignmentKey} is {GgufValueTypes.Name(entry.Value.Type)}; it must be u32");
        }

        uint alignment = entry.Value.AsUInt32();
        if (!GgufFormat.IsValidAlignment(alignment))
        {
            Fail(path, $"{GgufFormat.AlignmentKey} is {alignment}; it must be a power of two and a multiple of 8");
        }

        return alignment;
    }

    private static List<(string Name, GgmlType Type, long[] Shape, long Elements, ulong Offset)> ReadTensorInfos(
        string path, ref GgufSpanReader reader, int count)
    {
        var infos = new List<(string, GgmlType, long[], long, ulong)>(count);
        var names = new HashSet<string>(count, StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string what = $"tensor info #{i}";
            ReadOnlySpan<byte> nameBytes = reader.ReadStringBytes(what);
            if (nameBytes.Length == 0 || nameBytes.Length > GgufFormat.MaxTensorNameBytes)
            {
                Fail(path, $"{what} has a {nameBytes.Length}-byte name; names must be 1 to {GgufFormat.MaxTensorNameBytes} bytes");
            }

            if (!Utf8.IsValid(nameBytes))
            {
                Fail(path, $"{what} has a name that is not valid UTF-8");
            }

            string name = Encoding.UTF8.GetString(nameBytes);
            if (!names.Add(name))
            {
                Fail(path, $"tensor '{name}' appears more than once");
            }

            uint dimensionCount = reader.ReadUInt32(name);
            if (dimensionCount > GgufFormat.MaxDimensions)
            {
                Fail(path, $"tensor '{name}' has {dimensionCount} dimensions; at most {GgufFormat.MaxDimensions} are allowed");
            }

            // GGUF lists dimensions innermost first; Shape is outermost first.
            long[] shape = new long[dimensionCount];
            long elements = 1;
            for (int d = 0; d < dimensionCount; d++)
            {
                ulong dimension = reader.ReadUInt64(name);
                if (dimension == 0 || dimension > long.MaxValue)
                {
                    Fail(path, $"tensor '{name}' has dimension {d} of {(long)dimension}; every dimension must be at least 1");
                }

                if ((long)dimension > long.MaxValue / elements)
                {
                    Fail(path, $"tensor '{name}' has an element count that overflows 64 bits");
                }

                elements *= (long)dimension;
                shape[dimensionCount - 1 - d] = (long)dimension;
            }

            var type = (GgmlType)reader.ReadUInt32(name);
            int blockLength = GgmlTypes.BlockLength(type);
            if (blockLength == 0)
            {
                Fail(path, $"tensor '{name}' has {GgmlTypes.Name(type)}, which this runtime does not read (supported: F32, F16, BF16, Q8_0, I8, I16, I32, I64, F64)");
            }

            // A block never spans two rows: the row length (innermost dimension; 1 for a scalar) is whole blocks.
            long rowLength = dimensionCount == 0 ? 1 : shape[^1];
            if (rowLength % blockLength != 0)
            {
                Fail(path, $"tensor '{name}' is {GgmlTypes.Name(type)} with rows of {rowLength} values; that type stores whole blocks of {blockLength} values");
            }

            ulong offset = reader.ReadUInt64(name);
            infos.Add((name, type, shape, elements, offset));
        }

        return infos;
    }

    private static List<GgufTensorInfo> PlaceTensors(
        string path,
        List<(string Name, GgmlType Type, long[] Shape, long Elements, ulong Offset)> infos,
        uint alignment,
        long dataStart,
        long fileLength)
    {
        long dataSize = fileLength - dataStart;
        var tensors = new List<GgufTensorInfo>(infos.Count);
        foreach ((string name, GgmlType type, long[] shape, long elements, ulong offset) in infos)
        {
            long blocks = elements / GgmlTypes.BlockLength(type);
            int blockBytes = GgmlTypes.BlockBytes(type);
            if (blocks > long.MaxValue / blockBytes)
            {
                Fail(path, $"tensor '{name}' has a byte size that overflows 64 bits");
            }

            long byteLength = blocks * blockBytes;
            if (offset % alignment != 0)
            {
                Fail(path, $"tensor '{name}' starts at data offset {offset}, not a multiple of the alignment {alignment}");
            }

            if (offset > (ulong)dataSize || byteLength > dataSize - (long)offset)
            {
                Fail(path, $"tensor '{name}' occupies data bytes [{offset}, {offset}+{byteLength}), past the end of the {dataSize}-byte data section; the file is truncated or corrupt");
            }

            if (byteLength > int.MaxValue)
            {
                Fail(path, $"tensor '{name}' is {byteLength} bytes; tensors over 2 GiB are not supported");
            }

            tensors.Add(new GgufTensorInfo(name, type, shape, dataStart + (long)offset, byteLength));
        }

        var byOffset = new List<GgufTensorInfo>(tensors);
        byOffset.Sort(static (a, b) => a.Offset.CompareTo(b.Offset));
        for (int i = 1; i < byOffset.Count; i++)
        {
            GgufTensorInfo previous = byOffset[i - 1];
            if (byOffset[i].Offset < previous.Offset + previous.ByteLength)
            {
                Fail(path, $"tensors '{previous.Name}' and '{byOffset[i].Name}' overlap in the data section");
            }
        }

        return tensors;
    }

    [DoesNotReturn]
    private static void Fail(string path, string problem) => throw Failure(path, problem);

    private static ModelFileException Failure(string path, string problem) => new($"{path}: {problem}");

    /// <summary>Reads metadata values; holds what the recursion needs besides the cursor.</summary>
    private readonly struct ValueParser(string path, MemoryMappedRegion region)
    {
        public GgufValue ReadValue(ref GgufSpanReader reader, GgufValueType type, string context, int depth)
        {
            switch (type)
            {
                case GgufValueType.UInt8:
                    return GgufValue.FromUInt8(reader.ReadUInt8(context));
                case GgufValueType.Int8:
                    return GgufValue.FromInt8((sbyte)reader.ReadUInt8(context));
                case GgufValueType.UInt16:
                    return GgufValue.FromUInt16(BinaryPrimitives.ReadUInt16LittleEndian(reader.Take(2, context)));
                case GgufValueType.Int16:
                    return GgufValue.FromInt16(BinaryPrimitives.ReadInt16LittleEndian(reader.Take(2, context)));
                case GgufValueType.UInt32:
                    return GgufValue.FromUInt32(reader.ReadUInt32(context));
                case GgufValueType.Int32:
                    return GgufValue.FromInt32((int)reader.ReadUInt32(context));
                case GgufValueType.Float32:
                    return GgufValue.FromFloat32(BitConverter.UInt32BitsToSingle(reader.ReadUInt32(context)));
                case GgufValueType.UInt64:
                    return GgufValue.FromUInt64(reader.ReadUInt64(context));
                case GgufValueType.Int64:
                    return GgufValue.FromInt64((long)reader.ReadUInt64(context));
                case GgufValueType.Float64:
                    return GgufValue.FromFloat64(BitConverter.UInt64BitsToDouble(reader.ReadUInt64(context)));
                case GgufValueType.Bool:
                    byte flag = reader.ReadUInt8(context);
                    if (flag > 1)
                    {
                        Fail(path, $"{context} is a boolean stored as {flag}; only 0 and 1 are valid");
                    }

                    return GgufValue.FromBool(flag == 1);
                case GgufValueType.String:
                    return GgufValue.FromString(ReadString(ref reader, context));
                case GgufValueType.Array:
                    return GgufValue.FromArray(ReadArray(ref reader, context, depth + 1));
                default:
                    throw Failure(path, $"{context} has value type {(uint)type}, which GGUF does not define");
            }
        }

        private string ReadString(ref GgufSpanReader reader, string context)
        {
            ReadOnlySpan<byte> bytes = reader.ReadStringBytes(context);
            if (!Utf8.IsValid(bytes))
            {
                Fail(path, $"{context} holds a string that is not valid UTF-8");
            }

            return Encoding.UTF8.GetString(bytes);
        }

        private GgufArray ReadArray(ref GgufSpanReader reader, string context, int depth)
        {
            if (depth > GgufFormat.MaxArrayNesting)
            {
                Fail(path, $"{context} nests arrays more than {GgufFormat.MaxArrayNesting} deep");
            }

            var elementType = (GgufValueType)reader.ReadUInt32(context);
            if (!GgufValueTypes.IsDefined(elementType))
            {
                Fail(path, $"{context} is an array of value type {(uint)elementType}, which GGUF does not define");
            }

            ulong count = reader.ReadUInt64(context);
            int fixedSize = GgufValueTypes.FixedSize(elementType);
            int minElementBytes = fixedSize > 0 ? fixedSize : elementType == GgufValueType.String ? MinStringBytes : MinArrayBytes;
            if (count > (ulong)(reader.Remaining / minElementBytes))
            {
                Fail(path, $"{context} claims {count} {GgufValueTypes.Name(elementType)} elements, more than the {reader.Remaining} bytes left can hold; the file is corrupt");
            }

            if (fixedSize > 0)
            {
                long offset = reader.Position;
                ReadOnlySpan<byte> bytes = reader.Take((long)count * fixedSize, context);
                if (elementType == GgufValueType.Bool && bytes.ContainsAnyExcept((byte)0, (byte)1))
                {
                    Fail(path, $"{context} holds a boolean that is neither 0 nor 1");
                }

                return GgufArray.FromValidatedRaw(elementType, region.GetMemory<byte>(offset, bytes.Length));
            }

            if (elementType == GgufValueType.String)
            {
                string[] strings = new string[count];
                for (int i = 0; i < strings.Length; i++)
                {
                    strings[i] = ReadString(ref reader, context);
                }

                return GgufArray.FromValidatedStrings(strings);
            }

            var arrays = new GgufArray[count];
            for (int i = 0; i < arrays.Length; i++)
            {
                // An element of an array of arrays is itself an array value: element type, count, elements.
                arrays[i] = ReadArray(ref reader, context, depth + 1);
            }

            return GgufArray.FromValidatedArrays(arrays);
        }
    }
}
