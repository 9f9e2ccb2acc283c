using System.Runtime.Intrinsics;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Float32;

/// <summary>
/// Float32 matrix products on row-major matrices with explicit leading dimensions (row strides), so that
/// views into larger buffers (one attention head's columns, a block of rows) need no copy.
/// </summary>
/// <remarks>
/// The implementation is chosen once, from the widest vector size the process runs with hardware support for
/// (under NativeAOT: what the build's instruction-set setting enables). Outputs must not overlap inputs.
/// </remarks>
public static unsafe partial class Gemm
{
    // Parallel tiles: 64 rows of x share each pair of W rows while it is in L1; 64 W rows (64·K floats) stay in L2.
    private const int RowsPerTask = 64;
    private const int ColumnsPerTask = 64;

    // Below this many multiply-adds a product is not worth waking the pool for.
    private const long ParallelThreshold = 1L << 17;

    internal static GemmVariant Selected => KernelSet.Float32Gemm;

    /// <summary>
    /// <c>y[i, j] = Σₖ x[i, k] · w[j, k] + bias[j]</c> for <c>i &lt; m</c>, <c>j &lt; n</c>: a linear layer with weights
    /// stored <c>[out, in]</c> as PyTorch does, or <c>Q·Kᵀ</c>. Runs on the calling thread.
    /// </summary>
    /// <param name="x">Rows of length <paramref name="k"/>, <paramref name="ldx"/> apart.</param>
    /// <param name="ldx">Row stride of <paramref name="x"/>.</param>
    /// <param name="w">Rows of length <paramref name="k"/>, <paramref name="ldw"/> apart.</param>
    /// <param name="ldw">Row stride of <paramref name="w"/>.</param>
    /// <param name="bias">Empty, or at least <paramref name="n"/> values.</param>
    /// <param name="y">Rows of length <paramref name="n"/>, <paramref name="ldy"/> apart.</param>
    /// <param name="ldy">Row stride of <paramref name="y"/>.</param>
    /// <param name="m">Rows of x and y.</param>
    /// <param name="n">Rows of w, columns of y.</param>
    /// <param name="k">Length of each dot product.</param>
    public static void MultiplyTransposed(
        ReadOnlySpan<float> x, int ldx, ReadOnlySpan<float> w, int ldw, ReadOnlySpan<float> bias, Span<float> y, int ldy, int m, int n, int k)
        => MultiplyTransposed(Selected, x, ldx, w, ldw, bias, y, ldy, m, n, k);

    /// <summary>As <see cref="MultiplyTransposed(ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, Span{float}, int, int, int, int)"/>, split over <paramref name="pool"/>.</summary>
    public static void MultiplyTransposed(
        WorkerPool pool, ReadOnlySpan<float> x, int ldx, ReadOnlySpan<float> w, int ldw, ReadOnlySpan<float> bias, Span<float> y, int ldy, int m, int n, int k)
    {
        ArgumentNullException.ThrowIfNull(pool);
        CheckTransposed(x, ldx, w, ldw, bias, y, ldy, m, n, k);
        if (m == 0 || n == 0)
        {
            return;
        }

        fixed (float* px = x, pw = w, pb = bias, py = y)
        {
            var args = new TransposedArgs(px, ldx, pw, ldw, bias.IsEmpty ? null : pb, py, ldy, k);
            long work = (long)m * n * Math.Max(k, 1);
            if (pool.DegreeOfParallelism == 1 || work < ParallelThreshold)
            {
                RunTransposed(Selected, args, 0, m, 0, n);
                return;
            }

            int rowBlocks = (m + RowsPerTask - 1) / RowsPerTask;
            int columnsPerTask = ColumnsPerTask;

            // Few rows (a short input): split the columns finer so every worker gets several tasks.
            while (columnsPerTask > 8 && rowBlocks * ((n + columnsPerTask - 1) / columnsPerTask) < 4 * pool.DegreeOfParallelism)
            {
                columnsPerTask /= 2;
            }

            int columnBlocks = (n + columnsPerTask - 1) / columnsPerTask;
            pool.For(rowBlocks * columnBlocks, new TransposedTask(args, Selected, m, n, columnBlocks, columnsPerTask));
        }
    }

    /// <summary>
    /// <c>y[i, j] = Σₖ x[i, k] · b[k, j]</c> for <c>i &lt; m</c>, <c>j &lt; n</c>: attention probabilities times values.
    /// Runs on the calling thread.
    /// </summary>
    public static void Multiply(ReadOnlySpan<float> x, int ldx, ReadOnlySpan<float> b, int ldb, Span<float> y, int ldy, int m, int n, int k)
        => Multiply(Selected, x, ldx, b, ldb, y, ldy, m, n, k);

    internal static void MultiplyTransposed(
        GemmVariant variant, ReadOnlySpan<float> x, int ldx, ReadOnlySpan<float> w, int ldw, ReadOnlySpan<float> bias, Span<float> y, int ldy, int m, int n, int k)
    {
        CheckTransposed(x, ldx, w, ldw, bias, y, ldy, m, n, k);
        if (m == 0 || n == 0)
        {
            return;
        }

        fixed (float* px = x, pw = w, pb = bias, py = y)
        {
            RunTransposed(variant, new TransposedArgs(px, ldx, pw, ldw, bias.IsEmpty ? null : pb, py, ldy, k), 0, m, 0, n);
        }
    }

    /// <summary>
    /// As <see cref="Multiply(ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, int, int, int)"/> where
    /// row <c>i</c> needs only columns <c>[first[i], last[i]]</c> (attention's position terms: each query reads one
    /// band of relative distances). Those are computed exactly as the full product computes them; tiles whose rows
    /// need none of their columns are skipped, so the rest of <paramref name="y"/> is unspecified.
    /// </summary>
    public static void MultiplyBanded(
        ReadOnlySpan<float> x, int ldx, ReadOnlySpan<float> b, int ldb, Span<float> y, int ldy, int m, int n, int k, ReadOnlySpan<int> first, ReadOnlySpan<int> last)
    {
        if (first.Length < m || last.Length < m)
        {
            throw new ArgumentException($"The bands need {m} first and last columns, have {first.Length} and {last.Length}.", nameof(first));
        }

        fixed (int* pf = first, pl = last)
        {
            Multiply(Selected, x, ldx, b, ldb, y, ldy, m, n, k, pf, pl);
        }
    }

    internal static void Multiply(GemmVariant variant, ReadOnlySpan<float> x, int ldx, ReadOnlySpan<float> b, int ldb, Span<float> y, int ldy, int m, int n, int k) =>
        Multiply(variant, x, ldx, b, ldb, y, ldy, m, n, k, null, null);

    private static void Multiply(
        GemmVariant variant, ReadOnlySpan<float> x, int ldx, ReadOnlySpan<float> b, int ldb, Span<float> y, int ldy, int m, int n, int k, int* first, int* last)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckMatrix(x.Length, m, k, ldx, nameof(x));
        CheckMatrix(b.Length, k, n, ldb, nameof(b));
        CheckMatrix(y.Length, m, n, ldy, nameof(y));
        CheckNoOverlap(y, x, nameof(x));
        CheckNoOverlap(y, b, nameof(b));
        if (m == 0 || n == 0)
        {
            return;
        }

        fixed (float* px = x, pb = b, py = y)
        {
            var args = new PlainArgs(px, ldx, pb, ldb, py, ldy, n, k, first, last);
            switch (variant)
            {
                case GemmVariant.Vector512: MultiplyTiles<Vector512Ops, Vector512<float>>(args, 0, m); break;
                case GemmVariant.Vector256: MultiplyTiles<Vector256Ops, Vector256<float>>(args, 0, m); break;
                case GemmVariant.Vector128: MultiplyTiles<Vector128Ops, Vector128<float>>(args, 0, m); break;
                default: MultiplyScalar(args, 0, m); break;
            }
        }
    }

    private static void RunTransposed(GemmVariant variant, in TransposedArgs args, int m0, int m1, int n0, int n1)
    {
        switch (variant)
        {
            case GemmVariant.Vector512: MultiplyTransposedTiles<Vector512Ops, Vector512<float>>(args, m0, m1, n0, n1); break;
            case GemmVariant.Vector256: MultiplyTransposedTiles<Vector256Ops, Vector256<float>>(args, m0, m1, n0, n1); break;
            case GemmVariant.Vector128: MultiplyTransposedTiles<Vector128Ops, Vector128<float>>(args, m0, m1, n0, n1); break;
            default: MultiplyTransposedScalar(args, m0, m1, n0, n1); break;
        }
    }

    private static void CheckTransposed(
        ReadOnlySpan<float> x, int ldx, ReadOnlySpan<float> w, int ldw, ReadOnlySpan<float> bias, Span<float> y, int ldy, int m, int n, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckMatrix(x.Length, m, k, ldx, nameof(x));
        CheckMatrix(w.Length, n, k, ldw, nameof(w));
        CheckMatrix(y.Length, m, n, ldy, nameof(y));
        if (!bias.IsEmpty && bias.Length < n)
        {
            throw new ArgumentException($"Bias has {bias.Length} values for {n} outputs.", nameof(bias));
        }

        CheckNoOverlap(y, x, nameof(x));
        CheckNoOverlap(y, w, nameof(w));
        CheckNoOverlap(y, bias, nameof(bias));
    }

    /// <summary>A <paramref name="rows"/>×<paramref name="columns"/> view with row stride <paramref name="ld"/> must lie within <paramref name="length"/>.</summary>
    private static void CheckMatrix(int length, int rows, int columns, int ld, string name)
    {
        if (ld < columns)
        {
            throw new ArgumentException($"Leading dimension {ld} of {name} is smaller than its {columns} columns.", name);
        }

        if (rows > 0 && columns > 0 && ((long)(rows - 1) * ld) + columns > length)
        {
            throw new ArgumentException($"{name} needs {((long)(rows - 1) * ld) + columns} elements for {rows}×{columns} with stride {ld}, has {length}.", name);
        }
    }

    private static void CheckNoOverlap(Span<float> output, ReadOnlySpan<float> input, string name)
    {
        if (!output.IsEmpty && output.Overlaps(input))
        {
            throw new ArgumentException($"The output overlaps {name}.", name);
        }
    }

    internal readonly struct TransposedArgs(float* x, int ldx, float* w, int ldw, float* bias, float* y, int ldy, int k)
    {
        public readonly float* X = x;
        public readonly int Ldx = ldx;
        public readonly float* W = w;
        public readonly int Ldw = ldw;
        public readonly float* Bias = bias;
        public readonly float* Y = y;
        public readonly int Ldy = ldy;
        public readonly int K = k;
    }

    internal readonly struct PlainArgs(float* x, int ldx, float* b, int ldb, float* y, int ldy, int n, int k, int* first, int* last)
    {
        /// <summary>Per row, the first and last column it needs; null: every column.</summary>
        public readonly int* First = first;
        public readonly int* Last = last;

        public readonly float* X = x;
        public readonly int Ldx = ldx;
        public readonly float* B = b;
        public readonly int Ldb = ldb;
        public readonly float* Y = y;
        public readonly int Ldy = ldy;
        public readonly int N = n;
        public readonly int K = k;
    }

    /// <summary>One parallel task: a block of rows times a block of columns. The caller keeps the operands pinned until the loop returns.</summary>
    private readonly struct TransposedTask(TransposedArgs args, GemmVariant variant, int m, int n, int columnBlocks, int columnsPerTask) : IParallelBody
    {
        public void Invoke(int index, int workerIndex)
        {
            int m0 = index / columnBlocks * RowsPerTask;
            int n0 = index % columnBlocks * columnsPerTask;
            RunTransposed(variant, args, m0, Math.Min(m0 + RowsPerTask, m), n0, Math.Min(n0 + columnsPerTask, n));
        }
    }
}
