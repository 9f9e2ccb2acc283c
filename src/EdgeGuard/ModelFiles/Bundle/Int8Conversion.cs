using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>
/// What an architecture prepared for its int8 engine, for an int8 bundle to store in place of float weights: packed
/// linear layers (under their Hugging Face prefixes), float16 lookup tables, and tensors computed at conversion
/// from weights the file then no longer needs (named under the architecture's namespace).
/// </summary>
/// <param name="WeightLimit">The largest |w| of every packed layer: 127 (8-bit weights) or 63 (7-bit).</param>
public sealed record Int8Conversion(
    IReadOnlyList<Int8Conversion.PackedLinear> Linears,
    IReadOnlyList<Int8Conversion.HalfTable> HalfTables,
    IReadOnlyList<Int8Conversion.Precomputed> PrecomputedTensors,
    int WeightLimit)
{
    /// <summary>A linear layer <c>P</c> whose <c>P.weight</c> the bundle stores as <c>P.qweight</c>, <c>.qscale</c>, <c>.qsum</c>.</summary>
    public sealed record PackedLinear(string Prefix, PackedInt8Matrix Matrix);

    /// <summary>A tensor the bundle stores as float16 instead of float32, <c>[Rows, Columns]</c>.</summary>
    public sealed record HalfTable(string Name, int Rows, int Columns, ReadOnlyMemory<Half> Values);

    /// <summary>A float32 tensor computed at conversion, <c>[Rows, Columns]</c>.</summary>
    public sealed record Precomputed(string Name, int Rows, int Columns, ReadOnlyMemory<float> Values);
}
