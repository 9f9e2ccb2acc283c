using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace EdgeGuard.Kernels.Int8;

/// <summary>arm64 with the dot-product extension: <c>sdot</c> adds four s8×s8 products into each int32 lane.</summary>
internal readonly unsafe struct AdvSimdDpDot : IInt8Dot
{
    public static void Dot4x2(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* w0, sbyte* w1, int k, int sum0, int sum1, int* result)
    {
        Vector128<int> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector128<int> c20 = default, c21 = default, c30 = default, c31 = default;
        for (int i = 0; i < k; i += 16)
        {
            Vector128<sbyte> v0 = AdvSimd.LoadVector128(w0 + i);
            Vector128<sbyte> v1 = AdvSimd.LoadVector128(w1 + i);
            Vector128<sbyte> u = AdvSimd.LoadVector128(x0 + i);
            c00 = Dp.DotProduct(c00, u, v0);
            c01 = Dp.DotProduct(c01, u, v1);
            u = AdvSimd.LoadVector128(x1 + i);
            c10 = Dp.DotProduct(c10, u, v0);
            c11 = Dp.DotProduct(c11, u, v1);
            u = AdvSimd.LoadVector128(x2 + i);
            c20 = Dp.DotProduct(c20, u, v0);
            c21 = Dp.DotProduct(c21, u, v1);
            u = AdvSimd.LoadVector128(x3 + i);
            c30 = Dp.DotProduct(c30, u, v0);
            c31 = Dp.DotProduct(c31, u, v1);
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
}
