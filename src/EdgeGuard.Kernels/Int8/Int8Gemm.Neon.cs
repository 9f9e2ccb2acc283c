using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// arm64 without dot product (Cortex-A72): a panel step is four 16-byte vectors (4 channels × 4 bytes). Each row's four
/// activations are broadcast to every lane; <c>smull</c>/<c>smull2</c> multiply them by a step's low/high channel
/// pairs into int16, <c>smlal</c>/<c>smlal2</c> add the next step's products to the same lanes (two products
/// ≤ 2·127² = 32 258, no overflow), <c>sadalp</c> adds lane pairs into int32. Each channel ends in two int32 lanes,
/// which <c>addp</c> joins. Two rows at a time: sixteen accumulators.
/// </summary>
internal readonly unsafe struct AdvSimdTile : IInt8Tile
{
    public static void Tile(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* panel, int k, int* dots)
    {
        TwoRows(x0, x1, panel, k, dots, dots + PackedInt8Matrix.PanelWidth);
        TwoRows(x2, x3, panel, k, dots + (2 * PackedInt8Matrix.PanelWidth), dots + (3 * PackedInt8Matrix.PanelWidth));
    }

    private static void TwoRows(sbyte* xa, sbyte* xb, sbyte* panel, int k, int* da, int* db)
    {
        // a/b: row; 0..3: the step's 16-byte vector (channels 4j..4j+3); l/h: its low/high channel pair
        Vector128<int> a0l = default, a0h = default, a1l = default, a1h = default, a2l = default, a2h = default, a3l = default, a3h = default;
        Vector128<int> b0l = default, b0h = default, b1l = default, b1h = default, b2l = default, b2h = default, b3l = default, b3h = default;
        const int depth = PackedInt8Matrix.StepDepth, stepBytes = PackedInt8Matrix.PanelWidth * depth;
        for (int i = 0; i < k; i += 2 * depth)
        {
            sbyte* s = panel + (i * PackedInt8Matrix.PanelWidth);
            Vector128<sbyte> ua = Broadcast(xa + i), va = Broadcast(xa + i + depth);
            Vector128<sbyte> ub = Broadcast(xb + i), vb = Broadcast(xb + i + depth);
            Vector128<sbyte> w = AdvSimd.LoadVector128(s), z = AdvSimd.LoadVector128(s + stepBytes);
            Accumulate(ua, va, w, z, ref a0l, ref a0h);
            Accumulate(ub, vb, w, z, ref b0l, ref b0h);
            w = AdvSimd.LoadVector128(s + 16);
            z = AdvSimd.LoadVector128(s + stepBytes + 16);
            Accumulate(ua, va, w, z, ref a1l, ref a1h);
            Accumulate(ub, vb, w, z, ref b1l, ref b1h);
            w = AdvSimd.LoadVector128(s + 32);
            z = AdvSimd.LoadVector128(s + stepBytes + 32);
            Accumulate(ua, va, w, z, ref a2l, ref a2h);
            Accumulate(ub, vb, w, z, ref b2l, ref b2h);
            w = AdvSimd.LoadVector128(s + 48);
            z = AdvSimd.LoadVector128(s + stepBytes + 48);
            Accumulate(ua, va, w, z, ref a3l, ref a3h);
            Accumulate(ub, vb, w, z, ref b3l, ref b3h);
        }

        // [c(lo) k01, c(lo) k23, c(lo+1) k01, c(lo+1) k23] pairs → one lane per channel
        AdvSimd.Arm64.AddPairwise(a0l, a0h).Store(da);
        AdvSimd.Arm64.AddPairwise(a1l, a1h).Store(da + 4);
        AdvSimd.Arm64.AddPairwise(a2l, a2h).Store(da + 8);
        AdvSimd.Arm64.AddPairwise(a3l, a3h).Store(da + 12);
        AdvSimd.Arm64.AddPairwise(b0l, b0h).Store(db);
        AdvSimd.Arm64.AddPairwise(b1l, b1h).Store(db + 4);
        AdvSimd.Arm64.AddPairwise(b2l, b2h).Store(db + 8);
        AdvSimd.Arm64.AddPairwise(b3l, b3h).Store(db + 12);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<sbyte> Broadcast(sbyte* x) => Vector128.Create(Unsafe.ReadUnaligned<int>(x)).AsSByte();

    /// <summary>Two steps' products of one row with one 16-byte vector of each step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(Vector128<sbyte> u, Vector128<sbyte> v, Vector128<sbyte> w, Vector128<sbyte> z, ref Vector128<int> low, ref Vector128<int> high)
    {
        Vector128<short> pl = AdvSimd.MultiplyWideningLowerAndAdd(AdvSimd.MultiplyWideningLower(u.GetLower(), w.GetLower()), v.GetLower(), z.GetLower());
        Vector128<short> ph = AdvSimd.MultiplyWideningUpperAndAdd(AdvSimd.MultiplyWideningUpper(u, w), v, z);
        low = AdvSimd.AddPairwiseWideningAndAdd(low, pl);
        high = AdvSimd.AddPairwiseWideningAndAdd(high, ph);
    }
}

/// <summary>
/// One row × one 16-channel panel (<see cref="IInt8Row"/>) in <see cref="AdvSimdTile"/>'s scheme, four steps per iteration
/// (the padded k holds a multiple of 16): each channel pair of each of a step's four 16-byte vectors in its own
/// accumulator (eight). The four broadcast activations are the same in both halves of a vector, so the high channel
/// pair takes <c>smull</c> on 64-bit halves loaded as such rather than <c>smull2</c>: no half of a 128-bit register is
/// copied out for the low pair (the JIT moves <c>GetLower()</c> into a register of its own).
/// </summary>
internal readonly unsafe struct AdvSimdRow : IInt8Row
{
    public static void Row(sbyte* x, sbyte* panel, int k, int* dots)
    {
        Vector128<int> l0 = default, h0 = default, l1 = default, h1 = default, l2 = default, h2 = default, l3 = default, h3 = default;
        const int depth = PackedInt8Matrix.StepDepth, stepBytes = PackedInt8Matrix.PanelWidth * depth;
        for (sbyte* end = x + k; x < end; x += 4 * depth, panel += 4 * stepBytes)
        {
            TwoSteps(x, panel, ref l0, ref h0, ref l1, ref h1, ref l2, ref h2, ref l3, ref h3);
            TwoSteps(x + (2 * depth), panel + (2 * stepBytes), ref l0, ref h0, ref l1, ref h1, ref l2, ref h2, ref l3, ref h3);
        }

        // [c(lo) k01, c(lo) k23, c(lo+1) k01, c(lo+1) k23] pairs → one lane per channel
        AdvSimd.Arm64.AddPairwise(l0, h0).Store(dots);
        AdvSimd.Arm64.AddPairwise(l1, h1).Store(dots + 4);
        AdvSimd.Arm64.AddPairwise(l2, h2).Store(dots + 8);
        AdvSimd.Arm64.AddPairwise(l3, h3).Store(dots + 12);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TwoSteps(
        sbyte* x,
        sbyte* s,
        ref Vector128<int> l0,
        ref Vector128<int> h0,
        ref Vector128<int> l1,
        ref Vector128<int> h1,
        ref Vector128<int> l2,
        ref Vector128<int> h2,
        ref Vector128<int> l3,
        ref Vector128<int> h3)
    {
        // every load at a constant offset from s (a pointer per vector made the JIT add it to s first)
        const int z = PackedInt8Matrix.PanelWidth * PackedInt8Matrix.StepDepth;
        Vector64<sbyte> u = Vector64.Create(Unsafe.ReadUnaligned<int>(x)).AsSByte();
        Vector64<sbyte> v = Vector64.Create(Unsafe.ReadUnaligned<int>(x + PackedInt8Matrix.StepDepth)).AsSByte();
        Accumulate(u, Load(s), Load(s + 8), v, Load(s + z), Load(s + z + 8), ref l0, ref h0);
        Accumulate(u, Load(s + 16), Load(s + 24), v, Load(s + z + 16), Load(s + z + 24), ref l1, ref h1);
        Accumulate(u, Load(s + 32), Load(s + 40), v, Load(s + z + 32), Load(s + z + 40), ref l2, ref h2);
        Accumulate(u, Load(s + 48), Load(s + 56), v, Load(s + z + 48), Load(s + z + 56), ref l3, ref h3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector64<sbyte> Load(sbyte* p) => AdvSimd.LoadVector64(p);

    /// <summary>
    /// Two steps' products of the row (<paramref name="u"/>, <paramref name="v"/>) with one 16-byte vector of each step,
    /// as its low and high channel pairs (<paramref name="wl"/>, <paramref name="wh"/> and <paramref name="zl"/>, <paramref name="zh"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(
        Vector64<sbyte> u, Vector64<sbyte> wl, Vector64<sbyte> wh, Vector64<sbyte> v, Vector64<sbyte> zl, Vector64<sbyte> zh, ref Vector128<int> low, ref Vector128<int> high)
    {
        low = AdvSimd.AddPairwiseWideningAndAdd(low, AdvSimd.MultiplyWideningLowerAndAdd(AdvSimd.MultiplyWideningLower(u, wl), v, zl));
        high = AdvSimd.AddPairwiseWideningAndAdd(high, AdvSimd.MultiplyWideningLowerAndAdd(AdvSimd.MultiplyWideningLower(u, wh), v, zh));
    }
}
