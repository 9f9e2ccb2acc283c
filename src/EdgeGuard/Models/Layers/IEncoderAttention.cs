using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Models.Layers;

/// <summary>The self-attention of one encoder layer, whatever its kind (scaled dot product, disentangled).</summary>
internal interface IEncoderAttention
{
    /// <summary>The Q/K/V projections, for export.</summary>
    IEnumerable<Linear> Linears { get; }

    /// <summary>This attention with int8 projections, as <paramref name="plan"/> quantises them.</summary>
    IEncoderAttention WithInt8Weights(Int8Plan plan);

    /// <summary>
    /// Reads <see cref="EncoderWorkspace.Hidden"/>, writes <see cref="EncoderWorkspace.Context"/>: for every token, or
    /// with <paramref name="classTokensOnly"/> for token 0 of each row alone — keys and values of every token, the
    /// queries of <see cref="EncoderWorkspace.Cls"/>, and row b of the context for row b of the batch.
    /// </summary>
    void Forward(WorkerPool pool, EncoderWorkspace workspace, bool classTokensOnly = false);
}
