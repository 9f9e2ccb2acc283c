using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Int8;
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
    /// <param name="layer">The layer's index.</param>
    public static EncoderLayer Load(WeightLoader weights, DebertaConfig config, ReadOnlySpan<float> relativeEmbeddings, WorkerPool pool, int layer)
    {
        int hidden = config.HiddenSize, intermediate = config.IntermediateSize;
        float eps = (float)config.LayerNormEps;
        WeightLoader attention = weights.Child("attention");
        return new EncoderLayer(
            DisentangledAttention.Load(attention.Child("self"), config, relativeEmbeddings, pool, layer),
            Linear.Load(attention.Child("output").Child("dense"), hidden, hidden),
            LayerNormWeights.Load(attention.Child("output").Child("LayerNorm"), hidden, eps),
            Linear.Load(weights.Child("intermediate").Child("dense"), hidden, intermediate),
            Linear.Load(weights.Child("output").Child("dense"), intermediate, hidden),
            LayerNormWeights.Load(weights.Child("output").Child("LayerNorm"), hidden, eps));
    }

    /// <summary>The attention, for export.</summary>
    public DisentangledAttention Attention => _attention;

    /// <summary>Every linear layer, for export.</summary>
    public IEnumerable<Linear> Linears => [.. _attention.Linears, _attentionOutput, _intermediate, _output];

    /// <summary>Whether the dense layers run in int8.</summary>
    public bool IsInt8 => _intermediate.Quantized is not null;

    /// <summary>This layer with int8 dense layers (attention projections, attention output, FFN).</summary>
    public EncoderLayer WithInt8Weights(int weightLimit) =>
        new(_attention.WithInt8Weights(weightLimit), _attentionOutput.WithInt8Weights(weightLimit), _attentionNorm, _intermediate.WithInt8Weights(weightLimit), _output.WithInt8Weights(weightLimit), _outputNorm);

    /// <summary>Transforms <see cref="DebertaWorkspace.Hidden"/> in place (through the workspace's other buffers).</summary>
    public void Forward(WorkerPool pool, DebertaWorkspace workspace)
    {
        _attention.Forward(pool, workspace);
        FeedForward(pool, workspace, workspace.Tokens, workspace.Hidden);
    }

    /// <summary>
    /// As <see cref="Forward"/> for token 0 of each row only: reads every token of <see cref="DebertaWorkspace.Hidden"/>
    /// (as keys and values) and writes the rows' [CLS] outputs to <see cref="DebertaWorkspace.Cls"/>. Every row of a
    /// product is computed independently of the others, so those outputs are bit for bit the ones
    /// <see cref="Forward"/> gives; the last layer needs no more for a verdict.
    /// </summary>
    public void ForwardClassTokens(WorkerPool pool, DebertaWorkspace workspace)
    {
        workspace.GatherClassTokens();
        _attention.Forward(pool, workspace, classTokensOnly: true);
        FeedForward(pool, workspace, workspace.Batch, workspace.Cls);
    }

    /// <summary>
    /// Attention output and FFN on <paramref name="rows"/> rows of <see cref="DebertaWorkspace.Context"/>, with
    /// <paramref name="state"/> (the layer's input for those rows) as the residual, overwritten by the layer's output.
    /// int8: each input is quantised once per row, the residual adds and the GELU happen in the GEMM epilogue, so the
    /// layer norms see the sums directly.
    /// </summary>
    private void FeedForward(WorkerPool pool, DebertaWorkspace workspace, int rows, float[] state)
    {
        int hidden = _attentionOutput.OutFeatures;
        Span<float> attended = workspace.Attended.AsSpan(0, rows * hidden);
        Span<float> output = state.AsSpan(0, rows * hidden);
        Span<float> intermediate = workspace.Intermediate.AsSpan(0, rows * _intermediateSize);
        if (!IsInt8)
        {
            _attentionOutput.Forward(pool, workspace.Context, rows, attended);
            _attentionNorm.Forward(pool, attended, output, attended, rows);
            _intermediate.Forward(pool, attended, rows, intermediate);
            Gelu.Apply(pool, intermediate);
            _output.Forward(pool, intermediate, rows, output);
            _outputNorm.Forward(pool, output, attended, output, rows);
            return;
        }

        QuantizedRows q = workspace.QuantizedActivations;
        q.Quantize(pool, workspace.Context, hidden, rows, hidden);
        _attentionOutput.Forward(pool, q, attended, Int8Epilogue.BiasResidual, output);
        _attentionNorm.Forward(pool, attended, default, attended, rows);

        q.Quantize(pool, attended, hidden, rows, hidden);
        _intermediate.Forward(pool, q, intermediate, Int8Epilogue.BiasGelu);

        q.Quantize(pool, intermediate, _intermediateSize, rows, _intermediateSize);
        _output.Forward(pool, q, output, Int8Epilogue.BiasResidual, attended);
        _outputNorm.Forward(pool, output, default, output, rows);
    }
}
