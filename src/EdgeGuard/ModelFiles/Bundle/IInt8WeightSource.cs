using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>A weight source that also holds int8 linear layers and precomputed position projections (bundle format version 2).</summary>
public interface IInt8WeightSource
{
    /// <summary>
    /// The packed int8 weights of the linear layer under <paramref name="prefix"/> (<c>prefix.qweight</c>,
    /// <c>.qscale</c>, <c>.qsum</c>), or null when the layer is stored as float.
    /// </summary>
    /// <exception cref="ModelFileException">The tensors exist but their shapes do not fit <paramref name="rows"/>×<paramref name="columns"/>.</exception>
    PackedInt8Matrix? FindInt8Linear(string prefix, int rows, int columns);

    /// <summary>
    /// <c>edgeguard.rel_pos.{layer}.{kind}</c> (<paramref name="kind"/> <c>key</c> or <c>query</c>): a layer's
    /// projection of LayerNorm(rel_embeddings), <c>[rows, hidden]</c>, or null when the file does not hold it.
    /// </summary>
    ReadOnlyMemory<float>? FindPositionProjection(int layer, string kind, int rows, int hidden);

    /// <summary>
    /// The tensor <paramref name="name"/> as stored float16 values when the file holds it so (int8 bundles store the
    /// word embedding table that way, to be widened row by row on lookup), else null.
    /// </summary>
    /// <exception cref="ModelFileException">The tensor is float16 but not <paramref name="rows"/>×<paramref name="columns"/>.</exception>
    ReadOnlyMemory<Half>? FindHalfTable(string name, int rows, int columns);
}
