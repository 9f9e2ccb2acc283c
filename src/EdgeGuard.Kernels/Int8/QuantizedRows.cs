using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// Activations quantised per row for one <see cref="Int8Gemm"/> call: bytes with row stride
/// <see cref="PaddedColumns"/> and one float scale per row. Allocated once per workspace and reused for every layer.
/// </summary>
/// <remarks>
/// A kernel whose multiply takes unsigned activations reads each value with an offset (<see cref="Offset"/>):
/// the byte is stored already offset, so the kernel's inner loop does not add it to every broadcast.
/// </remarks>
public sealed class QuantizedRows
{
    private readonly sbyte[] _data;
    private readonly float[] _scales;

    /// <summary>
    /// Room for <paramref name="maxRows"/> rows of up to <paramref name="maxColumns"/> values, quantised for the kernel
    /// this process selected (<see cref="Int8Gemm.Selected"/>).
    /// </summary>
    public QuantizedRows(int maxRows, int maxColumns)
        : this(maxRows, maxColumns, Int8Gemm.Selected)
    {
    }

    /// <summary>As <see cref="QuantizedRows(int, int)"/>, for <paramref name="variant"/>'s limit and offset.</summary>
    public QuantizedRows(int maxRows, int maxColumns, Int8GemmVariant variant)
        : this(maxRows, maxColumns, Int8Gemm.ActivationLimit(variant), Int8Gemm.ActivationOffset(variant))
    {
    }

    /// <summary>As <see cref="QuantizedRows(int, int)"/>, values quantised to <c>[-limit, limit]</c> and stored as they are (offset 0).</summary>
    /// <param name="limit">1 to 127; <see cref="Int8Gemm.ActivationLimit"/> says what a kernel accepts.</param>
    public QuantizedRows(int maxRows, int maxColumns, int limit)
        : this(maxRows, maxColumns, limit, 0)
    {
    }

    private QuantizedRows(int maxRows, int maxColumns, int limit, int offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRows);
        ArgumentOutOfRangeException.ThrowIfNegative(maxColumns);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 127);
        MaxRows = maxRows;
        MaxColumns = maxColumns;
        Limit = limit;
        Offset = offset;

        _data = new sbyte[(long)maxRows * PackedInt8Matrix.PadColumns(maxColumns)];
        _scales = new float[maxRows];
    }

    public int MaxRows { get; }

    public int MaxColumns { get; }

    /// <summary>Largest magnitude a quantised value takes.</summary>
    public int Limit { get; }

    /// <summary>Added (modulo 256) to every quantised value as it is stored: 0 (signed bytes), 64 or 128 (unsigned).</summary>
    public int Offset { get; }

    /// <summary>Rows quantised by the last <see cref="Quantize(ReadOnlySpan{float}, int, int, int)"/>.</summary>
    public int Rows { get; private set; }

    /// <summary>Columns of the last <see cref="Quantize(ReadOnlySpan{float}, int, int, int)"/>.</summary>
    public int Columns { get; private set; }

    /// <summary>Row stride of <see cref="Data"/> for the current columns.</summary>
    public int PaddedColumns { get; private set; }

    internal sbyte[] Data => _data;

    internal float[] Scales => _scales;

    /// <summary>The quantised value at <paramref name="row"/>, <paramref name="column"/> (without the offset).</summary>
    public int Value(int row, int column)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Rows);
        ArgumentOutOfRangeException.ThrowIfNegative(column);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(column, Columns);
        sbyte stored = _data[(row * PaddedColumns) + column];
        return Offset == 0 ? stored : (byte)stored - Offset;
    }

    /// <summary>The scale of row <paramref name="row"/>: value = q · scale.</summary>
    public float Scale(int row) => _scales[row];

    /// <summary>Quantises <paramref name="rows"/> rows of <paramref name="columns"/> values, <paramref name="ldx"/> apart.</summary>
    public void Quantize(ReadOnlySpan<float> x, int ldx, int rows, int columns) =>
        Quantize(ActivationQuantizer.UseVector, x, ldx, rows, columns);

    /// <summary>As <see cref="Quantize(ReadOnlySpan{float}, int, int, int)"/>, rows split over <paramref name="pool"/>.</summary>
    public unsafe void Quantize(WorkerPool pool, ReadOnlySpan<float> x, int ldx, int rows, int columns)
    {
        ArgumentNullException.ThrowIfNull(pool);
        Check(x, ldx, rows, columns);
        if (pool.DegreeOfParallelism == 1 || (long)rows * columns < RowsPerTask * 1024)
        {
            Quantize(ActivationQuantizer.UseVector, x, ldx, rows, columns);
            return;
        }

        SetShape(rows, columns);
        fixed (float* px = x)
        {
            pool.For((rows + RowsPerTask - 1) / RowsPerTask, new RowsTask(this, px, ldx, rows, columns));
        }
    }

    private const int RowsPerTask = 8;

    internal void Quantize(bool vector, ReadOnlySpan<float> x, int ldx, int rows, int columns)
    {
        Check(x, ldx, rows, columns);
        SetShape(rows, columns);
        for (int r = 0; r < rows; r++)
        {
            QuantizeRow(vector, x.Slice(r * ldx, columns), r);
        }
    }

    private void QuantizeRow(bool vector, ReadOnlySpan<float> row, int r)
    {
        int padded = PaddedColumns;
        Span<sbyte> q = _data.AsSpan(r * padded, Columns);
        _scales[r] = vector ? ActivationQuantizer.QuantizeRowVector(row, q, Limit, Offset) : ActivationQuantizer.QuantizeRowScalar(row, q, Limit, Offset);

        // An earlier, wider call may have left values where this row's padding is.
        _data.AsSpan((r * padded) + Columns, padded - Columns).Clear();
    }

    private void SetShape(int rows, int columns)
    {
        Rows = rows;
        Columns = columns;
        PaddedColumns = PackedInt8Matrix.PadColumns(columns);
    }

    private void Check(ReadOnlySpan<float> x, int ldx, int rows, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if (rows > MaxRows || columns > MaxColumns)
        {
            throw new ArgumentException($"{rows}×{columns} does not fit the {MaxRows}×{MaxColumns} this buffer was made for.");
        }

        if (ldx < columns || (rows > 0 && ((long)(rows - 1) * ldx) + columns > x.Length))
        {
            throw new ArgumentException($"{rows}×{columns} values with stride {ldx} need more than the {x.Length} given.", nameof(x));
        }
    }

    private readonly unsafe struct RowsTask(QuantizedRows target, float* x, int ldx, int rows, int columns) : IParallelBody
    {
        public void Invoke(int index, int workerIndex)
        {
            int end = Math.Min((index + 1) * RowsPerTask, rows);
            for (int r = index * RowsPerTask; r < end; r++)
            {
                target.QuantizeRow(ActivationQuantizer.UseVector, new ReadOnlySpan<float>(x + ((long)r * ldx), columns), r);
            }
        }
    }
}
