using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Models.Layers;

/// <summary>
/// What follows self-attention in a post-LayerNorm encoder layer (BERT, RoBERTa, DeBERTa): attention output (dense,
/// residual LayerNorm), intermediate (dense, exact GELU), output (dense, residual LayerNorm). Dropout is inference-time
/// identity. Every one of these architectures names the weights alike under its layer prefix.
/// </summary>
internal sealed class PostNormFeedForward(Linear attentionOutput, LayerNormWeights attentionNorm, Linear intermediate, Linear output, LayerNormWeights outputNorm)
{
    private readonly int _intermediateSize = intermediate.OutFeatures;

    /// <param name="layer">Names under the layer's prefix (<c>…encoder.layer.N</c>).</param>
    public static PostNormFeedForward Load(WeightLoader layer, int hidden, int intermediateSize, float epsilon)
    {
        WeightLoader attentionOutput = layer.Child("attention").Child("output");
        return new PostNormFeedForward(
            Linear.Load(attentionOutput.Child("dense"), hidden, hidden),
            LayerNormWeights.Load(attentionOutput.Child("LayerNorm"), hidden, epsilon),
            Linear.Load(layer.Child("intermediate").Child("dense"), hidden, intermediateSize),
            Linear.Load(layer.Child("output").Child("dense"), intermediateSize, hidden),
            LayerNormWeights.Load(layer.Child("output").Child("LayerNorm"), hidden, epsilon));
    }

    /// <summary>Every linear layer, for export.</summary>
    public IEnumerable<Linear> Linears => [attentionOutput, intermediate, output];

    /// <summary>Whether any of the dense layers runs in int8 (a mixed-precision model keeps some in float32).</summary>
    public bool IsInt8 => attentionOutput.Quantized is not null || intermediate.Quantized is not null || output.Quantized is not null;

    /// <summary>These layers with int8 dense layers, as <paramref name="plan"/> quantises them.</summary>
    public PostNormFeedForward WithInt8Weights(Int8Plan plan) =>
        new(attentionOutput.WithInt8Weights(plan), attentionNorm, intermediate.WithInt8Weights(plan), output.WithInt8Weights(plan), outputNorm);

    /// <summary>
    /// Attention output and FFN on <paramref name="rows"/> rows of <see cref="EncoderWorkspace.Context"/>, with
    /// <paramref name="state"/> (the layer's input for those rows) as the residual, overwritten by the layer's output.
    /// int8: each input is quantised once per row, the residual adds and the GELU happen in the GEMM epilogue, so the
    /// layer norms see the sums directly; a layer kept in float32 adds them after its product.
    /// </summary>
    public void Forward(WorkerPool pool, EncoderWorkspace workspace, int rows, float[] state)
    {
        int hidden = attentionOutput.OutFeatures;
        Span<float> attended = workspace.Attended.AsSpan(0, rows * hidden);
        Span<float> layerOutput = state.AsSpan(0, rows * hidden);
        Span<float> inner = workspace.Intermediate.AsSpan(0, rows * _intermediateSize);
        if (!IsInt8)
        {
            attentionOutput.Forward(pool, workspace.Context, rows, attended);
            attentionNorm.Forward(pool, attended, layerOutput, attended, rows);
            intermediate.Forward(pool, attended, rows, inner);
            Gelu.Apply(pool, inner);
            output.Forward(pool, inner, rows, layerOutput);
            outputNorm.Forward(pool, layerOutput, attended, layerOutput, rows);
            return;
        }

        QuantizedRows q = workspace.QuantizedActivations;
        attentionOutput.Forward(pool, workspace.Context, rows, attended, q, Int8Epilogue.BiasResidual, layerOutput);
        attentionNorm.Forward(pool, attended, default, attended, rows);
        intermediate.Forward(pool, attended, rows, inner, q, Int8Epilogue.BiasGelu);
        output.Forward(pool, inner, rows, layerOutput, q, Int8Epilogue.BiasResidual, attended);
        outputNorm.Forward(pool, layerOutput, default, layerOutput, rows);
    }
}
