using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace EdgeGuard.ModelFiles.Gguf;

/// <summary>
/// Writes a GGUF v3 file: metadata and tensor declarations are collected first, then <see cref="WriteTo"/>
/// streams the header and asks each tensor for its bytes in turn, so a model never has to be in memory at once.
/// </summary>
/// <remarks>
/// <c>general.alignment</c> is always written (first), from the constructor's alignment. Tensor data is placed
/// in declaration order, each tensor starting at a multiple of the alignment and followed by zero padding up to
/// the next multiple (after the last tensor too, as ggml's own writer does, so ggml tools that read the padded
/// size find it).
/// </remarks>
public sealed class GgufWriter
{
    private readonly List<(string Key, GgufValue Value)> _metadata = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly List<PendingTensor> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);
    private long _dataLength;

    /// <summary>Starts a file whose tensor data is aligned to <paramref name="alignment"/> bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The alignment is not a power of two and a multiple of 8.</exception>
    public GgufWriter(uint alignment = GgufFormat.DefaultAlignment)
    {
        if (!GgufFormat.IsValidAlignment(alignment))
        {
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "The alignment must be a power of two and a multiple of 8.");
        }

        Alignment = alignment;
        _keys.Add(GgufFormat.AlignmentKey);
        _metadata.Add((GgufFormat.AlignmentKey, GgufValue.FromUInt32(alignment)));
    }

    /// <summary>Alignment of tensor data in bytes.</summary>
    public uint Alignment { get; }

    /// <summary>Bytes of the tensor data section as declared so far, padding included.</summary>
    public long DataSectionLength => _dataLength;

    /// <summary>Adds a metadata pair. Keys are dot-separated <c>lower_snake_case</c> segments, as the specification requires.</summary>
    /// <exception cref="ArgumentException">The key is malformed, already present, or is <c>general.alignment</c> (set through the constructor).</exception>
    public void AddMetadata(string key, GgufValue value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (key == GgufFormat.AlignmentKey)
        {
            throw new ArgumentException($"{GgufFormat.AlignmentKey} is written from the constructor's alignment.", nameof(key));
        }

        if (!IsValidKey(key))
        {
            throw new ArgumentException($"Metadata key '{key}' must be 1 to {GgufFormat.MaxKeyBytes} bytes of dot-separated lower_snake_case segments.", nameof(key));
        }

        if (value.Type == GgufValueType.Array && value.AsArray().Depth > GgufFormat.MaxArrayNesting)
        {
            throw new ArgumentException($"Metadata '{key}' nests arrays deeper than {GgufFormat.MaxArrayNesting}.", nameof(value));
        }

        if (!_keys.Add(key))
        {
            throw new ArgumentException($"Metadata key '{key}' was already added.", nameof(key));
        }

        _metadata.Add((key, value));
    }

    /// <summary>
    /// Declares a tensor. <paramref name="writeData"/> is called once during <see cref="WriteTo"/> and must write
    /// exactly the tensor's bytes (element count times element size, or block count times block size, little-endian,
    /// row-major) to the stream it is given.
    /// </summary>
    /// <param name="name">Unique name, at most <see cref="GgufFormat.MaxTensorNameBytes"/> UTF-8 bytes.</param>
    /// <param name="type">Element type; one of the types <see cref="GgmlTypes.BlockBytes"/> knows.</param>
    /// <param name="shape">Dimensions, outermost first (written innermost first, as GGUF stores them).</param>
    /// <param name="writeData">Writes the tensor's bytes.</param>
    /// <exception cref="ArgumentException">The name, type or shape cannot be stored, or the name is taken.</exception>
    public void AddTensor(string name, GgmlType type, IReadOnlyList<long> shape, Action<Stream> writeData)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(writeData);
        string? problem = GgufFormat.DescribeInvalidTensor(name, shape);
        if (problem is not null)
        {
            throw new ArgumentException(problem, nameof(shape));
        }

        int blockLength = GgmlTypes.BlockLength(type);
        if (blockLength == 0)
        {
            throw new ArgumentException($"Tensor '{name}': {GgmlTypes.Name(type)} is not a type this writer stores.", nameof(type));
        }

        long rowLength = shape.Count == 0 ? 1 : shape[^1];
        if (rowLength % blockLength != 0)
        {
            throw new ArgumentException($"Tensor '{name}': {GgmlTypes.Name(type)} stores whole blocks of {blockLength} values; rows of {rowLength} are not.", nameof(shape));
        }

        long elements = 1;
        foreach (long dimension in shape)
        {
            elements *= dimension;
        }

        long blocks = elements / blockLength;
        int blockBytes = GgmlTypes.BlockBytes(type);
        if (blocks > long.MaxValue / blockBytes)
        {
            throw new ArgumentException($"Tensor '{name}' is too large to store.", nameof(shape));
        }

        if (!_tensorNames.Add(name))
        {
            throw new ArgumentException($"Tensor '{name}' was already added.", nameof(name));
        }

        long byteLength = blocks * blockBytes;
        _tensors.Add(new PendingTensor(name, type, shape.ToArray(), _dataLength, byteLength, writeData));
        _dataLength = GgufFormat.AlignUp(_dataLength + byteLength, Alignment);
    }

    /// <summary>
    /// Writes the whole file to <paramref name="destination"/> from its current position and returns the bytes written.
    /// </summary>
    /// <param name="destination">A seekable stream; its position is used to check what each tensor callback wrote.</param>
    /// <param name="progress">Receives the fraction of tensor data written, from 0 to 1.</param>
    /// <exception cref="InvalidOperationException">A tensor callback wrote a different number of bytes than its tensor holds.</exception>
    public long WriteTo(Stream destination, IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!destination.CanSeek || !destination.CanWrite)
        {
            throw new ArgumentException("The destination must be writable and seekable.", nameof(destination));
        }

        long start = destination.Position;
        byte[] header = SerializeHeader();
        destination.Write(header);

        Span<byte> zeros = stackalloc byte[256];
        zeros.Clear();
        long dataWritten = 0;
        progress?.Report(0);
        foreach (PendingTensor tensor in _tensors)
        {
            long before = destination.Position;
            tensor.WriteData(destination);
            long written = destination.Position - before;
            if (written != tensor.ByteLength)
            {
                throw new InvalidOperationException($"Tensor '{tensor.Name}': the callback wrote {written} bytes; the tensor holds {tensor.ByteLength}.");
            }

            long padding = GgufFormat.AlignUp(tensor.ByteLength, Alignment) - tensor.ByteLength;
            while (padding > 0)
            {
                int chunk = (int)Math.Min(padding, zeros.Length);
                destination.Write(zeros[..chunk]);
                padding -= chunk;
            }

            dataWritten += tensor.ByteLength;
            progress?.Report(_dataLength == 0 ? 1 : (double)dataWritten / _dataLength);
        }

        progress?.Report(1);
        return destination.Position - start;
    }

    private static bool IsValidKey(string key)
    {
        if (key.Length == 0 || key.Length > GgufFormat.MaxKeyBytes)
        {
            return false;
        }

        bool segmentEmpty = true;
        foreach (char c in key)
        {
            if (c == '.')
            {
                if (segmentEmpty)
                {
                    return false;
                }

                segmentEmpty = true;
            }
            else if (char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_')
            {
                segmentEmpty = false;
            }
            else
            {
                return false;
            }
        }

        return !segmentEmpty;
    }

    private byte[] SerializeHeader()
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        buffer.Write(GgufFormat.Magic);
        WriteUInt32(buffer, GgufFormat.Version);
        WriteUInt64(buffer, (ulong)_tensors.Count);
        WriteUInt64(buffer, (ulong)_metadata.Count);
        foreach ((string key, GgufValue value) in _metadata)
        {
            WriteString(buffer, key);
            WriteUInt32(buffer, (uint)value.Type);
            WriteValue(buffer, value);
        }

        foreach (PendingTensor tensor in _tensors)
        {
            WriteString(buffer, tensor.Name);
            WriteUInt32(buffer, (uint)tensor.Shape.Length);
            for (int d = tensor.Shape.Length - 1; d >= 0; d--)
            {
                WriteUInt64(buffer, (ulong)tensor.Shape[d]);
            }

            WriteUInt32(buffer, (uint)tensor.Type);
            WriteUInt64(buffer, (ulong)tensor.DataOffset);
        }

        int padded = checked((int)GgufFormat.AlignUp(buffer.WrittenCount, Alignment));
        buffer.GetSpan(padded - buffer.WrittenCount)[..(padded - buffer.WrittenCount)].Clear();
        buffer.Advance(padded - buffer.WrittenCount);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteValue(ArrayBufferWriter<byte> buffer, GgufValue value)
    {
        switch (value.Type)
        {
            case GgufValueType.UInt8:
                WriteByte(buffer, value.AsUInt8());
                break;
            case GgufValueType.Int8:
                WriteByte(buffer, (byte)value.AsInt8());
                break;
            case GgufValueType.Bool:
                WriteByte(buffer, value.AsBool() ? (byte)1 : (byte)0);
                break;
            case GgufValueType.UInt16:
                BinaryPrimitives.WriteUInt16LittleEndian(buffer.GetSpan(2), value.AsUInt16());
                buffer.Advance(2);
                break;
            case GgufValueType.Int16:
                BinaryPrimitives.WriteInt16LittleEndian(buffer.GetSpan(2), value.AsInt16());
                buffer.Advance(2);
                break;
            case GgufValueType.UInt32:
                WriteUInt32(buffer, value.AsUInt32());
                break;
            case GgufValueType.Int32:
                WriteUInt32(buffer, (uint)value.AsInt32());
                break;
            case GgufValueType.Float32:
                WriteUInt32(buffer, BitConverter.SingleToUInt32Bits(value.AsFloat32()));
                break;
            case GgufValueType.UInt64:
                WriteUInt64(buffer, value.AsUInt64());
                break;
            case GgufValueType.Int64:
                WriteUInt64(buffer, (ulong)value.AsInt64());
                break;
            case GgufValueType.Float64:
                WriteUInt64(buffer, BitConverter.DoubleToUInt64Bits(value.AsFloat64()));
                break;
            case GgufValueType.String:
                WriteString(buffer, value.AsString());
                break;
            case GgufValueType.Array:
                WriteArray(buffer, value.AsArray());
                break;
        }
    }

    private static void WriteArray(ArrayBufferWriter<byte> buffer, GgufArray array)
    {
        WriteUInt32(buffer, (uint)array.ElementType);
        WriteUInt64(buffer, (ulong)array.Count);
        if (array.ElementType == GgufValueType.String)
        {
            foreach (string s in array.Strings)
            {
                WriteString(buffer, s);
            }
        }
        else if (array.ElementType == GgufValueType.Array)
        {
            foreach (GgufArray child in array.Arrays)
            {
                WriteArray(buffer, child);
            }
        }
        else
        {
            buffer.Write(array.RawBytes.Span);
        }
    }

    private static void WriteByte(ArrayBufferWriter<byte> buffer, byte value)
    {
        buffer.GetSpan(1)[0] = value;
        buffer.Advance(1);
    }

    private static void WriteUInt32(ArrayBufferWriter<byte> buffer, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.GetSpan(4), value);
        buffer.Advance(4);
    }

    private static void WriteUInt64(ArrayBufferWriter<byte> buffer, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(buffer.GetSpan(8), value);
        buffer.Advance(8);
    }

    private static void WriteString(ArrayBufferWriter<byte> buffer, string value)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        WriteUInt64(buffer, (ulong)length);
        Encoding.UTF8.GetBytes(value, buffer.GetSpan(length));
        buffer.Advance(length);
    }

    private sealed record PendingTensor(string Name, GgmlType Type, long[] Shape, long DataOffset, long ByteLength, Action<Stream> WriteData);
}
