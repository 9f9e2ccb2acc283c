using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// The AVX2 scheme (<see cref="Avx2Step"/>) on 512-bit vectors: activations quantised to [-63, 63] and stored as
/// x + 64 ∈ [1, 127] (<see cref="QuantizedRows.Offset"/>) are <c>vpmaddubsw</c>'s unsigned operand as they are, so there
/// is no |x| and no sign blend per step (what <see cref="Avx512BWTile"/> spends on activations quantised to ±127); the
/// driver removes the offset with 64·Σw.
/// </summary>
internal unsafe interface IU8S8Step512
{
    /// <summary><c>acc[i] += Σ_{j&lt;4} u[4i + j] · w[4i + j] + Σ_{j&lt;4} t[4i + j] · v[4i + j]</c>: two consecutive steps.</summary>
    static abstract Vector512<int> MultiplyAdd(Vector512<int> acc, Vector512<byte> u, Vector512<sbyte> w, Vector512<byte> t, Vector512<sbyte> v, Vector512<short> ones);
}

/// <summary>8-bit weights: each step's pairs (at most 2·127·127 = 32 258) widened by its own <c>vpmaddwd</c>.</summary>
internal readonly struct Avx512BWOffsetStep : IU8S8Step512
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> MultiplyAdd(Vector512<int> acc, Vector512<byte> u, Vector512<sbyte> w, Vector512<byte> t, Vector512<sbyte> v, Vector512<short> ones) =>
        Avx512F.Add(
            Avx512F.Add(acc, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, w), ones)),
            Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(t, v), ones));
}

/// <summary>
/// 7-bit weights (<see cref="PackedInt8Matrix.SevenBitWeightLimit"/>): the two steps' pair sums added in int16 reach at
/// most 4·127·63 = 32 004 &lt; 32 767, so one <c>vpmaddwd</c> widens both — three multiply-pipe instructions per 128
/// products instead of four, as <see cref="Avx2SevenBitStep"/> does at 256 bits.
/// </summary>
internal readonly struct Avx512BWOffsetSevenBitStep : IU8S8Step512
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> MultiplyAdd(Vector512<int> acc, Vector512<byte> u, Vector512<sbyte> w, Vector512<byte> t, Vector512<sbyte> v, Vector512<short> ones) =>
        Avx512F.Add(acc, Avx512BW.MultiplyAddAdjacent(Avx512BW.Add(Avx512BW.MultiplyAddAdjacent(u, w), Avx512BW.MultiplyAddAdjacent(t, v)), ones));
}

/// <summary>
/// A 4-row × 16-channel tile for any <see cref="IU8S8Step512"/>, two steps per iteration (the padded k holds an even
/// number): a step's 64 panel bytes are one vector, each row's four offset activations are broadcast to every lane, and
/// four accumulators hold the tile as it will be stored.
/// </summary>
internal readonly unsafe struct Vector512Tile<TStep> : IInt8Tile
    where TStep : struct, IU8S8Step512
{
    public static void Tile(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* panel, int k, int* dots)
    {
        const int next = PackedInt8Matrix.StepDepth;
        Vector512<int> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<short> ones = Vector512.Create((short)1);
        for (int i = 0; i < k; i += 2 * next)
        {
            sbyte* step = panel + (i * PackedInt8Matrix.PanelWidth);
            Vector512<sbyte> w = Vector512.Load(step);
            Vector512<sbyte> v = Vector512.Load(step + 64);
            c0 = TStep.MultiplyAdd(c0, Broadcast(x0 + i), w, Broadcast(x0 + i + next), v, ones);
            c1 = TStep.MultiplyAdd(c1, Broadcast(x1 + i), w, Broadcast(x1 + i + next), v, ones);
            c2 = TStep.MultiplyAdd(c2, Broadcast(x2 + i), w, Broadcast(x2 + i + next), v, ones);
            c3 = TStep.MultiplyAdd(c3, Broadcast(x3 + i), w, Broadcast(x3 + i + next), v, ones);
        }

        c0.Store(dots);
        c1.Store(dots + 16);
        c2.Store(dots + 32);
        c3.Store(dots + 48);
    }

    // four activation bytes (stored with the step's offset) to every 32-bit lane
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<byte> Broadcast(sbyte* x) => Vector512.Create(Unsafe.ReadUnaligned<int>(x)).AsByte();
}

/// <summary>
/// One row × one 16-channel panel for any <see cref="IU8S8Step512"/> (<see cref="IInt8Row"/>): a step's 64 panel bytes
/// are one vector against the row's four offset activations broadcast to every lane; eight steps per iteration (the
/// padded k holds a multiple of 16), steps 0–1 and 2–3 of each four into their own accumulators.
/// </summary>
internal readonly unsafe struct Vector512Row<TStep> : IInt8Row
    where TStep : struct, IU8S8Step512
{
    public static void Row(sbyte* x, sbyte* panel, int k, int* dots)
    {
        const int next = PackedInt8Matrix.StepDepth, stepBytes = PackedInt8Matrix.PanelWidth * next;
        Vector512<int> a = default, b = default;
        Vector512<short> ones = Vector512.Create((short)1);
        for (sbyte* end = x + k; x < end; x += 8 * next, panel += 8 * stepBytes)
        {
            FourSteps(x, panel, ones, ref a, ref b);
            FourSteps(x + (4 * next), panel + (4 * stepBytes), ones, ref a, ref b);
        }

        (a + b).Store(dots);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FourSteps(sbyte* x, sbyte* panel, Vector512<short> ones, ref Vector512<int> a, ref Vector512<int> b)
    {
        const int next = PackedInt8Matrix.StepDepth, stepBytes = PackedInt8Matrix.PanelWidth * next;
        a = TStep.MultiplyAdd(
            a, Vector512Tile<TStep>.Broadcast(x), Vector512.Load(panel), Vector512Tile<TStep>.Broadcast(x + next), Vector512.Load(panel + stepBytes), ones);
        b = TStep.MultiplyAdd(
            b,
            Vector512Tile<TStep>.Broadcast(x + (2 * next)),
            Vector512.Load(panel + (2 * stepBytes)),
            Vector512Tile<TStep>.Broadcast(x + (3 * next)),
            Vector512.Load(panel + (3 * stepBytes)),
            ones);
    }
}
