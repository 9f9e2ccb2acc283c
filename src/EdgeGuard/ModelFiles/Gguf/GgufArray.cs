using System.Buffers.Binary;
using System.Text;

namespace EdgeGuard.ModelFiles.Gguf;

/// <summary>
/// A GGUF metadata array. Arrays of fixed-size elements keep their little-endian bytes
/// (<see cref="RawBytes"/>; for a file being read, a slice of the memory map, not a copy), string arrays
/// keep their strings, and arrays of arrays keep their child arrays.
/// </summary>
public sealed class GgufArray
{
    private const int ElementsShownInSummary = 16;

    private readonly ReadOnlyMemory<byte> _raw;
    private readonly string[]? _strings;
    private readonly GgufArray[]? _arrays;

    private GgufArray(GgufValueType elementType, int count, ReadOnlyMemory<byte> raw, string[]? strings, GgufArray[]? arrays, int depth)
    {
        ElementType = elementType;
        Count = count;
        _raw = raw;
        _strings = strings;
        _arrays = arrays;
        Depth = depth;
    }

    /// <summary>Type of every element.</summary>
    public GgufValueType ElementType { get; }

    /// <summary>Number of elements.</summary>
    public int Count { get; }

    /// <summary>Nesting depth: 1 for an array of scalars or strings, 1 + the deepest child for an array of arrays.</summary>
    public int Depth { get; }

    /// <summary>The elements' little-endian bytes, for arrays of numbers or booleans.</summary>
    /// <exception cref="InvalidOperationException">The elements are strings or arrays.</exception>
    public ReadOnlyMemory<byte> RawBytes => GgufValueTypes.FixedSize(ElementType) > 0
        ? _raw
        : throw new InvalidOperationException($"An array of {GgufValueTypes.Name(ElementType)} has no raw bytes.");

    /// <summary>The elements of a string array.</summary>
    /// <exception cref="InvalidOperationException">The elements are not strings.</exception>
    public IReadOnlyList<string> Strings => _strings
        ?? throw new InvalidOperationException($"An array of {GgufValueTypes.Name(ElementType)} has no strings.");

    /// <summary>The elements of an array of arrays.</summary>
    /// <exception cref="InvalidOperationException">The elements are not arrays.</exception>
    public IReadOnlyList<GgufArray> Arrays => _arrays
        ?? throw new InvalidOperationException($"An array of {GgufValueTypes.Name(ElementType)} has no child arrays.");

    /// <summary>An array of u8: raw bytes stored losslessly.</summary>
    public static GgufArray FromBytes(ReadOnlyMemory<byte> bytes) => FromRaw(GgufValueType.UInt8, bytes);

    /// <summary>
    /// An array of fixed-size elements given as their little-endian bytes
    /// (use <c>MemoryMarshal.AsBytes</c> on a span of the element type).
    /// </summary>
    /// <exception cref="ArgumentException">The type is variable-length, the byte count is not a multiple of the element size, or a boolean byte is not 0 or 1.</exception>
    public static GgufArray FromRaw(GgufValueType elementType, ReadOnlyMemory<byte> littleEndianBytes)
    {
        int size = GgufValueTypes.FixedSize(elementType);
        if (size == 0)
        {
            throw new ArgumentException($"{GgufValueTypes.Name(elementType)} is not a fixed-size element type.", nameof(elementType));
        }

        if (littleEndianBytes.Length % size != 0)
        {
            throw new ArgumentException($"{littleEndianBytes.Length} bytes are not a whole number of {size}-byte elements.", nameof(littleEndianBytes));
        }

        if (elementType == GgufValueType.Bool && littleEndianBytes.Span.ContainsAnyExcept((byte)0, (byte)1))
        {
            throw new ArgumentException("Boolean elements must be the bytes 0 or 1.", nameof(littleEndianBytes));
        }

        return FromValidatedRaw(elementType, littleEndianBytes);
    }

    /// <summary>An array of strings.</summary>
    public static GgufArray FromStrings(IEnumerable<string> strings)
    {
        ArgumentNullException.ThrowIfNull(strings);
        string[] items = strings.ToArray();
        if (Array.IndexOf(items, null) >= 0)
        {
            throw new ArgumentException("A string array cannot hold null.", nameof(strings));
        }

        return FromValidatedStrings(items);
    }

    /// <summary>An array of arrays (each child has its own element type).</summary>
    /// <exception cref="ArgumentException">The nesting would exceed <see cref="GgufFormat.MaxArrayNesting"/>.</exception>
    public static GgufArray FromArrays(IEnumerable<GgufArray> arrays)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        GgufArray[] items = arrays.ToArray();
        if (Array.IndexOf(items, null) >= 0)
        {
            throw new ArgumentException("An array of arrays cannot hold null.", nameof(arrays));
        }

        GgufArray result = FromValidatedArrays(items);
        if (result.Depth > GgufFormat.MaxArrayNesting)
        {
            throw new ArgumentException($"Arrays nest {result.Depth} deep; at most {GgufFormat.MaxArrayNesting} are allowed.", nameof(arrays));
        }

        return result;
    }

    /// <summary>Element <paramref name="index"/> as a <see cref="GgufValue"/>.</summary>
    public GgufValue GetElement(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        if (_strings is not null)
        {
            return GgufValue.FromString(_strings[index]);
        }

        if (_arrays is not null)
        {
            return GgufValue.FromArray(_arrays[index]);
        }

        int size = GgufValueTypes.FixedSize(ElementType);
        ReadOnlySpan<byte> e = _raw.Span.Slice(index * size, size);
        return ElementType switch
        {
            GgufValueType.UInt8 => GgufValue.FromUInt8(e[0]),
            GgufValueType.Int8 => GgufValue.FromInt8((sbyte)e[0]),
            GgufValueType.Bool => GgufValue.FromBool(e[0] != 0),
            GgufValueType.UInt16 => GgufValue.FromUInt16(BinaryPrimitives.ReadUInt16LittleEndian(e)),
            GgufValueType.Int16 => GgufValue.FromInt16(BinaryPrimitives.ReadInt16LittleEndian(e)),
            GgufValueType.UInt32 => GgufValue.FromUInt32(BinaryPrimitives.ReadUInt32LittleEndian(e)),
            GgufValueType.Int32 => GgufValue.FromInt32(BinaryPrimitives.ReadInt32LittleEndian(e)),
            GgufValueType.Float32 => GgufValue.FromFloat32(BinaryPrimitives.ReadSingleLittleEndian(e)),
            GgufValueType.UInt64 => GgufValue.FromUInt64(BinaryPrimitives.ReadUInt64LittleEndian(e)),
            GgufValueType.Int64 => GgufValue.FromInt64(BinaryPrimitives.ReadInt64LittleEndian(e)),
            _ => GgufValue.FromFloat64(BinaryPrimitives.ReadDoubleLittleEndian(e)),
        };
    }

    /// <summary>
    /// A one-line summary: short arrays in full (<c>["safe", "unsafe"]</c>), long ones as type and count
    /// (<c>u8[2464616]</c>), so that <c>inspect</c> never prints megabytes.
    /// </summary>
    public override string ToString()
    {
        if (Count > ElementsShownInSummary)
        {
            return $"{GgufValueTypes.Name(ElementType)}[{Count}]";
        }

        var text = new StringBuilder("[");
        for (int i = 0; i < Count; i++)
        {
            if (i > 0)
            {
                text.Append(", ");
            }

            GgufValue element = GetElement(i);
            if (element.Type == GgufValueType.String)
            {
                text.Append('"').Append(element.AsString()).Append('"');
            }
            else
            {
                text.Append(element.ToString());
            }
        }

        return text.Append(']').ToString();
    }

    internal static GgufArray FromValidatedRaw(GgufValueType elementType, ReadOnlyMemory<byte> raw) =>
        new(elementType, raw.Length / GgufValueTypes.FixedSize(elementType), raw, null, null, 1);

    internal static GgufArray FromValidatedStrings(string[] strings) =>
        new(GgufValueType.String, strings.Length, ReadOnlyMemory<byte>.Empty, strings, null, 1);

    internal static GgufArray FromValidatedArrays(GgufArray[] arrays)
    {
        int deepestChild = 0;
        foreach (GgufArray child in arrays)
        {
            deepestChild = Math.Max(deepestChild, child.Depth);
        }

        return new(GgufValueType.Array, arrays.Length, ReadOnlyMemory<byte>.Empty, null, arrays, deepestChild + 1);
    }
}
