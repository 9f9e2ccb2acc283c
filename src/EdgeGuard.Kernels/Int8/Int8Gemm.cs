using System.Numerics;
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
/// sets) supports. Each variant lives in its own file (<c>Int8Gemm.&lt;Variant&gt;.cs</c>) and computes a tile of
/// 4 activation rows × one 16-channel panel (<see cref="IInt8Tile"/>) and, for a single row (token-by-token decoding),
/// one row × one panel (<see cref="IInt8Row"/>, driven by <c>Int8Gemm.SingleRow.cs</c>); this file holds the driver,
/// the epilogue and the split over the pool.
/// </remarks>
public static unsafe partial class Int8Gemm
{
    // 128 activation rows × up to 4 panels per task: a verdict's usual 128 tokens read each panel once (64 rows read the
    // weights twice: on an AVX2-only CPU the large shape's int8 forward at 128 tokens had a median of 390 against 410 ms
    // over six alternating runs); the task's panels (4 × 16·k bytes) stay in L2 while groups of 4 rows pass them.
    private const int RowsPerTask = 128;
    private const int PanelsPerTask = 4;
    private const long ParallelThreshold = 1L << 17;

    /// <summary>The variant this process uses (<see cref="KernelSet.Int8"/>).</summary>
    public static Int8GemmVariant Selected => KernelSet.Int8;

    /// <summary>Whether this CPU (or this NativeAOT build) can run <paramref name="variant"/>.</summary>
    public static bool IsSupported(Int8GemmVariant variant) => variant switch
    {
        Int8GemmVariant.Scalar => true,
        Int8GemmVariant.Avx2 => Avx2.IsSupported,
        Int8GemmVariant.Avx512BW or Int8GemmVariant.Avx512BWOffset => Avx512BW.IsSupported,
        Int8GemmVariant.AvxVnni => AvxVnni.IsSupported,
        Int8GemmVariant.AdvSimd => AdvSimd.IsSupported,
        Int8GemmVariant.AdvSimdDp => Dp.IsSupported,
        _ => false,
    };

    /// <summary>
    /// Largest activation magnitude <paramref name="variant"/> accepts: 63 for AVX2, whose u8×s8 pair sums must stay
    /// within int16 (docs/decisions/0005), 127 for every other kernel.
    /// </summary>
    public static int ActivationLimit(Int8GemmVariant variant) => variant is Int8GemmVariant.Avx2 or Int8GemmVariant.Avx512BWOffset ? 63 : 127;

    /// <summary>
    /// The weight limit <paramref name="variant"/> multiplies fastest, for weights quantised where the kernel is known
    /// (a Hugging Face directory opened as int8): <see cref="PackedInt8Matrix.SevenBitWeightLimit"/> for AVX2, which then
    /// widens two steps at once (<see cref="Avx2SevenBitStep"/>), <see cref="PackedInt8Matrix.FullWeightLimit"/> for every
    /// other kernel. Every variant reads weights of either limit.
    /// </summary>
    public static int PreferredWeightLimit(Int8GemmVariant variant) =>
        variant is Int8GemmVariant.Avx2 or Int8GemmVariant.Avx512BWOffset ? PackedInt8Matrix.SevenBitWeightLimit : PackedInt8Matrix.FullWeightLimit;

    /// <summary>
    /// What <paramref name="variant"/> reads on top of each activation (<see cref="QuantizedRows.Offset"/>): 64 for AVX2
    /// (x + 64 ∈ [1, 127] as <c>vpmaddubsw</c>'s unsigned operand), 128 for AVX-VNNI (x + 128 for <c>vpdpbusd</c>), 0 for
    /// the kernels that multiply signed bytes. The driver removes it with the weights' channel sums.
    /// </summary>
    public static int ActivationOffset(Int8GemmVariant variant) => variant switch
    {
        Int8GemmVariant.Avx2 or Int8GemmVariant.Avx512BWOffset => 64,
        Int8GemmVariant.AvxVnni => 128,
        _ => 0,
    };

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
        Int8GemmVariant variant, WorkerPool? pool, QuantizedRows x, PackedInt8Matrix w, ReadOnlySpan<float> bias, Int8Epilogue epilogue, ReadOnlySpan<float> residual, Span<float> y) =>
        Multiply(variant, pool, x, w, bias, epilogue, residual, y, singleRowKernel: true);

    /// <summary>
    /// As <see cref="Multiply(Int8GemmVariant, WorkerPool?, QuantizedRows, PackedInt8Matrix, ReadOnlySpan{float}, Int8Epilogue, ReadOnlySpan{float}, Span{float})"/>;
    /// <paramref name="singleRowKernel"/> false runs one row through the 4-row tiles too, the path the single-row kernels
    /// are tested against.
    /// </summary>
    internal static void Multiply(
        Int8GemmVariant variant,
        WorkerPool? pool,
        QuantizedRows x,
        PackedInt8Matrix w,
        ReadOnlySpan<float> bias,
        Int8Epilogue epilogue,
        ReadOnlySpan<float> residual,
        Span<float> y,
        bool singleRowKernel)
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

        // The scalar twin reads any offset, so tests can run it on the rows a vector kernel reads.
        if (variant != Int8GemmVariant.Scalar && x.Offset != ActivationOffset(variant))
        {
            throw new ArgumentException(
                $"The activations were stored with offset {x.Offset}; the {variant} kernel reads them with offset {ActivationOffset(variant)}.", nameof(x));
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
            var args = new Args(px, x.PaddedColumns, x.Offset, psx, pw, w.WeightLimit, psw, ps, pb, epilogue == Int8Epilogue.BiasResidual ? pr : null, py, n, epilogue);
            long work = (long)m * n * x.PaddedColumns;
            int panels = w.Panels;
            if (m == 1 && singleRowKernel)
            {
                MultiplyRow(variant, pool, args, panels, work >= ParallelThreshold);
                return;
            }

            if (pool is null || pool.DegreeOfParallelism == 1 || work < ParallelThreshold)
            {
                Run(variant, args, 0, m, 0, panels);
                return;
            }

            int rowBlocks = (m + RowsPerTask - 1) / RowsPerTask;
            int panelsPerTask = PanelsPerTask;

            // Few rows: fewer panels per task so every worker gets several tasks.
            while (panelsPerTask > 1 && rowBlocks * ((panels + panelsPerTask - 1) / panelsPerTask) < 4 * pool.DegreeOfParallelism)
            {
                panelsPerTask /= 2;
            }

            int panelBlocks = (panels + panelsPerTask - 1) / panelsPerTask;
            pool.For(rowBlocks * panelBlocks, new Task(args, variant, m, panels, panelBlocks, panelsPerTask));
        }
    }

    /// <summary>Output rows <c>[m0, m1)</c> × panels <c>[p0, p1)</c>.</summary>
    private static void Run(Int8GemmVariant variant, in Args a, int m0, int m1, int p0, int p1)
    {
        switch (variant)
        {
            case Int8GemmVariant.Avx2 when a.WeightLimit <= PackedInt8Matrix.SevenBitWeightLimit: RunTiles<Vector256Tile<Avx2SevenBitStep>>(a, m0, m1, p0, p1); break;
            case Int8GemmVariant.Avx2: RunTiles<Vector256Tile<Avx2Step>>(a, m0, m1, p0, p1); break;
            case Int8GemmVariant.Avx512BW: RunTiles<Avx512BWTile>(a, m0, m1, p0, p1); break;
            case Int8GemmVariant.Avx512BWOffset when a.WeightLimit <= PackedInt8Matrix.SevenBitWeightLimit: RunTiles<Vector512Tile<Avx512BWOffsetSevenBitStep>>(a, m0, m1, p0, p1); break;
            case Int8GemmVariant.Avx512BWOffset: RunTiles<Vector512Tile<Avx512BWOffsetStep>>(a, m0, m1, p0, p1); break;
            case Int8GemmVariant.AvxVnni: RunTiles<Vector256Tile<AvxVnniStep>>(a, m0, m1, p0, p1); break;
            case Int8GemmVariant.AdvSimd: RunTiles<AdvSimdTile>(a, m0, m1, p0, p1); break;
            case Int8GemmVariant.AdvSimdDp: RunTiles<AdvSimdDpTile>(a, m0, m1, p0, p1); break;
            default:
                if (a.Offset == 0)
                {
                    RunTiles<ScalarTile<SignedActivations>>(a, m0, m1, p0, p1);
                }
                else
                {
                    RunTiles<ScalarTile<UnsignedActivations>>(a, m0, m1, p0, p1);
                }

                break;
        }
    }

    /// <summary>
    /// Up to <see cref="PanelsPerTask"/> panels at a time, 4 rows at a time: the 4 rows (in L1) against each panel (in
    /// L2), each tile dequantised straight into the output (a residual, which may be the output itself, is read element
    /// by element before it is written) or, for GELU, into a 4-row block on the stack that GELU then writes out. GELU is
    /// the approximate one: the FFN's output is quantised next, and the exact one cost 2 % of the large shape's int8
    /// forward at 128 tokens (388.0 against 379.1 ms, calls alternating in one process). This order replaced panels
    /// outside and all of a task's rows inside, whose block of every row's outputs (32 KB) filled L1 and evicted what the
    /// tiles read (347.0 against 366.4 ms); writing the plain epilogues straight out rather than through the block took
    /// 0.6–1.9 % more off. With those direct stores the two orders time alike for the plain epilogues (M = 128, the base
    /// and large shapes' products, within 1.5 %), and for GELU panels outside (GELU in place after each tile) took
    /// 1.07–1.17× as long, in two runs of 380 calls of each order alternating. A panel's channels past
    /// <see cref="Args.N"/> are never stored.
    /// </summary>
    private static void RunTiles<TTile>(in Args a, int m0, int m1, int p0, int p1)
        where TTile : struct, IInt8Tile
    {
        const int width = PackedInt8Matrix.PanelWidth, blockWidth = PanelsPerTask * width;
        int* dots = stackalloc int[4 * width];
        int* correction = stackalloc int[blockWidth];
        float* block = stackalloc float[4 * blockWidth];
        bool gelu = a.Epilogue == Int8Epilogue.BiasGelu;
        for (int pb = p0; pb < p1; pb += PanelsPerTask)
        {
            int pe = Math.Min(pb + PanelsPerTask, p1);

            // Σ(x + offset)·w − offset·Σw = Σx·w
            for (int c = 0; c < (pe - pb) * width; c++)
            {
                int n = (pb * width) + c;
                correction[c] = n < a.N ? a.Offset * a.WSum[n] : 0;
            }

            int n0 = pb * width, columns = Math.Min(pe * width, a.N) - n0;
            for (int m = m0; m < m1; m += 4)
            {
                // A tail of fewer than 4 rows repeats the last row; its dots are stored once.
                int last = m1 - 1;
                int r0 = m, r1 = Math.Min(m + 1, last), r2 = Math.Min(m + 2, last), r3 = Math.Min(m + 3, last);
                int rows = r3 - r0 + 1;
                for (int p = pb; p < pe; p++)
                {
                    int n = p * width, count = Math.Min(width, a.N - n);
                    sbyte* panel = a.W + ((long)p * a.K * width);
                    TTile.Tile(a.X + ((long)r0 * a.K), a.X + ((long)r1 * a.K), a.X + ((long)r2 * a.K), a.X + ((long)r3 * a.K), panel, a.K, dots);
                    if (gelu)
                    {
                        StoreTile(a, m, rows, n, count, dots, correction + ((p - pb) * width), block + ((p - pb) * width), blockWidth);
                    }
                    else
                    {
                        StoreTile(a, m, rows, n, count, dots, correction + ((p - pb) * width), a.Y + ((long)m * a.N) + n, a.N);
                    }
                }

                for (int r = 0; r < rows && gelu; r++)
                {
                    Gelu.ApplyApproximate(new ReadOnlySpan<float>(block + (r * blockWidth), columns), new Span<float>(a.Y + ((long)(m + r) * a.N) + n0, columns));
                }
            }
        }
    }

    /// <summary>
    /// Dequantises <paramref name="rows"/> rows of a tile into <paramref name="y"/> (row stride <paramref name="stride"/>):
    /// <c>(dot − correction) · (sx · sw) + bias [+ residual]</c>, multiplied and added in that order in both paths, so a
    /// whole panel (vectors) and a tail (scalars) round alike. Each residual value is read just before the output value
    /// at its place is written, so the residual may be the output itself.
    /// </summary>
    private static void StoreTile(in Args a, int row, int rows, int n, int count, int* dots, int* correction, float* y, int stride)
    {
        const int width = PackedInt8Matrix.PanelWidth;
        float* residual = a.Residual == null ? null : a.Residual + ((long)row * a.N) + n;
        if (count == width)
        {
            // Vector<T>: as wide as the x86 tiles store their dots (a narrower load would miss store forwarding), 128
            // bits on arm64; a channel's correction, scale and bias are loaded once for the tile's rows.
            for (int c = 0; c < width; c += Vector<int>.Count)
            {
                Vector<int> offset = Vector.Load(correction + c);
                Vector<float> scale = Vector.Load(a.WScale + n + c), bias = Vector.Load(a.Bias + n + c);
                for (int r = 0; r < rows; r++)
                {
                    Vector<float> dot = Vector.ConvertToSingle(Vector.Load(dots + (r * width) + c) - offset);
                    Vector<float> v = (dot * (new Vector<float>(a.XScale[row + r]) * scale)) + bias;
                    if (residual != null)
                    {
                        v += Vector.Load(residual + ((long)r * a.N) + c);
                    }

                    v.Store(y + (r * stride) + c);
                }
            }

            return;
        }

        for (int r = 0; r < rows; r++)
        {
            float sx = a.XScale[row + r];
            for (int c = 0; c < count; c++)
            {
                float v = ((dots[(r * width) + c] - correction[c]) * (sx * a.WScale[n + c])) + a.Bias[n + c];
                if (residual != null)
                {
                    v += residual[((long)r * a.N) + c];
                }

                y[(r * stride) + c] = v;
            }
        }
    }

    internal readonly struct Args(
        sbyte* x, int k, int offset, float* xScale, sbyte* w, int weightLimit, float* wScale, int* wSum, float* bias, float* residual, float* y, int n, Int8Epilogue epilogue)
    {
        public readonly sbyte* X = x;
        public readonly int K = k;
        public readonly int Offset = offset;
        public readonly float* XScale = xScale;
        public readonly sbyte* W = w;
        public readonly int WeightLimit = weightLimit;
        public readonly float* WScale = wScale;
        public readonly int* WSum = wSum;
        public readonly float* Bias = bias;
        public readonly float* Residual = residual;
        public readonly float* Y = y;
        public readonly int N = n;
        public readonly Int8Epilogue Epilogue = epilogue;
    }

    private readonly struct Task(Args args, Int8GemmVariant variant, int m, int panels, int panelBlocks, int panelsPerTask) : IParallelBody
    {
        public void Invoke(int index, int workerIndex)
        {
            int m0 = index / panelBlocks * RowsPerTask;
            int p0 = index % panelBlocks * panelsPerTask;
            Run(variant, args, m0, Math.Min(m0 + RowsPerTask, m), p0, Math.Min(p0 + panelsPerTask, panels));
        }
    }
}

/// <summary>
/// One variant's inner kernel: 4 activation rows (<c>k</c> bytes each, a multiple of
/// <see cref="PackedInt8Matrix.ColumnAlignment"/>) times one 16-channel panel of <see cref="PackedInt8Matrix"/>. The
/// struct implementations are compiled once each, so the call is direct.
/// </summary>
internal unsafe interface IInt8Tile
{
    /// <param name="x0">Row 0's stored activation bytes (already offset for kernels that read them unsigned).</param>
    /// <param name="panel">The panel's <c>k / 4</c> steps of 16 channels × 4 bytes.</param>
    /// <param name="dots"><c>dots[16·r + c] = Σₖ x_r[k] · w[c, k]</c> over the stored bytes, for rows r = 0..3, channels c = 0..15.</param>
    static abstract void Tile(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* panel, int k, int* dots);
}
