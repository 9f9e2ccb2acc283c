using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// arm64 with the dot-product extension: <c>sdot</c> adds four s8×s8 products into each int32 lane. A panel step is
/// four 16-byte vectors (4 channels × 4 bytes each); each row's four activations are broadcast to every lane
/// (<c>ld1r</c>); sixteen accumulators hold the tile as it will be stored.
/// </summary>
internal readonly unsafe struct AdvSimdDpTile : IInt8Tile
{
    public static void Tile(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* panel, int k, int* dots)
    {
        Vector128<int> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector128<int> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector128<int> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector128<int> c30 = default, c31 = default, c32 = default, c33 = default;
        for (int i = 0; i < k; i += PackedInt8Matrix.StepDepth)
        {
            sbyte* step = panel + (i * PackedInt8Matrix.PanelWidth);
            Vector128<sbyte> w0 = AdvSimd.LoadVector128(step);
            Vector128<sbyte> w1 = AdvSimd.LoadVector128(step + 16);
            Vector128<sbyte> w2 = AdvSimd.LoadVector128(step + 32);
            Vector128<sbyte> w3 = AdvSimd.LoadVector128(step + 48);
            Row(Broadcast(x0 + i), w0, w1, w2, w3, ref c00, ref c01, ref c02, ref c03);
            Row(Broadcast(x1 + i), w0, w1, w2, w3, ref c10, ref c11, ref c12, ref c13);
            Row(Broadcast(x2 + i), w0, w1, w2, w3, ref c20, ref c21, ref c22, ref c23);
            Row(Broadcast(x3 + i), w0, w1, w2, w3, ref c30, ref c31, ref c32, ref c33);
        }

        c00.Store(dots);
        c01.Store(dots + 4);
        c02.Store(dots + 8);
        c03.Store(dots + 12);
        c10.Store(dots + 16);
        c11.Store(dots + 20);
        c12.Store(dots + 24);
        c13.Store(dots + 28);
        c20.Store(dots + 32);
        c21.Store(dots + 36);
        c22.Store(dots + 40);
        c23.Store(dots + 44);
        c30.Store(dots + 48);
        c31.Store(dots + 52);
        c32.Store(dots + 56);
        c33.Store(dots + 60);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<sbyte> Broadcast(sbyte* x) => Vector128.Create(Unsafe.ReadUnaligned<int>(x)).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row(
        Vector128<sbyte> x, Vector128<sbyte> w0, Vector128<sbyte> w1, Vector128<sbyte> w2, Vector128<sbyte> w3,
        ref Vector128<int> c0, ref Vector128<int> c1, ref Vector128<int> c2, ref Vector128<int> c3)
    {
        c0 = Dp.DotProduct(c0, x, w0);
        c1 = Dp.DotProduct(c1, x, w1);
        c2 = Dp.DotProduct(c2, x, w2);
        c3 = Dp.DotProduct(c3, x, w3);
    }
}

/// <summary>
/// One row × one 16-channel panel (<see cref="IInt8Row"/>): per step the panel's four 16-byte vectors against the row's
/// four activations broadcast (<c>ld1r</c>); four steps per iteration (the padded k holds a multiple of 16), even and odd
/// steps into their own four accumulators each, so each <c>sdot</c> chain has a step's worth of others between its links.
/// </summary>
internal readonly unsafe struct AdvSimdDpRow : IInt8Row
{
    public static void Row(sbyte* x, sbyte* panel, int k, int* dots)
    {
        Vector128<int> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector128<int> b0 = default, b1 = default, b2 = default, b3 = default;
        const int depth = PackedInt8Matrix.StepDepth, stepBytes = PackedInt8Matrix.PanelWidth * depth;
        for (sbyte* end = x + k; x < end; x += 4 * depth, panel += 4 * stepBytes)
        {
            TwoSteps(x, panel, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3);
            TwoSteps(x + (2 * depth), panel + (2 * stepBytes), ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3);
        }

        (a0 + b0).Store(dots);
        (a1 + b1).Store(dots + 4);
        (a2 + b2).Store(dots + 8);
        (a3 + b3).Store(dots + 12);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TwoSteps(
        sbyte* x,
        sbyte* s,
        ref Vector128<int> a0,
        ref Vector128<int> a1,
        ref Vector128<int> a2,
        ref Vector128<int> a3,
        ref Vector128<int> b0,
        ref Vector128<int> b1,
        ref Vector128<int> b2,
        ref Vector128<int> b3)
    {
        const int depth = PackedInt8Matrix.StepDepth, stepBytes = PackedInt8Matrix.PanelWidth * depth;
        Vector128<sbyte> u = AdvSimdDpTile.Broadcast(x), v = AdvSimdDpTile.Broadcast(x + depth);
        a0 = Dp.DotProduct(a0, u, AdvSimd.LoadVector128(s));
        a1 = Dp.DotProduct(a1, u, AdvSimd.LoadVector128(s + 16));
        a2 = Dp.DotProduct(a2, u, AdvSimd.LoadVector128(s + 32));
        a3 = Dp.DotProduct(a3, u, AdvSimd.LoadVector128(s + 48));
        b0 = Dp.DotProduct(b0, v, AdvSimd.LoadVector128(s + stepBytes));
        b1 = Dp.DotProduct(b1, v, AdvSimd.LoadVector128(s + stepBytes + 16));
        b2 = Dp.DotProduct(b2, v, AdvSimd.LoadVector128(s + stepBytes + 32));
        b3 = Dp.DotProduct(b3, v, AdvSimd.LoadVector128(s + stepBytes + 48));
    }
}
