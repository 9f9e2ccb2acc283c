using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// AVX2: <c>vpmaddubsw</c> multiplies u8 by s8 and adds pairs into int16 with saturation. Activations quantised to
/// [-63, 63] go in as x + 64 ∈ [1, 127], so a pair sums to at most 2·127·127 = 32 258 &lt; 32 767 and cannot saturate;
/// <c>vpmaddwd</c> by ones widens pairs to int32, and 64·Σw (the per-channel sum the packed weights carry) removes the
/// offset: Σ(x + 64)·w − 64·Σw = Σx·w. Three multiply-adds per vector pair, where the sign trick needs five operations.
/// </summary>
internal readonly unsafe struct Avx2Dot : IInt8Dot
{
    public static void Dot4x2(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* w0, sbyte* w1, int k, int sum0, int sum1, int* result)
    {
        Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<int> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<short> ones = Vector256.Create((short)1);
        Vector256<byte> offset = Vector256.Create((byte)64);
        for (int i = 0; i < k; i += 32)
        {
            Vector256<sbyte> v0 = Avx.LoadVector256(w0 + i);
            Vector256<sbyte> v1 = Avx.LoadVector256(w1 + i);

            Vector256<byte> u = Avx2.Add(Avx.LoadVector256((byte*)x0 + i), offset);
            c00 = Avx2.Add(c00, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, v0), ones));
            c01 = Avx2.Add(c01, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, v1), ones));
            u = Avx2.Add(Avx.LoadVector256((byte*)x1 + i), offset);
            c10 = Avx2.Add(c10, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, v0), ones));
            c11 = Avx2.Add(c11, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, v1), ones));
            u = Avx2.Add(Avx.LoadVector256((byte*)x2 + i), offset);
            c20 = Avx2.Add(c20, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, v0), ones));
            c21 = Avx2.Add(c21, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, v1), ones));
            u = Avx2.Add(Avx.LoadVector256((byte*)x3 + i), offset);
            c30 = Avx2.Add(c30, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, v0), ones));
            c31 = Avx2.Add(c31, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, v1), ones));
        }

        Int8Gemm.StoreOffsetTileSums(64, sum0, sum1, c00, c01, c10, c11, c20, c21, c30, c31, result);
    }
}
