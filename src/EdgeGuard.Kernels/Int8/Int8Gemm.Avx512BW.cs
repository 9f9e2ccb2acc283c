using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// AVX-512BW: the <see cref="Avx2Dot"/> scheme (|x| as u8 × sign(x)·w as s8, which cannot saturate) on 64-byte
/// vectors. AVX-512 has no <c>vpsignb</c>; sign(x)·w is a blend of w and −w selected by the sign bit of each byte of x (<c>vpmovb2m</c> + <c>vpblendmb</c>) (x = 0 meets
/// |x| = 0, so which of the two it picks does not matter).
/// </summary>
internal readonly unsafe struct Avx512BWDot : IInt8Dot
{
    public static void Dot4x2(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* w0, sbyte* w1, int k, int sum0, int sum1, int* result)
    {
        Vector512<int> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<int> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<short> ones = Vector512.Create((short)1);
        for (int i = 0; i < k; i += 64)
        {
            Vector512<sbyte> v0 = Vector512.Load(w0 + i);
            Vector512<sbyte> v1 = Vector512.Load(w1 + i);
            Vector512<sbyte> n0 = Vector512<sbyte>.Zero - v0;
            Vector512<sbyte> n1 = Vector512<sbyte>.Zero - v1;
            Step(Vector512.Load(x0 + i), v0, v1, n0, n1, ones, ref c00, ref c01);
            Step(Vector512.Load(x1 + i), v0, v1, n0, n1, ones, ref c10, ref c11);
            Step(Vector512.Load(x2 + i), v0, v1, n0, n1, ones, ref c20, ref c21);
            Step(Vector512.Load(x3 + i), v0, v1, n0, n1, ones, ref c30, ref c31);
        }

        // horizontal sums
        result[0] = Vector512.Sum(c00);
        result[1] = Vector512.Sum(c01);
        result[2] = Vector512.Sum(c10);
        result[3] = Vector512.Sum(c11);
        result[4] = Vector512.Sum(c20);
        result[5] = Vector512.Sum(c21);
        result[6] = Vector512.Sum(c30);
        result[7] = Vector512.Sum(c31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(
        Vector512<sbyte> x, Vector512<sbyte> v0, Vector512<sbyte> v1, Vector512<sbyte> n0, Vector512<sbyte> n1, Vector512<short> ones, ref Vector512<int> c0, ref Vector512<int> c1)
    {
        // |x| as u8, sign moved onto w
        Vector512<byte> ax = Avx512BW.Abs(x);
        Vector512<short> p0 = Avx512BW.MultiplyAddAdjacent(ax, Avx512BW.BlendVariable(v0, n0, x));
        Vector512<short> p1 = Avx512BW.MultiplyAddAdjacent(ax, Avx512BW.BlendVariable(v1, n1, x));

        // widen pairs to int32, accumulate
        c0 = Avx512F.Add(c0, Avx512BW.MultiplyAddAdjacent(p0, ones));
        c1 = Avx512F.Add(c1, Avx512BW.MultiplyAddAdjacent(p1, ones));
    }
}
