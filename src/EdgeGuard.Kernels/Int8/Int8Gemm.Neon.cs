using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// arm64 without dot product (Cortex-A72): <c>smull</c> + <c>smlal2</c> put two s8×s8 products in each int16 lane
/// (|sum| ≤ 2·127·127 = 32 258, no overflow), <c>sadalp</c> adds lane pairs into int32.
/// </summary>
internal readonly unsafe struct AdvSimdDot : IInt8Dot
{
    public static void Dot4x2(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* w0, sbyte* w1, int k, int sum0, int sum1, int* result)
    {
        Vector128<int> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector128<int> c20 = default, c21 = default, c30 = default, c31 = default;
        for (int i = 0; i < k; i += 16)
        {
            Vector128<sbyte> v0 = AdvSimd.LoadVector128(w0 + i);
            Vector128<sbyte> v1 = AdvSimd.LoadVector128(w1 + i);
            Step(AdvSimd.LoadVector128(x0 + i), v0, v1, ref c00, ref c01);
            Step(AdvSimd.LoadVector128(x1 + i), v0, v1, ref c10, ref c11);
            Step(AdvSimd.LoadVector128(x2 + i), v0, v1, ref c20, ref c21);
            Step(AdvSimd.LoadVector128(x3 + i), v0, v1, ref c30, ref c31);
        }

        // horizontal sums
        result[0] = Vector128.Sum(c00);
        result[1] = Vector128.Sum(c01);
        result[2] = Vector128.Sum(c10);
        result[3] = Vector128.Sum(c11);
        result[4] = Vector128.Sum(c20);
        result[5] = Vector128.Sum(c21);
        result[6] = Vector128.Sum(c30);
        result[7] = Vector128.Sum(c31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(Vector128<sbyte> x, Vector128<sbyte> v0, Vector128<sbyte> v1, ref Vector128<int> c0, ref Vector128<int> c1)
    {
        // widen: low halves multiplied, high halves multiplied and added (two products per int16 lane)
        Vector128<short> p0 = AdvSimd.MultiplyWideningUpperAndAdd(AdvSimd.MultiplyWideningLower(x.GetLower(), v0.GetLower()), x, v0);
        Vector128<short> p1 = AdvSimd.MultiplyWideningUpperAndAdd(AdvSimd.MultiplyWideningLower(x.GetLower(), v1.GetLower()), x, v1);

        // pairwise widen into int32, accumulate
        c0 = AdvSimd.AddPairwiseWideningAndAdd(c0, p0);
        c1 = AdvSimd.AddPairwiseWideningAndAdd(c1, p1);
    }
}
