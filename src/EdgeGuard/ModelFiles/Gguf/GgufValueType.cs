namespace EdgeGuard.ModelFiles.Gguf;

/// <summary>Type tags of GGUF metadata values, with the numeric ids the file stores.</summary>
public enum GgufValueType : uint
{
    /// <summary>8-bit unsigned integer.</summary>
    UInt8 = 0,

    /// <summary>8-bit signed integer.</summary>
    Int8 = 1,

    /// <summary>16-bit unsigned integer.</summary>
    UInt16 = 2,

    /// <summary>16-bit signed integer.</summary>
    Int16 = 3,

    /// <summary>32-bit unsigned integer.</summary>
    UInt32 = 4,

    /// <summary>32-bit signed integer.</summary>
    Int32 = 5,

    /// <summary>IEEE 754 binary32.</summary>
    Float32 = 6,

    /// <summary>One byte, 0 or 1; any other byte makes the file invalid.</summary>
    Bool = 7,

    /// <summary>UTF-8 text prefixed by its u64 byte length, not NUL-terminated.</summary>
    String = 8,

    /// <summary>Element type (u32), element count (u64), then the elements; arrays may nest.</summary>
    Array = 9,

    /// <summary>64-bit unsigned integer.</summary>
    UInt64 = 10,

    /// <summary>64-bit signed integer.</summary>
    Int64 = 11,

    /// <summary>IEEE 754 binary64.</summary>
    Float64 = 12,
}

/// <summary>Sizes and short names of <see cref="GgufValueType"/> values.</summary>
public static class GgufValueTypes
{
    /// <summary>True for the thirteen types the specification defines.</summary>
    public static bool IsDefined(GgufValueType type) => (uint)type <= (uint)GgufValueType.Float64;

    /// <summary>Bytes one value occupies, or 0 for the variable-length types (string, array).</summary>
    public static int FixedSize(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
        _ => 0,
    };

    /// <summary>Short name for messages and <c>inspect</c> output (<c>u8</c>, <c>f32</c>, <c>string</c>, …).</summary>
    public static string Name(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 => "u8",
        GgufValueType.Int8 => "i8",
        GgufValueType.UInt16 => "u16",
        GgufValueType.Int16 => "i16",
        GgufValueType.UInt32 => "u32",
        GgufValueType.Int32 => "i32",
        GgufValueType.Float32 => "f32",
        GgufValueType.Bool => "bool",
        GgufValueType.String => "string",
        GgufValueType.Array => "array",
        GgufValueType.UInt64 => "u64",
        GgufValueType.Int64 => "i64",
        GgufValueType.Float64 => "f64",
        _ => $"unknown type {(uint)type}",
    };
}
