using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>
/// What an architecture prepared for its int8 engine, for an int8 bundle to store in place of float weights: packed
/// linear layers (under their Hugging Face prefixes), float16 or Q8_0 lookup tables, and tensors computed at conversion
/// from weights the file then no longer needs (named under the architecture's namespace).
/// </summary>
/// <param name="WeightLimit">The largest |w| of every packed layer: 127 (8-bit weights) or 63 (7-bit).</param>
public sealed record Int8Conversion(
    IReadOnlyList<Int8Conversion.PackedLinear> Linears,
    IReadOnlyList<Int8Conversion.HalfTable> HalfTables,
    IReadOnlyList<Int8Conversion.Precomputed> PrecomputedTensors,
    int WeightLimit)
{
    /// <summary>Lookup tables the bundle stores as Q8_0 blocks instead of float32 (<see cref="WithQ8Tables"/>).</summary>
    public IReadOnlyList<Q8Table> Q8Tables { get; init; } = [];

    /// <summary>
    /// This conversion with each float16 table whose width is whole Q8_0 blocks (<see cref="Q8Blocks.BlockLength"/>)
    /// stored as Q8_0 instead, quantised from its float32 values in <paramref name="weights"/> (not from the float16
    /// copy, which would round twice); narrower-blocked tables stay float16.
    /// </summary>
    /// <exception cref="ModelFileException">A table cannot be read from <paramref name="weights"/>.</exception>
    public Int8Conversion WithQ8Tables(ITensorSource weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var half = new List<HalfTable>();
        var q8 = new List<Q8Table>(Q8Tables);
        foreach (HalfTable table in HalfTables)
        {
            if (table.Columns % Q8Blocks.BlockLength != 0)
            {
                half.Add(table);
                continue;
            }

            ReadOnlySpan<float> values = weights.ReadFloat32(table.Name).Span;
            if (values.Length != (long)table.Rows * table.Columns)
            {
                throw new ModelFileException($"{weights.Origin}: tensor '{table.Name}' holds {values.Length} values, not {table.Rows}×{table.Columns}");
            }

            byte[] blocks = new byte[Q8Blocks.ByteCount(values.Length)];
            Q8Blocks.Quantize(values, blocks);
            q8.Add(new Q8Table(table.Name, table.Rows, table.Columns, blocks));
        }

        return this with { HalfTables = half, Q8Tables = q8 };
    }

    /// <summary>A linear layer <c>P</c> whose <c>P.weight</c> the bundle stores as <c>P.qweight</c>, <c>.qscale</c>, <c>.qsum</c>.</summary>
    public sealed record PackedLinear(string Prefix, PackedInt8Matrix Matrix);

    /// <summary>A tensor the bundle stores as float16 instead of float32, <c>[Rows, Columns]</c>.</summary>
    public sealed record HalfTable(string Name, int Rows, int Columns, ReadOnlyMemory<Half> Values);

    /// <summary>A tensor the bundle stores as Q8_0 blocks (<see cref="Q8Blocks"/>, row after row) instead of float32, <c>[Rows, Columns]</c>.</summary>
    public sealed record Q8Table(string Name, int Rows, int Columns, ReadOnlyMemory<byte> Blocks);

    /// <summary>A float32 tensor computed at conversion, <c>[Rows, Columns]</c>.</summary>
    public sealed record Precomputed(string Name, int Rows, int Columns, ReadOnlyMemory<float> Values);
}
