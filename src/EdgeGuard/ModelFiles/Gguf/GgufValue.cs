using System.Globalization;

namespace EdgeGuard.ModelFiles.Gguf;

/// <summary>
/// One typed GGUF metadata value: a number, a boolean, a string or an <see cref="GgufArray"/>.
/// Scalars keep their exact bits, so a value read from a file writes back byte for byte.
/// </summary>
public sealed class GgufValue
{
    // Numbers and booleans live in _bits (integers sign- or zero-extended, floats as their IEEE bits);
    // strings and arrays in _reference.
    private readonly ulong _bits;
    private readonly object? _reference;

    private GgufValue(GgufValueType type, ulong bits, object? reference)
    {
        Type = type;
        _bits = bits;
        _reference = reference;
    }

    /// <summary>The value's GGUF type.</summary>
    public GgufValueType Type { get; }

    /// <summary>A u8 value.</summary>
    public static GgufValue FromUInt8(byte value) => new(GgufValueType.UInt8, value, null);

    /// <summary>An i8 value.</summary>
    public static GgufValue FromInt8(sbyte value) => new(GgufValueType.Int8, (ulong)value, null);

    /// <summary>A u16 value.</summary>
    public static GgufValue FromUInt16(ushort value) => new(GgufValueType.UInt16, value, null);

    /// <summary>An i16 value.</summary>
    public static GgufValue FromInt16(short value) => new(GgufValueType.Int16, (ulong)value, null);

    /// <summary>A u32 value.</summary>
    public static GgufValue FromUInt32(uint value) => new(GgufValueType.UInt32, value, null);

    /// <summary>An i32 value.</summary>
    public static GgufValue FromInt32(int value) => new(GgufValueType.Int32, (ulong)value, null);

    /// <summary>An f32 value (any bits, NaN payloads included).</summary>
    public static GgufValue FromFloat32(float value) => new(GgufValueType.Float32, BitConverter.SingleToUInt32Bits(value), null);

    /// <summary>A boolean value.</summary>
    public static GgufValue FromBool(bool value) => new(GgufValueType.Bool, value ? 1UL : 0UL, null);

    /// <summary>A UTF-8 string value.</summary>
    public static GgufValue FromString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(GgufValueType.String, 0, value);
    }

    /// <summary>An array value.</summary>
    public static GgufValue FromArray(GgufArray value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(GgufValueType.Array, 0, value);
    }

    /// <summary>A u64 value.</summary>
    public static GgufValue FromUInt64(ulong value) => new(GgufValueType.UInt64, value, null);

    /// <summary>An i64 value.</summary>
    public static GgufValue FromInt64(long value) => new(GgufValueType.Int64, (ulong)value, null);

    /// <summary>An f64 value.</summary>
    public static GgufValue FromFloat64(double value) => new(GgufValueType.Float64, BitConverter.DoubleToUInt64Bits(value), null);

    /// <summary>The value of a u8.</summary>
    public byte AsUInt8() => (byte)Bits(GgufValueType.UInt8);

    /// <summary>The value of an i8.</summary>
    public sbyte AsInt8() => (sbyte)Bits(GgufValueType.Int8);

    /// <summary>The value of a u16.</summary>
    public ushort AsUInt16() => (ushort)Bits(GgufValueType.UInt16);

    /// <summary>The value of an i16.</summary>
    public short AsInt16() => (short)Bits(GgufValueType.Int16);

    /// <summary>The value of a u32.</summary>
    public uint AsUInt32() => (uint)Bits(GgufValueType.UInt32);

    /// <summary>The value of an i32.</summary>
    public int AsInt32() => (int)Bits(GgufValueType.Int32);

    /// <summary>The value of an f32.</summary>
    public float AsFloat32() => BitConverter.UInt32BitsToSingle((uint)Bits(GgufValueType.Float32));

    /// <summary>The value of a bool.</summary>
    public bool AsBool() => Bits(GgufValueType.Bool) != 0;

    /// <summary>The value of a u64.</summary>
    public ulong AsUInt64() => Bits(GgufValueType.UInt64);

    /// <summary>The value of an i64.</summary>
    public long AsInt64() => (long)Bits(GgufValueType.Int64);

    /// <summary>The value of an f64.</summary>
    public double AsFloat64() => BitConverter.UInt64BitsToDouble(Bits(GgufValueType.Float64));

    /// <summary>The value of a string.</summary>
    public string AsString()
    {
        ExpectType(GgufValueType.String);
        return (string)_reference!;
    }

    /// <summary>The value of an array.</summary>
    public GgufArray AsArray()
    {
        ExpectType(GgufValueType.Array);
        return (GgufArray)_reference!;
    }

    /// <summary>
    /// The value as a plain object for display and tooling: the CLR number type matching <see cref="Type"/>
    /// (<see cref="byte"/>, <see cref="float"/>, <see cref="ulong"/>, …), <see cref="bool"/>, <see cref="string"/>,
    /// or the <see cref="GgufArray"/> itself, whose <see cref="GgufArray.ToString"/> is a short summary.
    /// </summary>
    public object ToObject() => Type switch
    {
        GgufValueType.UInt8 => AsUInt8(),
        GgufValueType.Int8 => AsInt8(),
        GgufValueType.UInt16 => AsUInt16(),
        GgufValueType.Int16 => AsInt16(),
        GgufValueType.UInt32 => AsUInt32(),
        GgufValueType.Int32 => AsInt32(),
        GgufValueType.Float32 => AsFloat32(),
        GgufValueType.Bool => AsBool(),
        GgufValueType.UInt64 => AsUInt64(),
        GgufValueType.Int64 => AsInt64(),
        GgufValueType.Float64 => AsFloat64(),
        _ => _reference!,
    };

    /// <summary>The value as text: numbers in the invariant culture, strings as they are, arrays summarised.</summary>
    public override string ToString() => ToObject() switch
    {
        IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
        bool flag => flag ? "true" : "false",
        var other => other.ToString() ?? string.Empty,
    };

    private ulong Bits(GgufValueType expected)
    {
        ExpectType(expected);
        return _bits;
    }

    private void ExpectType(GgufValueType expected)
    {
        if (Type != expected)
        {
            ThrowWrongType(expected);
        }
    }

    private void ThrowWrongType(GgufValueType expected) =>
        throw new InvalidOperationException($"The value is {GgufValueTypes.Name(Type)}, not {GgufValueTypes.Name(expected)}.");
}
