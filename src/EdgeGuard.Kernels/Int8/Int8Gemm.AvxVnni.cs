using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// AVX-VNNI: <c>vpdpbusd</c> adds four u8×s8 products straight into each int32 lane (no intermediate int16, so no
/// saturation). The activations are signed, so they go in as x + 128 (flip the top bit) and the kernel subtracts
/// 128·Σw, the per-channel sum the packed weights carry: Σ(x + 128)·w − 128·Σw = Σx·w.
/// </summary>
internal readonly unsafe struct AvxVnniDot : IInt8Dot
{
    public static void Dot4x2(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* w0, sbyte* w1, int k, int sum0, int sum1, int* result)
    {
        Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<int> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<byte> offset = Vector256.Create((byte)0x80);
        for (int i = 0; i < k; i += 32)
        {
            Vector256<sbyte> v0 = Avx.LoadVector256(w0 + i);
            Vector256<sbyte> v1 = Avx.LoadVector256(w1 + i);

            // x + 128 as u8, then dot
            Vector256<byte> u = Avx2.Xor(Avx.LoadVector256((byte*)x0 + i), offset);
            c00 = AvxVnni.MultiplyWideningAndAdd(c00, u, v0);
            c01 = AvxVnni.MultiplyWideningAndAdd(c01, u, v1);
            u = Avx2.Xor(Avx.LoadVector256((byte*)x1 + i), offset);
            c10 = AvxVnni.MultiplyWideningAndAdd(c10, u, v0);
            c11 = AvxVnni.MultiplyWideningAndAdd(c11, u, v1);
            u = Avx2.Xor(Avx.LoadVector256((byte*)x2 + i), offset);
            c20 = AvxVnni.MultiplyWideningAndAdd(c20, u, v0);
            c21 = AvxVnni.MultiplyWideningAndAdd(c21, u, v1);
            u = Avx2.Xor(Avx.LoadVector256((byte*)x3 + i), offset);
            c30 = AvxVnni.MultiplyWideningAndAdd(c30, u, v0);
            c31 = AvxVnni.MultiplyWideningAndAdd(c31, u, v1);
        }

        Int8Gemm.StoreOffsetTileSums(128, sum0, sum1, c00, c01, c10, c11, c20, c21, c30, c31, result);
    }
}
