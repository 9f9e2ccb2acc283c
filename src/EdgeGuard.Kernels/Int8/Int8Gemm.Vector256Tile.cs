using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// The x86 u8×s8 instructions on 256-bit vectors (<see cref="Avx2Step"/>, <see cref="Avx2SevenBitStep"/>,
/// <see cref="AvxVnniStep"/>): one 32-bit lane per channel sums four byte products per step.
/// </summary>
internal unsafe interface IU8S8Step
{
    /// <summary><c>acc[i] += Σ_{j&lt;4} u[4i + j] · w[4i + j] + Σ_{j&lt;4} t[4i + j] · v[4i + j]</c>: two consecutive steps.</summary>
    /// <param name="ones">16-bit ones, for steps that widen int16 pairs by multiplying (made once per tile: the JIT
    /// does not hoist vector constants out of the loop).</param>
    static abstract Vector256<int> MultiplyAdd(
        Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> w, Vector256<byte> t, Vector256<sbyte> v, Vector256<short> ones);
}

/// <summary>
/// A 4-row × 16-channel tile for any <see cref="IU8S8Step"/>, two steps per iteration (the padded k holds an even
/// number): per step, the panel's 64 bytes are two vectors (channels 0–7, 8–15) and each row's four activations, stored
/// already offset to unsigned (<see cref="QuantizedRows.Offset"/>), are broadcast to every lane; eight accumulators
/// hold the tile as it will be stored.
/// </summary>
internal readonly unsafe struct Vector256Tile<TStep> : IInt8Tile
    where TStep : struct, IU8S8Step
{
    public static void Tile(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* panel, int k, int* dots)
    {
        const int next = PackedInt8Matrix.StepDepth;
        Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<int> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<short> ones = Vector256.Create((short)1);
        for (int i = 0; i < k; i += 2 * next)
        {
            sbyte* step = panel + (i * PackedInt8Matrix.PanelWidth);
            Vector256<sbyte> w0 = Vector256.Load(step);
            Vector256<sbyte> w1 = Vector256.Load(step + 32);
            Vector256<sbyte> v0 = Vector256.Load(step + 64);
            Vector256<sbyte> v1 = Vector256.Load(step + 96);
            Vector256<byte> u = Broadcast(x0 + i), t = Broadcast(x0 + i + next);
            c00 = TStep.MultiplyAdd(c00, u, w0, t, v0, ones);
            c01 = TStep.MultiplyAdd(c01, u, w1, t, v1, ones);
            u = Broadcast(x1 + i);
            t = Broadcast(x1 + i + next);
            c10 = TStep.MultiplyAdd(c10, u, w0, t, v0, ones);
            c11 = TStep.MultiplyAdd(c11, u, w1, t, v1, ones);
            u = Broadcast(x2 + i);
            t = Broadcast(x2 + i + next);
            c20 = TStep.MultiplyAdd(c20, u, w0, t, v0, ones);
            c21 = TStep.MultiplyAdd(c21, u, w1, t, v1, ones);
            u = Broadcast(x3 + i);
            t = Broadcast(x3 + i + next);
            c30 = TStep.MultiplyAdd(c30, u, w0, t, v0, ones);
            c31 = TStep.MultiplyAdd(c31, u, w1, t, v1, ones);
        }

        c00.Store(dots);
        c01.Store(dots + 8);
        c10.Store(dots + 16);
        c11.Store(dots + 24);
        c20.Store(dots + 32);
        c21.Store(dots + 40);
        c30.Store(dots + 48);
        c31.Store(dots + 56);
    }

    // four activation bytes (stored with the step's offset) to every 32-bit lane
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Broadcast(sbyte* x) => Vector256.Create(Unsafe.ReadUnaligned<int>(x)).AsByte();
}

/// <summary>
/// One row × one 16-channel panel for any <see cref="IU8S8Step"/> (<see cref="IInt8Row"/>): per step the panel's 64 bytes
/// are two vectors (channels 0–7, 8–15) against the row's four offset activations broadcast to every lane. Eight steps
/// per iteration (the padded k holds a multiple of 16), steps 0–1 and 2–3 of each four into their own accumulators,
/// so the multiply-add chains (<c>vpdpbusd</c> waits on its accumulator) run two at a time per channel half.
/// </summary>
internal readonly unsafe struct Vector256Row<TStep> : IInt8Row
    where TStep : struct, IU8S8Step
{
    public static void Row(sbyte* x, sbyte* panel, int k, int* dots)
    {
        const int next = PackedInt8Matrix.StepDepth, stepBytes = PackedInt8Matrix.PanelWidth * next;
        Vector256<int> a0 = default, a1 = default, b0 = default, b1 = default;
        Vector256<short> ones = Vector256.Create((short)1);

        // pointers stepped rather than indexed: every load addresses at a constant offset, no index arithmetic per iteration
        for (sbyte* end = x + k; x < end; x += 8 * next, panel += 8 * stepBytes)
        {
            FourSteps(x, panel, ones, ref a0, ref a1, ref b0, ref b1);
            FourSteps(x + (4 * next), panel + (4 * stepBytes), ones, ref a0, ref a1, ref b0, ref b1);
        }

        (a0 + b0).Store(dots);
        (a1 + b1).Store(dots + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FourSteps(
        sbyte* x, sbyte* panel, Vector256<short> ones, ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> b0, ref Vector256<int> b1)
    {
        const int next = PackedInt8Matrix.StepDepth, stepBytes = PackedInt8Matrix.PanelWidth * next;
        Vector256<byte> u = Vector256Tile<TStep>.Broadcast(x), t = Vector256Tile<TStep>.Broadcast(x + next);
        a0 = TStep.MultiplyAdd(a0, u, Vector256.Load(panel), t, Vector256.Load(panel + stepBytes), ones);
        a1 = TStep.MultiplyAdd(a1, u, Vector256.Load(panel + 32), t, Vector256.Load(panel + stepBytes + 32), ones);
        u = Vector256Tile<TStep>.Broadcast(x + (2 * next));
        t = Vector256Tile<TStep>.Broadcast(x + (3 * next));
        b0 = TStep.MultiplyAdd(b0, u, Vector256.Load(panel + (2 * stepBytes)), t, Vector256.Load(panel + (3 * stepBytes)), ones);
        b1 = TStep.MultiplyAdd(b1, u, Vector256.Load(panel + (2 * stepBytes) + 32), t, Vector256.Load(panel + (3 * stepBytes) + 32), ones);
    }
}
