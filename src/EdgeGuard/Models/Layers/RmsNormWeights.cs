using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Models.Layers;

/// <summary>Llama's <c>RMSNorm</c> over the hidden width: the weight and ε.</summary>
internal sealed class RmsNormWeights(ReadOnlyMemory<float> weight, float epsilon)
{
    public static RmsNormWeights Load(WeightLoader weights, int width, float epsilon) => new(weights.Vector("weight", width), epsilon);

    /// <summary>Normalises <paramref name="rows"/> rows of <paramref name="input"/> into <paramref name="output"/> (which may be the input).</summary>
    public void Forward(WorkerPool pool, ReadOnlySpan<float> input, Span<float> output, int rows) =>
        RmsNorm.NormalizeRows(pool, input, weight.Span, epsilon, output, rows);
}
