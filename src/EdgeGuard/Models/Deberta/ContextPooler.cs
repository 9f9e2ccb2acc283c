using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Models.Deberta;

/// <summary><c>ContextPooler</c>: the hidden state of token 0 ([CLS]) through a dense layer and GELU (pooler_hidden_act).</summary>
internal sealed class ContextPooler(Linear dense)
{
    public static ContextPooler Load(WeightLoader weights, DebertaConfig config) =>
        new(Linear.Load(weights.Child("dense"), config.HiddenSize, config.HiddenSize));

    /// <summary><paramref name="cls"/>: [rows, hidden] token-0 states; <paramref name="pooled"/>: [rows, hidden].</summary>
    public void Forward(WorkerPool pool, ReadOnlySpan<float> cls, int rows, Span<float> pooled)
    {
        Span<float> output = pooled[..(rows * dense.OutFeatures)];
        dense.Forward(pool, cls, rows, output);
        Gelu.Apply(output);
    }
}
