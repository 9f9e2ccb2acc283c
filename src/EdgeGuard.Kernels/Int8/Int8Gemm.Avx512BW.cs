using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// AVX-512BW: a panel step (16 channels × 4 bytes) is one 64-byte vector. <c>vpmaddubsw</c> takes |x| as u8 and
/// sign(x)·w as s8, which cannot saturate (both ≤ 127, so a pair ≤ 2·127² = 32 258); AVX-512 has no <c>vpsignb</c>,
/// so sign(x)·w is a blend of w and −w selected by the sign bit of each byte of x (<c>vpmovb2m</c> + <c>vpblendmb</c>;
/// x = 0 meets |x| = 0, so which of the two it picks does not matter). <c>vpmaddwd</c> by ones widens pairs to int32.
/// Two steps per iteration, each into its own accumulators, so consecutive steps do not wait on one another.
/// </summary>
internal readonly unsafe struct Avx512BWTile : IInt8Tile
{
    public static void Tile(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* panel, int k, int* dots)
    {
        Vector512<int> e0 = default, e1 = default, e2 = default, e3 = default;
        Vector512<int> o0 = default, o1 = default, o2 = default, o3 = default;
        Vector512<short> ones = Vector512.Create((short)1);
        const int depth = PackedInt8Matrix.StepDepth;
        for (int i = 0; i < k; i += 2 * depth)
        {
            sbyte* step = panel + (i * PackedInt8Matrix.PanelWidth);
            Vector512<sbyte> w = Vector512.Load(step);
            Vector512<sbyte> n = Vector512<sbyte>.Zero - w;
            e0 = Step(e0, x0 + i, w, n, ones);
            e1 = Step(e1, x1 + i, w, n, ones);
            e2 = Step(e2, x2 + i, w, n, ones);
            e3 = Step(e3, x3 + i, w, n, ones);
            w = Vector512.Load(step + 64);
            n = Vector512<sbyte>.Zero - w;
            o0 = Step(o0, x0 + i + depth, w, n, ones);
            o1 = Step(o1, x1 + i + depth, w, n, ones);
            o2 = Step(o2, x2 + i + depth, w, n, ones);
            o3 = Step(o3, x3 + i + depth, w, n, ones);
        }

        (e0 + o0).Store(dots);
        (e1 + o1).Store(dots + 16);
        (e2 + o2).Store(dots + 32);
        (e3 + o3).Store(dots + 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<int> Step(Vector512<int> acc, sbyte* x, Vector512<sbyte> w, Vector512<sbyte> negated, Vector512<short> ones)
    {
        // four activations to every lane; |x| as u8, sign moved onto w
        Vector512<sbyte> v = Vector512.Create(Unsafe.ReadUnaligned<int>(x)).AsSByte();
        Vector512<short> pairs = Avx512BW.MultiplyAddAdjacent(Avx512BW.Abs(v), Avx512BW.BlendVariable(w, negated, v));
        return Avx512F.Add(acc, Avx512BW.MultiplyAddAdjacent(pairs, ones));
    }
}

/// <summary>
/// One row × one 16-channel panel (<see cref="IInt8Row"/>) in <see cref="Avx512BWTile"/>'s scheme: per step the panel's
/// 64 bytes, their negation, and the row's four activations broadcast; four steps per iteration (the padded k holds a
/// multiple of 16), each into its own accumulator.
/// </summary>
internal readonly unsafe struct Avx512BWRow : IInt8Row
{
    public static void Row(sbyte* x, sbyte* panel, int k, int* dots)
    {
        const int depth = PackedInt8Matrix.StepDepth, stepBytes = PackedInt8Matrix.PanelWidth * depth;
        Vector512<int> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<short> ones = Vector512.Create((short)1);
        for (sbyte* end = x + k; x < end; x += 4 * depth, panel += 4 * stepBytes)
        {
            Vector512<sbyte> w = Vector512.Load(panel);
            c0 = Avx512BWTile.Step(c0, x, w, Vector512<sbyte>.Zero - w, ones);
            w = Vector512.Load(panel + stepBytes);
            c1 = Avx512BWTile.Step(c1, x + depth, w, Vector512<sbyte>.Zero - w, ones);
            w = Vector512.Load(panel + (2 * stepBytes));
            c2 = Avx512BWTile.Step(c2, x + (2 * depth), w, Vector512<sbyte>.Zero - w, ones);
            w = Vector512.Load(panel + (3 * stepBytes));
            c3 = Avx512BWTile.Step(c3, x + (3 * depth), w, Vector512<sbyte>.Zero - w, ones);
        }

        ((c0 + c1) + (c2 + c3)).Store(dots);
    }
}
