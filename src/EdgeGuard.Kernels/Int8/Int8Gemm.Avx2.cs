using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// AVX2: <c>vpmaddubsw</c> multiplies u8 by s8 and adds pairs into int16 with saturation. Fed |x| (≤ 127) and
/// sign(x)·w (|·| ≤ 127), a pair sums to at most 2·127·127 = 32 258 &lt; 32 767: it cannot saturate, and x·w is
/// unchanged because |x|·sign(x)·w = x·w. <c>vpmaddwd</c> by ones then widens pairs to int32.
/// </summary>
internal readonly unsafe struct Avx2Dot : IInt8Dot
{
    public static void Dot4x2(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* w0, sbyte* w1, int k, int sum0, int sum1, int* result)
    {
        Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<int> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<short> ones = Vector256.Create((short)1);
        for (int i = 0; i < k; i += 32)
        {
            Vector256<sbyte> v0 = Avx.LoadVector256(w0 + i);
            Vector256<sbyte> v1 = Avx.LoadVector256(w1 + i);
            Step(Avx.LoadVector256(x0 + i), v0, v1, ones, ref c00, ref c01);
            Step(Avx.LoadVector256(x1 + i), v0, v1, ones, ref c10, ref c11);
            Step(Avx.LoadVector256(x2 + i), v0, v1, ones, ref c20, ref c21);
            Step(Avx.LoadVector256(x3 + i), v0, v1, ones, ref c30, ref c31);
        }

        // horizontal sums
        result[0] = Vector256.Sum(c00);
        result[1] = Vector256.Sum(c01);
        result[2] = Vector256.Sum(c10);
        result[3] = Vector256.Sum(c11);
        result[4] = Vector256.Sum(c20);
        result[5] = Vector256.Sum(c21);
        result[6] = Vector256.Sum(c30);
        result[7] = Vector256.Sum(c31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(Vector256<sbyte> x, Vector256<sbyte> v0, Vector256<sbyte> v1, Vector256<short> ones, ref Vector256<int> c0, ref Vector256<int> c1)
    {
        // |x| as u8, sign moved onto w
        Vector256<byte> ax = Avx2.Abs(x);
        Vector256<short> p0 = Avx2.MultiplyAddAdjacent(ax, Avx2.Sign(v0, x));
        Vector256<short> p1 = Avx2.MultiplyAddAdjacent(ax, Avx2.Sign(v1, x));

        // widen pairs to int32, accumulate
        c0 = Avx2.Add(c0, Avx2.MultiplyAddAdjacent(p0, ones));
        c1 = Avx2.Add(c1, Avx2.MultiplyAddAdjacent(p1, ones));
    }
}
