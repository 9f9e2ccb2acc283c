namespace EdgeGuard.Kernels.Int8;

/// <summary>Implementations of the int8 product; <see cref="Int8Gemm"/> picks one at start-up.</summary>
public enum Int8GemmVariant
{
    /// <summary>Plain loops: the reference every other variant is tested against.</summary>
    Scalar,

    /// <summary>x86-64-v3: <c>vpmaddubsw</c> on |x| and sign(x)·w (cannot saturate), <c>vpmaddwd</c> to int32.</summary>
    Avx2,

    /// <summary>x86-64-v4: the AVX2 scheme on 512-bit vectors (AVX-512BW has no <c>vpsignb</c>: a masked negate instead).</summary>
    Avx512BW,

    /// <summary>AVX-VNNI <c>vpdpbusd</c>: (x + 128) as u8 × w as s8 into int32, minus 128·Σw per channel.</summary>
    AvxVnni,

    /// <summary>arm64 without dot product (Cortex-A72): <c>smull</c>/<c>smlal2</c> to int16 pairs, <c>sadalp</c> to int32.</summary>
    AdvSimd,

    /// <summary>arm64 with dot product (Cortex-A76, A78AE): <c>sdot</c>.</summary>
    AdvSimdDp,

    /// <summary>
    /// x86-64-v4: AVX2's offset scheme on 512-bit vectors — activations in [-63, 63] stored as x + 64, no |x| or sign
    /// blend per step, and on 7-bit weights one <c>vpmaddwd</c> for two <c>vpmaddubsw</c>.
    /// </summary>
    Avx512BWOffset,
}
