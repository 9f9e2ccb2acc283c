using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Models.Deberta;

/// <summary><c>ContextPooler</c>: the hidden state of token 0 ([CLS]) through a dense layer and GELU (pooler_hidden_act).</summary>
internal sealed class ContextPooler(Linear dense)
{
    public static ContextPooler Load(WeightLoader weights, DebertaConfig config) =>
        new(Linear.Load(weights.Child("dense"), config.HiddenSize, config.HiddenSize));

    /// <param name="pool">Runs the product.</param>
    /// <param name="cls">[rows, hidden] token-0 states.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="pooled">[rows, hidden] output.</param>
    /// <param name="scratch">Quantisation buffer, used when the dense layer is int8.</param>
    public void Forward(WorkerPool pool, ReadOnlySpan<float> cls, int rows, Span<float> pooled, QuantizedRows? scratch)
    {
        Span<float> output = pooled[..(rows * dense.OutFeatures)];
        dense.Forward(pool, cls, rows, output, scratch);
        Gelu.Apply(output);
    }

    /// <summary>The dense layer, for export.</summary>
    public Linear Dense => dense;

    /// <summary>This pooler with an int8 dense layer.</summary>
    public ContextPooler WithInt8Weights(int weightLimit) => new(dense.WithInt8Weights(weightLimit));
}
