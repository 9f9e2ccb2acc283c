namespace EdgeGuard.Kernels.Float32;

/// <summary>Implementations of the float32 matrix products; <see cref="Gemm"/> picks one at start-up.</summary>
internal enum GemmVariant
{
    /// <summary>Plain loops: the reference every other variant is tested against.</summary>
    Scalar,
    Vector128,
    Vector256,
    Vector512,
}
