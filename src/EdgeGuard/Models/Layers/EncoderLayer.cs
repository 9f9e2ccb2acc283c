using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Models.Layers;

/// <summary>One post-LayerNorm encoder layer: self-attention, then <see cref="PostNormFeedForward"/>.</summary>
internal sealed class EncoderLayer(IEncoderAttention attention, PostNormFeedForward feedForward)
{
    /// <summary>The attention, for export.</summary>
    public IEncoderAttention Attention => attention;

    /// <summary>Every linear layer, for export.</summary>
    public IEnumerable<Linear> Linears => [.. attention.Linears, .. feedForward.Linears];

    /// <summary>Whether any of the dense layers runs in int8.</summary>
    public bool IsInt8 => Linears.Any(l => l.Quantized is not null);

    /// <summary>This layer with int8 dense layers (attention projections, attention output, FFN), as <paramref name="plan"/> quantises them.</summary>
    public EncoderLayer WithInt8Weights(Int8Plan plan) => new(attention.WithInt8Weights(plan), feedForward.WithInt8Weights(plan));

    /// <summary>Transforms <see cref="EncoderWorkspace.Hidden"/> in place (through the workspace's other buffers).</summary>
    public void Forward(WorkerPool pool, EncoderWorkspace workspace)
    {
        attention.Forward(pool, workspace);
        feedForward.Forward(pool, workspace, workspace.Tokens, workspace.Hidden);
    }

    /// <summary>
    /// As <see cref="Forward"/> for token 0 of each row only: reads every token of <see cref="EncoderWorkspace.Hidden"/>
    /// (as keys and values) and writes the rows' first-token outputs to <see cref="EncoderWorkspace.Cls"/>. Every row of a
    /// product is computed independently of the others, so those outputs are bit for bit the ones
    /// <see cref="Forward"/> gives; the last layer needs no more for a verdict.
    /// </summary>
    public void ForwardClassTokens(WorkerPool pool, EncoderWorkspace workspace)
    {
        workspace.GatherClassTokens();
        attention.Forward(pool, workspace, classTokensOnly: true);
        feedForward.Forward(pool, workspace, workspace.Batch, workspace.Cls);
    }
}
