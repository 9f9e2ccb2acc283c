namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// Weights of a linear layer (<c>[out, in]</c>, as PyTorch stores them) quantised to int8, symmetric per output
/// channel, in the layout every <see cref="Int8Gemm"/> variant reads: panels of <see cref="PanelWidth"/> output
/// channels, each panel <see cref="PaddedColumns"/> / 4 steps of 4 consecutive inputs, a step holding channel 0's
/// four weights, then channel 1's, … (64 bytes). Layout key <see cref="LayoutKey"/>.
/// </summary>
/// <remarks>
/// One step is what the kernels multiply by four activations broadcast to every lane: a 32-bit lane per channel
/// (<c>vpmaddubsw</c>+<c>vpmaddwd</c>, <c>vpdpbusd</c>, <c>sdot</c> all sum four byte products into one), so the
/// output of a 16-channel panel leaves the kernel as whole vectors, with no horizontal sum, and each activation is
/// loaded once per panel rather than once per channel pair. Inputs are padded with zeros to
/// <see cref="ColumnAlignment"/> and channels to a whole panel, so no kernel has a tail: zero weights make whatever
/// the padding of the activations holds contribute nothing. Values are in [-<see cref="WeightLimit"/>,
/// <see cref="WeightLimit"/>], the limit 127 (never -128: the AVX-512BW kernel negates weights, and <c>|w| ≤ 127</c>
/// is what keeps the 16-bit pair sums of the AVX kernels from saturating) or 63, which lets the AVX2 kernel add two
/// steps' pair sums in int16 before widening them (see docs/decisions/0005).
/// </remarks>
public sealed class PackedInt8Matrix
{
    /// <summary>Inputs every panel is padded to a multiple of.</summary>
    public const int ColumnAlignment = 64;

    /// <summary>Output channels per panel.</summary>
    public const int PanelWidth = 16;

    /// <summary>Inputs per panel step: the four bytes one 32-bit lane sums.</summary>
    public const int StepDepth = 4;

    /// <summary>Names this layout in bundles, so a reader refuses a layout it does not know.</summary>
    public const string LayoutKey = "i8-panels16x4-k64";

    /// <summary>The weight limit of 8-bit quantisation: every kernel reads it.</summary>
    public const int FullWeightLimit = 127;

    /// <summary>The weight limit of 7-bit quantisation (<c>edgeguard convert --weight-bits 7</c>): the AVX2 kernel's fast path.</summary>
    public const int SevenBitWeightLimit = 63;

    /// <summary>Wraps already packed data (from a bundle); checks sizes and the limit's range only.</summary>
    /// <param name="weightLimit">The largest |w| the data holds, as its writer quantised it: <see cref="FullWeightLimit"/> or <see cref="SevenBitWeightLimit"/>.</param>
    public PackedInt8Matrix(int rows, int columns, ReadOnlyMemory<sbyte> data, ReadOnlyMemory<float> scales, ReadOnlyMemory<int> channelSums, int weightLimit = FullWeightLimit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        CheckWeightLimit(weightLimit);
        int padded = PadColumns(columns);
        if (data.Length != (long)PadRows(rows) * padded || scales.Length != rows || channelSums.Length != rows)
        {
            throw new ArgumentException(
                $"A packed {rows}×{columns} int8 matrix needs {(long)PadRows(rows) * padded} bytes, {rows} scales and {rows} sums; got {data.Length}, {scales.Length}, {channelSums.Length}.");
        }

        Rows = rows;
        Columns = columns;
        PaddedColumns = padded;
        Data = data;
        Scales = scales;
        ChannelSums = channelSums;
        WeightLimit = weightLimit;
    }

    /// <summary>The largest |w| in <see cref="Data"/>: <see cref="FullWeightLimit"/> or <see cref="SevenBitWeightLimit"/>.</summary>
    public int WeightLimit { get; }

    /// <summary>Output channels (rows of W).</summary>
    public int Rows { get; }

    /// <summary>Input features (the dot-product length k).</summary>
    public int Columns { get; }

    /// <summary><see cref="Columns"/> rounded up to <see cref="ColumnAlignment"/>: the depth of every panel.</summary>
    public int PaddedColumns { get; }

    /// <summary><see cref="Rows"/> rounded up to whole panels.</summary>
    public int PaddedRows => PadRows(Rows);

    /// <summary>Number of <see cref="PanelWidth"/>-channel panels.</summary>
    public int Panels => PaddedRows / PanelWidth;

    /// <summary><see cref="PaddedRows"/> × <see cref="PaddedColumns"/> quantised weights in panel order.</summary>
    public ReadOnlyMemory<sbyte> Data { get; }

    /// <summary>Per output channel: the float value of one quantisation step (<c>max|w| / WeightLimit</c>).</summary>
    public ReadOnlyMemory<float> Scales { get; }

    /// <summary>Per output channel: <c>Σₖ q[n, k]</c>, which the kernels that feed activations with an unsigned offset need to remove it.</summary>
    public ReadOnlyMemory<int> ChannelSums { get; }

    /// <summary>The quantised weight of output channel <paramref name="row"/>, input <paramref name="column"/>.</summary>
    public sbyte this[int row, int column]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(row);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Rows);
            ArgumentOutOfRangeException.ThrowIfNegative(column);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(column, Columns);
            return Data.Span[(int)Offset(row, column, PaddedColumns)];
        }
    }

    /// <summary><paramref name="columns"/> rounded up to <see cref="ColumnAlignment"/>.</summary>
    public static int PadColumns(int columns) => (columns + ColumnAlignment - 1) / ColumnAlignment * ColumnAlignment;

    /// <summary><paramref name="rows"/> rounded up to <see cref="PanelWidth"/>.</summary>
    public static int PadRows(int rows) => (rows + PanelWidth - 1) / PanelWidth * PanelWidth;

    /// <summary>Quantises float32 weights <c>[rows, columns]</c> (row stride <paramref name="ld"/>), symmetric per row, to ±<paramref name="weightLimit"/>.</summary>
    public static PackedInt8Matrix Quantize(ReadOnlySpan<float> weights, int ld, int rows, int columns, int weightLimit = FullWeightLimit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        CheckWeightLimit(weightLimit);
        if (ld < columns || (rows > 0 && ((long)(rows - 1) * ld) + columns > weights.Length))
        {
            throw new ArgumentException($"{rows}×{columns} weights with stride {ld} need more than the {weights.Length} given.", nameof(weights));
        }

        int padded = PadColumns(columns);
        var data = new sbyte[(long)PadRows(rows) * padded];
        var scales = new float[rows];
        var sums = new int[rows];
        var row = new sbyte[columns];
        for (int r = 0; r < rows; r++)
        {
            scales[r] = ActivationQuantizer.QuantizeRowScalar(weights.Slice(r * ld, columns), row, weightLimit);
            int sum = 0;
            for (int c = 0; c < columns; c++)
            {
                data[Offset(r, c, padded)] = row[c];
                sum += row[c];
            }

            sums[r] = sum;
        }

        return new PackedInt8Matrix(rows, columns, data, scales, sums, weightLimit);
    }

    /// <summary>Whether <paramref name="weightLimit"/> is one the kernels read: <see cref="FullWeightLimit"/> or <see cref="SevenBitWeightLimit"/>.</summary>
    public static bool IsWeightLimit(long weightLimit) => weightLimit is FullWeightLimit or SevenBitWeightLimit;

    private static void CheckWeightLimit(int weightLimit)
    {
        if (!IsWeightLimit(weightLimit))
        {
            throw new ArgumentOutOfRangeException(
                nameof(weightLimit), weightLimit, $"Int8 weights are quantised to ±{FullWeightLimit} (8 bits) or ±{SevenBitWeightLimit} (7 bits).");
        }
    }

    private static long Offset(int row, int column, int paddedColumns) =>
        ((long)(row / PanelWidth) * paddedColumns * PanelWidth) + ((column / StepDepth) * PanelWidth * StepDepth) + ((row % PanelWidth) * StepDepth) + (column % StepDepth);
}
