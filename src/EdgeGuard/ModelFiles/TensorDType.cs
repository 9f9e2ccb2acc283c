namespace EdgeGuard.ModelFiles;

/// <summary>Element types a model file can store.</summary>
public enum TensorDType
{
    F32,
    F16,
    BF16,
}

/// <summary>Sizes and names of <see cref="TensorDType"/> values.</summary>
public static class TensorDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(TensorDType type) => type switch
    {
        TensorDType.F32 => 4,
        TensorDType.F16 => 2,
        TensorDType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };
}
