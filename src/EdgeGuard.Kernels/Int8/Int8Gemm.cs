using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// <c>y[i, j] = epilogue(Σₖ qx[i, k] · qw[j, k] · sx[i] · sw[j] + bias[j])</c>: a linear layer on per-row quantised
/// activations (<see cref="QuantizedRows"/>) and per-channel quantised weights (<see cref="PackedInt8Matrix"/>),
/// accumulated exactly in int32.
/// </summary>
/// <remarks>
/// Every variant computes the same exact integer dot products, so all of them give bit-identical outputs; the
/// variant is chosen once, at start-up, from what the process's CPU (under NativeAOT: the build's instruction
/// sets) supports. Each variant lives in its own file (<c>Int8Gemm.&lt;Variant&gt;.cs</c>) and computes a 4×2 tile
/// of int32 dot products; this file holds the driver, the epilogue and the split over the pool.
/// </remarks>
public static unsafe partial class Int8Gemm
{
    // 64 activation rows × 32 weight rows per task: 32·k bytes of W stay in L1/L2 while 64 rows stream past.
    private const int RowsPerTask = 64;
    private const int ColumnsPerTask = 32;
    private const long ParallelThreshold = 1L << 17;

    /// <summary>The variant this process uses.</summary>
    public static readonly Int8GemmVariant Selected = Select();

    /// <summary>Whether this CPU (or this NativeAOT build) can run <paramref name="variant"/>.</summary>
    public static bool IsSupported(Int8GemmVariant variant) => variant switch
    {
        Int8GemmVariant.Scalar => true,
        Int8GemmVariant.Avx2 => Avx2.IsSupported,
        Int8GemmVariant.Avx512BW => Avx512BW.IsSupported,
        Int8GemmVariant.AvxVnni => AvxVnni.IsSupported,
        Int8GemmVariant.AdvSimd => AdvSimd.IsSupported,
        Int8GemmVariant.AdvSimdDp => Dp.IsSupported,
        _ => false,
    };

    /// <summary>
    /// Largest activation magnitude <paramref name="variant"/> accepts: 63 for AVX2, whose u8×s8 pair sums must stay
    /// within int16 (docs/decisions/0005), 127 for every other kernel.
    /// </summary>
    public static int ActivationLimit(Int8GemmVariant variant) => variant == Int8GemmVariant.Avx2 ? 63 : 127;

    private static Int8GemmVariant Select() =>
        AvxVnni.IsSupported ? Int8GemmVariant.AvxVnni
        : Avx512BW.IsSupported ? Int8GemmVariant.Avx512BW
        : Avx2.IsSupported ? Int8GemmVariant.Avx2
        : Dp.IsSupported ? Int8GemmVariant.AdvSimdDp
        : AdvSimd.IsSupported ? Int8GemmVariant.AdvSimd
        : Int8GemmVariant.Scalar;

    /// <summary>
    /// Multiplies the <see cref="QuantizedRows.Rows"/> rows of <paramref name="x"/> by <paramref name="w"/>ᵀ into
    /// <paramref name="y"/> (row stride <c>w.Rows</c>), split over <paramref name="pool"/>.
    /// </summary>
    /// <param name="residual">For <see cref="Int8Epilogue.BiasResidual"/>: as many values as <paramref name="y"/>, same stride; may be <paramref name="y"/> itself.</param>
    public static void Multiply(
        WorkerPool pool, QuantizedRows x, PackedInt8Matrix w, ReadOnlySpan<float> bias, Int8Epilogue epilogue, ReadOnlySpan<float> residual, Span<float> y)
    {
        ArgumentNullException.ThrowIfNull(pool);
        Multiply(Selected, pool, x, w, bias, epilogue, residual, y);
    }

    /// <summary>As <see cref="Multiply(WorkerPool, QuantizedRows, PackedInt8Matrix, ReadOnlySpan{float}, Int8Epilogue, ReadOnlySpan{float}, Span{float})"/> with a chosen variant; <paramref name="pool"/> null runs on the caller.</summary>
    internal static void Multiply(
        Int8GemmVariant variant, WorkerPool? pool, QuantizedRows x, PackedInt8Matrix w, ReadOnlySpan<float> bias, Int8Epilogue epilogue, ReadOnlySpan<float> residual, Span<float> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        if (!IsSupported(variant))
        {
            throw new PlatformNotSupportedException($"The {variant} int8 kernel needs instructions this CPU or build lacks.");
        }

        if (x.Limit > ActivationLimit(variant))
        {
            throw new ArgumentException(
                $"The activations were quantised to ±{x.Limit}; the {variant} kernel takes at most ±{ActivationLimit(variant)}.", nameof(x));
        }

        if (x.Columns != w.Columns)
        {
            throw new ArgumentException($"Activations have {x.Columns} columns, weights {w.Columns}.", nameof(x));
        }

        int m = x.Rows, n = w.Rows;
        if (y.Length < (long)m * n)
        {
            throw new ArgumentException($"The output needs {(long)m * n} values, has {y.Length}.", nameof(y));
        }

        if (bias.Length < n)
        {
            throw new ArgumentException($"Bias has {bias.Length} values for {n} outputs.", nameof(bias));
        }

        if (epilogue == Int8Epilogue.BiasResidual && residual.Length < (long)m * n)
        {
            throw new ArgumentException($"The residual needs {(long)m * n} values, has {residual.Length}.", nameof(residual));
        }

        if (m == 0 || n == 0)
        {
            return;
        }

        fixed (sbyte* px = x.Data, pw = w.Data.Span)
        fixed (float* psx = x.Scales, psw = w.Scales.Span, pb = bias, pr = residual, py = y)
        fixed (int* ps = w.ChannelSums.Span)
        {
            var args = new Args(px, x.PaddedColumns, psx, pw, psw, ps, pb, epilogue == Int8Epilogue.BiasResidual ? pr : null, py, n, epilogue);
            long work = (long)m * n * x.PaddedColumns;
            if (pool is null || pool.DegreeOfParallelism == 1 || work < ParallelThreshold)
            {
                Run(variant, args, 0, m, 0, n);
                return;
            }

            int rowBlocks = (m + RowsPerTask - 1) / RowsPerTask;
            int columnsPerTask = ColumnsPerTask;

            // Few rows: finer column blocks so every worker gets several tasks.
            while (columnsPerTask > 8 && rowBlocks * ((n + columnsPerTask - 1) / columnsPerTask) < 4 * pool.DegreeOfParallelism)
            {
                columnsPerTask /= 2;
            }

            int columnBlocks = (n + columnsPerTask - 1) / columnsPerTask;
            pool.For(rowBlocks * columnBlocks, new Task(args, variant, m, n, columnBlocks, columnsPerTask));
        }
    }

    private static void Run(Int8GemmVariant variant, in Args a, int m0, int m1, int n0, int n1)
    {
        switch (variant)
        {
            case Int8GemmVariant.Avx2: RunTiles<Avx2Dot>(a, m0, m1, n0, n1); break;
            case Int8GemmVariant.Avx512BW: RunTiles<Avx512BWDot>(a, m0, m1, n0, n1); break;
            case Int8GemmVariant.AvxVnni: RunTiles<AvxVnniDot>(a, m0, m1, n0, n1); break;
            case Int8GemmVariant.AdvSimd: RunTiles<AdvSimdDot>(a, m0, m1, n0, n1); break;
            case Int8GemmVariant.AdvSimdDp: RunTiles<AdvSimdDpDot>(a, m0, m1, n0, n1); break;
            default: RunTiles<ScalarDot>(a, m0, m1, n0, n1); break;
        }

        if (a.Epilogue == Int8Epilogue.BiasGelu)
        {
            // GELU over the block just written, while it is still in cache.
            for (int m = m0; m < m1; m++)
            {
                Gelu.Apply(new Span<float>(a.Y + ((long)m * a.N) + n0, n1 - n0));
            }
        }
    }

    /// <summary>
    /// Output rows <c>[m0, m1)</c> × columns <c>[n0, n1)</c> in 4×2 tiles. Tails reuse the last row/column: the duplicate
    /// computes the same value and stores it to the same place, which is cheaper than a second tile shape.
    /// </summary>
    private static void RunTiles<TDot>(in Args a, int m0, int m1, int n0, int n1)
        where TDot : struct, IInt8Dot
    {
        int* dots = stackalloc int[8];
        for (int n = n0; n < n1; n += 2)
        {
            int nB = Math.Min(n + 1, n1 - 1);
            sbyte* w0 = a.W + ((long)n * a.K);
            sbyte* w1 = a.W + ((long)nB * a.K);
            float sw0 = a.WScale[n], sw1 = a.WScale[nB];
            float b0 = a.Bias[n], b1 = a.Bias[nB];
            for (int m = m0; m < m1; m += 4)
            {
                int last = m1 - 1;
                int r0 = m, r1 = Math.Min(m + 1, last), r2 = Math.Min(m + 2, last), r3 = Math.Min(m + 3, last);
                TDot.Dot4x2(a.X + ((long)r0 * a.K), a.X + ((long)r1 * a.K), a.X + ((long)r2 * a.K), a.X + ((long)r3 * a.K), w0, w1, a.K, a.WSum[n], a.WSum[nB], dots);
                Store(a, r0, n, nB, dots[0], dots[1], sw0, sw1, b0, b1);

                // Duplicated tail rows are stored once: a residual may be y itself and must be added once.
                if (r1 != r0)
                {
                    Store(a, r1, n, nB, dots[2], dots[3], sw0, sw1, b0, b1);
                }

                if (r2 != r1)
                {
                    Store(a, r2, n, nB, dots[4], dots[5], sw0, sw1, b0, b1);
                }

                if (r3 != r2)
                {
                    Store(a, r3, n, nB, dots[6], dots[7], sw0, sw1, b0, b1);
                }
            }
        }
    }

    /// <summary>
    /// The 4×2 tile's horizontal sums, minus <paramref name="offset"/>·Σw for kernels that feed activations as x + offset
    /// (<c>Σ(x + offset)·w − offset·Σw = Σx·w</c>); same order as <see cref="IInt8Dot.Dot4x2"/>'s result.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal static void StoreOffsetTileSums(
        int offset, int sum0, int sum1, Vector256<int> c00, Vector256<int> c01, Vector256<int> c10, Vector256<int> c11,
        Vector256<int> c20, Vector256<int> c21, Vector256<int> c30, Vector256<int> c31, int* result)
    {
        int o0 = offset * sum0, o1 = offset * sum1;
        result[0] = Vector256.Sum(c00) - o0;
        result[1] = Vector256.Sum(c01) - o1;
        result[2] = Vector256.Sum(c10) - o0;
        result[3] = Vector256.Sum(c11) - o1;
        result[4] = Vector256.Sum(c20) - o0;
        result[5] = Vector256.Sum(c21) - o1;
        result[6] = Vector256.Sum(c30) - o0;
        result[7] = Vector256.Sum(c31) - o1;
    }

    // dequantise, bias, residual
    private static void Store(in Args a, int row, int n, int nB, int dot0, int dot1, float sw0, float sw1, float b0, float b1)
    {
        float sx = a.XScale[row];
        long at = (long)row * a.N;
        float v0 = (dot0 * (sx * sw0)) + b0;
        float v1 = (dot1 * (sx * sw1)) + b1;
        if (a.Residual != null)
        {
            v0 += a.Residual[at + n];
            v1 += a.Residual[at + nB];
        }

        a.Y[at + n] = v0;
        a.Y[at + nB] = v1;
    }

    internal readonly struct Args(
        sbyte* x, int k, float* xScale, sbyte* w, float* wScale, int* wSum, float* bias, float* residual, float* y, int n, Int8Epilogue epilogue)
    {
        public readonly sbyte* X = x;
        public readonly int K = k;
        public readonly float* XScale = xScale;
        public readonly sbyte* W = w;
        public readonly float* WScale = wScale;
        public readonly int* WSum = wSum;
        public readonly float* Bias = bias;
        public readonly float* Residual = residual;
        public readonly float* Y = y;
        public readonly int N = n;
        public readonly Int8Epilogue Epilogue = epilogue;
    }

    private readonly struct Task(Args args, Int8GemmVariant variant, int m, int n, int columnBlocks, int columnsPerTask) : IParallelBody
    {
        public void Invoke(int index, int workerIndex)
        {
            int m0 = index / columnBlocks * RowsPerTask;
            int n0 = index % columnBlocks * columnsPerTask;
            Run(variant, args, m0, Math.Min(m0 + RowsPerTask, m), n0, Math.Min(n0 + columnsPerTask, n));
        }
    }
}

/// <summary>
/// One variant's inner kernel: the 8 int32 dot products of 4 activation rows with 2 weight rows over
/// <c>k</c> bytes (a multiple of <see cref="PackedInt8Matrix.ColumnAlignment"/>). The struct implementations are
/// compiled once each, so the call is direct.
/// </summary>
internal unsafe interface IInt8Dot
{
    /// <param name="sum0">Σ of <paramref name="w0"/> (for kernels that offset the activations).</param>
    /// <param name="sum1">Σ of <paramref name="w1"/>.</param>
    /// <param name="result">x0·w0, x0·w1, x1·w0, x1·w1, x2·w0, x2·w1, x3·w0, x3·w1.</param>
    static abstract void Dot4x2(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* w0, sbyte* w1, int k, int sum0, int sum1, int* result);
}
