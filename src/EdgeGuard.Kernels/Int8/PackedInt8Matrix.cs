namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// Weights of a linear layer (<c>[out, in]</c>, as PyTorch stores them) quantised to int8, symmetric per output
/// channel, in the layout every <see cref="Int8Gemm"/> variant reads: one row per output channel, each row
/// <see cref="PaddedColumns"/> bytes long, the padding zero. Layout key <see cref="LayoutKey"/>.
/// </summary>
/// <remarks>
/// Padding every row to <see cref="ColumnAlignment"/> bytes means no kernel has a k tail: the widest vector (64 bytes)
/// divides every row, and zero weights make whatever the activation padding holds contribute nothing.
/// Values are in [-127, 127] (never -128): the AVX2 and AVX-512BW kernels negate weights, and
/// <c>|w| ≤ 127</c> is what keeps their 16-bit pair sums from saturating (see docs/decisions/0005).
/// </remarks>
public sealed class PackedInt8Matrix
{
    /// <summary>Bytes every row is padded to.</summary>
    public const int ColumnAlignment = 64;

    /// <summary>Names this layout in bundles, so a reader refuses a layout it does not know.</summary>
    public const string LayoutKey = "i8-rows-k64";

    /// <summary>Wraps already packed data (from a bundle); checks sizes only.</summary>
    public PackedInt8Matrix(int rows, int columns, ReadOnlyMemory<sbyte> data, ReadOnlyMemory<float> scales, ReadOnlyMemory<int> channelSums)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        int padded = PadColumns(columns);
        if (data.Length != (long)rows * padded || scales.Length != rows || channelSums.Length != rows)
        {
            throw new ArgumentException(
                $"A packed {rows}×{columns} int8 matrix needs {(long)rows * padded} bytes, {rows} scales and {rows} sums; got {data.Length}, {scales.Length}, {channelSums.Length}.");
        }

        Rows = rows;
        Columns = columns;
        PaddedColumns = padded;
        Data = data;
        Scales = scales;
        ChannelSums = channelSums;
    }

    /// <summary>Output channels (rows of W).</summary>
    public int Rows { get; }

    /// <summary>Input features (the dot-product length k).</summary>
    public int Columns { get; }

    /// <summary><see cref="Columns"/> rounded up to <see cref="ColumnAlignment"/>: the row stride of <see cref="Data"/>.</summary>
    public int PaddedColumns { get; }

    /// <summary><see cref="Rows"/> × <see cref="PaddedColumns"/> quantised weights.</summary>
    public ReadOnlyMemory<sbyte> Data { get; }

    /// <summary>Per output channel: the float value of one quantisation step (<c>max|w| / 127</c>).</summary>
    public ReadOnlyMemory<float> Scales { get; }

    /// <summary>Per output channel: <c>Σₖ q[n, k]</c>, which the u8×s8 (VNNI) kernel needs to remove its +128 activation offset.</summary>
    public ReadOnlyMemory<int> ChannelSums { get; }

    /// <summary><paramref name="columns"/> rounded up to <see cref="ColumnAlignment"/>.</summary>
    public static int PadColumns(int columns) => (columns + ColumnAlignment - 1) / ColumnAlignment * ColumnAlignment;

    /// <summary>Quantises float32 weights <c>[rows, columns]</c> (row stride <paramref name="ld"/>), symmetric per row.</summary>
    public static PackedInt8Matrix Quantize(ReadOnlySpan<float> weights, int ld, int rows, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if (ld < columns || (rows > 0 && ((long)(rows - 1) * ld) + columns > weights.Length))
        {
            throw new ArgumentException($"{rows}×{columns} weights with stride {ld} need more than the {weights.Length} given.", nameof(weights));
        }

        int padded = PadColumns(columns);
        var data = new sbyte[(long)rows * padded];
        var scales = new float[rows];
        var sums = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = weights.Slice(r * ld, columns);
            scales[r] = ActivationQuantizer.QuantizeRowScalar(row, data.AsSpan(r * padded, columns));
            int sum = 0;
            foreach (sbyte q in data.AsSpan(r * padded, columns))
            {
                sum += q;
            }

            sums[r] = sum;
        }

        return new PackedInt8Matrix(rows, columns, data, scales, sums);
    }
}
