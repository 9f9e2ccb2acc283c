using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Models.Deberta;

/// <summary>
/// <c>DebertaV2Layer</c>: disentangled self-attention, attention output (dense, residual LayerNorm),
/// intermediate (dense, exact GELU), output (dense, residual LayerNorm). Dropout is inference-time identity.
/// </summary>
internal sealed class EncoderLayer
{
    private readonly DisentangledAttention _attention;
    private readonly Linear _attentionOutput;
    private readonly LayerNormWeights _attentionNorm;
    private readonly Linear _intermediate;
    private readonly Linear _output;
    private readonly LayerNormWeights _outputNorm;
    private readonly int _intermediateSize;

    private EncoderLayer(
        DisentangledAttention attention, Linear attentionOutput, LayerNormWeights attentionNorm, Linear intermediate, Linear output, LayerNormWeights outputNorm)
    {
        _attention = attention;
        _attentionOutput = attentionOutput;
        _attentionNorm = attentionNorm;
        _intermediate = intermediate;
        _output = output;
        _outputNorm = outputNorm;
        _intermediateSize = intermediate.OutFeatures;
    }

    /// <param name="weights">Names under <c>deberta.encoder.layer.N</c>.</param>
    /// <param name="config">The model config.</param>
    /// <param name="relativeEmbeddings">LayerNorm(rel_embeddings).</param>
    /// <param name="pool">Runs the load-time projections.</param>
    public static EncoderLayer Load(WeightLoader weights, DebertaConfig config, ReadOnlySpan<float> relativeEmbeddings, WorkerPool pool)
    {
        int hidden = config.HiddenSize, intermediate = config.IntermediateSize;
        float eps = (float)config.LayerNormEps;
        WeightLoader attention = weights.Child("attention");
        return new EncoderLayer(
            DisentangledAttention.Load(attention.Child("self"), config, relativeEmbeddings, pool),
            Linear.Load(attention.Child("output").Child("dense"), hidden, hidden),
            LayerNormWeights.Load(attention.Child("output").Child("LayerNorm"), hidden, eps),
            Linear.Load(weights.Child("intermediate").Child("dense"), hidden, intermediate),
            Linear.Load(weights.Child("output").Child("dense"), intermediate, hidden),
            LayerNormWeights.Load(weights.Child("output").Child("LayerNorm"), hidden, eps));
    }

    /// <summary>Transforms <see cref="DebertaWorkspace.Hidden"/> in place (through the workspace's other buffers).</summary>
    public void Forward(WorkerPool pool, DebertaWorkspace workspace)
    {
        int tokens = workspace.Tokens;
        _attention.Forward(pool, workspace);
        _attentionOutput.Forward(pool, workspace.Context, tokens, workspace.Attended);
        _attentionNorm.Forward(pool, workspace.Attended, workspace.Hidden, workspace.Attended, tokens);

        Span<float> intermediate = workspace.Intermediate.AsSpan(0, tokens * _intermediateSize);
        _intermediate.Forward(pool, workspace.Attended, tokens, intermediate);
        Gelu.Apply(pool, intermediate);
        _output.Forward(pool, intermediate, tokens, workspace.Hidden);
        _outputNorm.Forward(pool, workspace.Hidden, workspace.Attended, workspace.Hidden, tokens);
    }
}
