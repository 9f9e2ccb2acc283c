using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Models.Layers;

/// <summary><c>torch.nn.LayerNorm</c> over the hidden width: γ, β and ε.</summary>
internal sealed class LayerNormWeights(ReadOnlyMemory<float> gamma, ReadOnlyMemory<float> beta, float epsilon)
{
    public static LayerNormWeights Load(WeightLoader weights, int width, float epsilon) =>
        new(weights.Vector("weight", width), weights.Vector("bias", width), epsilon);

    /// <summary><c>output = LayerNorm(input + residual)</c> row by row; output may be input or residual.</summary>
    public void Forward(WorkerPool pool, ReadOnlySpan<float> input, ReadOnlySpan<float> residual, Span<float> output, int rows) =>
        LayerNorm.NormalizeRows(pool, input, residual, gamma.Span, beta.Span, epsilon, output, rows);
}
