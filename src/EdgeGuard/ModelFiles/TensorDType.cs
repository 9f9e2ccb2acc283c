namespace EdgeGuard.ModelFiles;

/// <summary>Element types a model file can store.</summary>
public enum TensorDType
{
    F32,
    F16,
    BF16,

    /// <summary>ggml's Q8_0 blocks (32 values: a float16 scale and 32 signed bytes), read as float32 by dequantising; int8 bundles' word tables.</summary>
    Q8_0,
}

/// <summary>Sizes and names of <see cref="TensorDType"/> values.</summary>
public static class TensorDTypes
{
    /// <summary>Bytes per element of a plain type (not <see cref="TensorDType.Q8_0"/>, whose elements share block scales).</summary>
    public static int SizeOf(TensorDType type) => type switch
    {
        TensorDType.F32 => 4,
        TensorDType.F16 => 2,
        TensorDType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>Bytes that hold <paramref name="elements"/> elements of <paramref name="type"/> (whole blocks for <see cref="TensorDType.Q8_0"/>).</summary>
    public static long ByteLength(TensorDType type, long elements) =>
        type == TensorDType.Q8_0 ? Kernels.Int8.Q8Blocks.ByteCount(elements) : elements * SizeOf(type);
}
