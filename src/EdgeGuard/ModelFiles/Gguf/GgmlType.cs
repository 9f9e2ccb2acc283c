using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.ModelFiles.Gguf;

/// <summary>
/// Element types of tensors in a GGUF file, with ggml's numeric ids: the plain types, and of ggml's block-quantized
/// formats only <see cref="Q8_0"/> (int8 bundles store their word tables so); a file holding another block type
/// (Q4_0, Q8_K, …) is refused by id.
/// </summary>
public enum GgmlType : uint
{
    /// <summary>IEEE 754 binary32.</summary>
    F32 = 0,

    /// <summary>IEEE 754 binary16.</summary>
    F16 = 1,

    /// <summary>ggml's Q8_0 blocks (<see cref="Q8Blocks"/>): 32 values as a float16 scale and 32 signed bytes; rows are whole blocks.</summary>
    Q8_0 = 8,

    /// <summary>Signed 8-bit integer.</summary>
    I8 = 24,

    /// <summary>Signed 16-bit integer.</summary>
    I16 = 25,

    /// <summary>Signed 32-bit integer.</summary>
    I32 = 26,

    /// <summary>Signed 64-bit integer.</summary>
    I64 = 27,

    /// <summary>IEEE 754 binary64.</summary>
    F64 = 28,

    /// <summary>bfloat16: the upper half of a binary32.</summary>
    BF16 = 30,
}

/// <summary>Sizes and conversions of <see cref="GgmlType"/> values.</summary>
public static class GgmlTypes
{
    /// <summary>Bytes per element of a plain type, or 0 for a block type (<see cref="GgmlType.Q8_0"/>) and types this runtime does not read.</summary>
    public static int ElementSize(GgmlType type) => type switch
    {
        GgmlType.I8 => 1,
        GgmlType.F16 or GgmlType.BF16 or GgmlType.I16 => 2,
        GgmlType.F32 or GgmlType.I32 => 4,
        GgmlType.I64 or GgmlType.F64 => 8,
        _ => 0,
    };

    /// <summary>Values per block: 32 for <see cref="GgmlType.Q8_0"/>, 1 for a plain type, 0 for types this runtime does not read.</summary>
    public static int BlockLength(GgmlType type) => type == GgmlType.Q8_0 ? Q8Blocks.BlockLength : ElementSize(type) == 0 ? 0 : 1;

    /// <summary>Bytes per block (per element for a plain type), or 0 for types this runtime does not read.</summary>
    public static int BlockBytes(GgmlType type) => type == GgmlType.Q8_0 ? Q8Blocks.BlockBytes : ElementSize(type);

    /// <summary>The ggml type that stores <paramref name="type"/>.</summary>
    public static GgmlType From(TensorDType type) => type switch
    {
        TensorDType.F32 => GgmlType.F32,
        TensorDType.F16 => GgmlType.F16,
        TensorDType.BF16 => GgmlType.BF16,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>The runtime element type for <paramref name="type"/>, or false for ggml types model code has no use for.</summary>
    public static bool TryGetTensorDType(GgmlType type, out TensorDType dtype)
    {
        switch (type)
        {
            case GgmlType.F32:
                dtype = TensorDType.F32;
                return true;
            case GgmlType.F16:
                dtype = TensorDType.F16;
                return true;
            case GgmlType.BF16:
                dtype = TensorDType.BF16;
                return true;
            case GgmlType.Q8_0:
                dtype = TensorDType.Q8_0;
                return true;
            default:
                dtype = default;
                return false;
        }
    }

    /// <summary>Name for messages: <c>F32</c>, <c>I8</c>, …, or <c>ggml type 12</c> for ids this runtime does not read.</summary>
    public static string Name(GgmlType type) => type switch
    {
        GgmlType.F32 => "F32",
        GgmlType.F16 => "F16",
        GgmlType.Q8_0 => "Q8_0",
        GgmlType.I8 => "I8",
        GgmlType.I16 => "I16",
        GgmlType.I32 => "I32",
        GgmlType.I64 => "I64",
        GgmlType.F64 => "F64",
        GgmlType.BF16 => "BF16",
        _ => $"ggml type {(uint)type}",
    };
}
