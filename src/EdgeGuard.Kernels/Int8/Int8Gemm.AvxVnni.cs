using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// AVX-VNNI: <c>vpdpbusd</c> adds four u8×s8 products straight into each int32 lane (no intermediate int16, so no
/// saturation). The activations are signed, so they are stored as x + 128 (<see cref="QuantizedRows.Offset"/>) and
/// the driver subtracts 128·Σw, the per-channel sum the packed weights carry: Σ(x + 128)·w − 128·Σw = Σx·w.
/// </summary>
internal readonly struct AvxVnniStep : IU8S8Step
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> MultiplyAdd(
        Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> w, Vector256<byte> t, Vector256<sbyte> v, Vector256<short> ones) =>
        AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(acc, u, w), t, v);
}
