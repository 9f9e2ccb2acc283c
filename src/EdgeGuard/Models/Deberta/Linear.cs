using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Models.Deberta;

/// <summary><c>torch.nn.Linear</c>: <c>y = x·Wᵀ + b</c> with W stored <c>[out, in]</c>, used as stored (no repacking).</summary>
internal sealed class Linear(ReadOnlyMemory<float> weight, ReadOnlyMemory<float> bias, int inFeatures, int outFeatures)
{
    public int InFeatures { get; } = inFeatures;

    public int OutFeatures { get; } = outFeatures;

    public ReadOnlyMemory<float> Weight { get; } = weight;

    public ReadOnlyMemory<float> Bias { get; } = bias;

    public static Linear Load(WeightLoader weights, int inFeatures, int outFeatures) =>
        new(weights.Matrix("weight", outFeatures, inFeatures), weights.Vector("bias", outFeatures), inFeatures, outFeatures);

    /// <summary><paramref name="rows"/> rows of <see cref="InFeatures"/> in, as many rows of <see cref="OutFeatures"/> out.</summary>
    public void Forward(WorkerPool pool, ReadOnlySpan<float> x, int rows, Span<float> y) =>
        Gemm.MultiplyTransposed(pool, x, InFeatures, Weight.Span, InFeatures, Bias.Span, y, OutFeatures, rows, OutFeatures, InFeatures);
}
