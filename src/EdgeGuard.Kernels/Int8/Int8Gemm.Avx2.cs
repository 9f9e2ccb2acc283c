using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// AVX2: <c>vpmaddubsw</c> multiplies u8 by s8 and adds pairs into int16 with saturation. Activations quantised to
/// [-63, 63] are stored as x + 64 ∈ [1, 127] (<see cref="QuantizedRows.Offset"/>), so a pair sums to at most
/// 2·127·127 = 32 258 &lt; 32 767 and cannot saturate; <c>vpmaddwd</c> by ones widens each step's pairs to int32, and
/// the driver removes the offset with 64·Σw (the per-channel sum the packed weights carry): Σ(x + 64)·w − 64·Σw = Σx·w.
/// </summary>
internal readonly struct Avx2Step : IU8S8Step
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> MultiplyAdd(
        Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> w, Vector256<byte> t, Vector256<sbyte> v, Vector256<short> ones) =>
        Avx2.Add(
            Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, w), ones)),
            Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(t, v), ones));
}

/// <summary>
/// AVX2 on 7-bit weights (<see cref="PackedInt8Matrix.SevenBitWeightLimit"/>): with |w| ≤ 63 and x + 64 ≤ 127 the two
/// steps' pair sums added in int16 reach at most 4·127·63 = 32 004 &lt; 32 767, so one <c>vpmaddwd</c> widens both:
/// three multiply-pipe instructions per 64 products instead of four.
/// </summary>
internal readonly struct Avx2SevenBitStep : IU8S8Step
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> MultiplyAdd(
        Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> w, Vector256<byte> t, Vector256<sbyte> v, Vector256<short> ones) =>
        Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.Add(Avx2.MultiplyAddAdjacent(u, w), Avx2.MultiplyAddAdjacent(t, v)), ones));
}
