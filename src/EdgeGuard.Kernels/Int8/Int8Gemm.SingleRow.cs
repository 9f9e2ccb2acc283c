using System.Numerics;
using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// One activation row (M = 1: a decoder generating token by token): the 4-row tiles would compute the row four times
/// over, so each variant has a single-row kernel (<see cref="IInt8Row"/>) that reads every packed weight byte once, and
/// the panels, not rows, are split over the pool. The epilogue is <see cref="StoreTile"/>'s, so the outputs are
/// bit-identical to the tiles'.
/// </summary>
public static unsafe partial class Int8Gemm
{
    // A few contiguous runs of panels per worker: each worker streams long runs of the weights, and the pool's dynamic
    // hand-out still evens out a worker that another process slows down.
    private const int RowTasksPerWorker = 4;

    /// <param name="parallel">Whether the product is large enough to be worth splitting over <paramref name="pool"/>.</param>
    private static void MultiplyRow(Int8GemmVariant variant, WorkerPool? pool, in Args args, int panels, bool parallel)
    {
        if (pool is null || pool.DegreeOfParallelism == 1 || !parallel)
        {
            RunRow(variant, args, 0, panels);
            return;
        }

        int tasks = Math.Min(panels, RowTasksPerWorker * pool.DegreeOfParallelism);
        int panelsPerTask = (panels + tasks - 1) / tasks;
        pool.For((panels + panelsPerTask - 1) / panelsPerTask, new RowTask(args, variant, panels, panelsPerTask));
    }

    /// <summary>Panels <c>[p0, p1)</c> of the one row.</summary>
    private static void RunRow(Int8GemmVariant variant, in Args a, int p0, int p1)
    {
        switch (variant)
        {
            case Int8GemmVariant.Avx2 when a.WeightLimit <= PackedInt8Matrix.SevenBitWeightLimit: RunRowPanels<Vector256Row<Avx2SevenBitStep>>(a, p0, p1); break;
            case Int8GemmVariant.Avx2: RunRowPanels<Vector256Row<Avx2Step>>(a, p0, p1); break;
            case Int8GemmVariant.Avx512BW: RunRowPanels<Avx512BWRow>(a, p0, p1); break;
            case Int8GemmVariant.Avx512BWOffset when a.WeightLimit <= PackedInt8Matrix.SevenBitWeightLimit: RunRowPanels<Vector512Row<Avx512BWOffsetSevenBitStep>>(a, p0, p1); break;
            case Int8GemmVariant.Avx512BWOffset: RunRowPanels<Vector512Row<Avx512BWOffsetStep>>(a, p0, p1); break;
            case Int8GemmVariant.AvxVnni: RunRowPanels<Vector256Row<AvxVnniStep>>(a, p0, p1); break;
            case Int8GemmVariant.AdvSimd: RunRowPanels<AdvSimdRow>(a, p0, p1); break;
            case Int8GemmVariant.AdvSimdDp: RunRowPanels<AdvSimdDpRow>(a, p0, p1); break;
            default:
                if (a.Offset == 0)
                {
                    RunRowPanels<ScalarRow<SignedActivations>>(a, p0, p1);
                }
                else
                {
                    RunRowPanels<ScalarRow<UnsignedActivations>>(a, p0, p1);
                }

                break;
        }
    }

    /// <summary>
    /// Each panel's dots dequantised straight into the output (<see cref="StoreTile"/> with one row); GELU then runs in
    /// place over the range's outputs, which are still in L1. A panel's channels past <see cref="Args.N"/> are never
    /// stored.
    /// </summary>
    private static void RunRowPanels<TRow>(in Args a, int p0, int p1)
        where TRow : struct, IInt8Row
    {
        const int width = PackedInt8Matrix.PanelWidth;
        int* dots = stackalloc int[width];

        // kernels without an offset subtract nothing; with one, every channel a panel stores is set below
        int* correction = stackalloc int[width];
        if (a.Offset == 0)
        {
            new Span<int>(correction, width).Clear();
        }

        for (int p = p0; p < p1; p++)
        {
            int n = p * width, count = Math.Min(width, a.N - n);

            // Σ(x + offset)·w − offset·Σw = Σx·w
            if (a.Offset != 0 && count == width)
            {
                for (int c = 0; c < width; c += Vector<int>.Count)
                {
                    (Vector.Load(a.WSum + n + c) * a.Offset).Store(correction + c);
                }
            }
            else if (a.Offset != 0)
            {
                for (int c = 0; c < count; c++)
                {
                    correction[c] = a.Offset * a.WSum[n + c];
                }
            }

            TRow.Row(a.X, a.W + ((long)p * a.K * width), a.K, dots);
            StoreTile(a, 0, 1, n, count, dots, correction, a.Y + n, a.N);
        }

        if (a.Epilogue == Int8Epilogue.BiasGelu)
        {
            int n0 = p0 * width, columns = Math.Min(p1 * width, a.N) - n0;
            var outputs = new Span<float>(a.Y + n0, columns);
            Gelu.ApplyApproximate(outputs, outputs);
        }
    }

    private readonly struct RowTask(Args args, Int8GemmVariant variant, int panels, int panelsPerTask) : IParallelBody
    {
        public void Invoke(int index, int workerIndex)
        {
            int p0 = index * panelsPerTask;
            RunRow(variant, args, p0, Math.Min(p0 + panelsPerTask, panels));
        }
    }
}

/// <summary>
/// One variant's single-row kernel: one activation row (<c>k</c> bytes, a multiple of
/// <see cref="PackedInt8Matrix.ColumnAlignment"/>) times one 16-channel panel of <see cref="PackedInt8Matrix"/>, each of
/// the panel's bytes read once. The struct implementations are compiled once each, so the call is direct.
/// </summary>
internal unsafe interface IInt8Row
{
    /// <param name="x">The row's stored activation bytes (already offset for kernels that read them unsigned).</param>
    /// <param name="panel">The panel's <c>k / 4</c> steps of 16 channels × 4 bytes.</param>
    /// <param name="dots"><c>dots[c] = Σₖ x[k] · w[c, k]</c> over the stored bytes, for channels c = 0..15.</param>
    static abstract void Row(sbyte* x, sbyte* panel, int k, int* dots);
}
