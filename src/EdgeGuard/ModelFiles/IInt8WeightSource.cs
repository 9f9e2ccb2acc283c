using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.ModelFiles;

/// <summary>
/// A weight source that may also hold what conversion prepared for the int8 engine: packed int8 linear layers, float16
/// or Q8_0 lookup tables, and tensors an architecture precomputed from weights the file no longer holds (an int8 bundle).
/// </summary>
public interface IInt8WeightSource
{
    /// <summary>
    /// The packed int8 weights of the linear layer under <paramref name="prefix"/> (<c>prefix.qweight</c>,
    /// <c>.qscale</c>, <c>.qsum</c>), or null when the layer is stored as float.
    /// </summary>
    /// <exception cref="ModelFileException">The tensors exist but their shapes do not fit <paramref name="rows"/>×<paramref name="columns"/>.</exception>
    PackedInt8Matrix? FindInt8Linear(string prefix, int rows, int columns);

    /// <summary>
    /// The float32 tensor <paramref name="name"/> an architecture precomputed at conversion (named under the
    /// architecture's own namespace, e.g. <c>deberta-v2.rel_pos.0.key</c>), <c>[rows, columns]</c>, or null when the
    /// file does not hold it.
    /// </summary>
    /// <exception cref="ModelFileException">The tensor exists with another type or shape.</exception>
    ReadOnlyMemory<float>? FindPrecomputed(string name, int rows, int columns);

    /// <summary>
    /// The tensor <paramref name="name"/> as stored float16 values when the file holds it so (int8 bundles store the
    /// word embedding table that way, to be widened row by row on lookup), else null.
    /// </summary>
    /// <exception cref="ModelFileException">The tensor is float16 but not <paramref name="rows"/>×<paramref name="columns"/>.</exception>
    ReadOnlyMemory<Half>? FindHalfTable(string name, int rows, int columns);

    /// <summary>
    /// The tensor <paramref name="name"/> as stored Q8_0 blocks (<see cref="Kernels.Int8.Q8Blocks"/>, row after row) when
    /// the file holds it so (int8 bundles store the word embedding table that way, dequantised row by row on lookup),
    /// else null.
    /// </summary>
    /// <exception cref="ModelFileException">The tensor is Q8_0 but not <paramref name="rows"/>×<paramref name="columns"/>.</exception>
    ReadOnlyMemory<byte>? FindQ8Table(string name, int rows, int columns);
}
