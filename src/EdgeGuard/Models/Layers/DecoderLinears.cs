using EdgeGuard.Kernels.Int8;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Models.Layers;

/// <summary>
/// How decoder checkpoints store their linear layers, loaded as <see cref="Linear"/>: <c>nn.Linear</c> with or without a
/// bias (Llama has none, Qwen2 has them on q/k/v), GPT-2's <c>Conv1D</c> (weight stored <c>[in, out]</c>), and the int8
/// forms of both. A layer's Hugging Face prefix travels with it (<see cref="Named"/>) for int8 bundles.
/// </summary>
internal static class DecoderLinears
{
    /// <summary>A linear layer and the Hugging Face prefix of its tensors.</summary>
    public readonly record struct Named(string Prefix, Linear Layer);

    /// <summary>
    /// <c>P.weight</c> <c>[out, in]</c> and, with <paramref name="bias"/>, <c>P.bias</c>; from an int8 bundle, the packed
    /// <c>P.qweight</c>/<c>.qscale</c>/<c>.qsum</c> instead of the weight.
    /// </summary>
    public static Named Load(WeightLoader weights, int inFeatures, int outFeatures, bool bias)
    {
        ReadOnlyMemory<float> b = bias ? weights.Vector("bias", outFeatures) : default;
        if (Packed(weights, inFeatures, outFeatures) is { } packed)
        {
            // The int8 kernel's epilogue always adds a bias.
            return new(weights.Prefix, new Linear(ReadOnlyMemory<float>.Empty, bias ? b : new float[outFeatures], inFeatures, outFeatures, packed));
        }

        return new(weights.Prefix, new Linear(weights.Matrix("weight", outFeatures, inFeatures), b, inFeatures, outFeatures));
    }

    /// <summary>
    /// GPT-2's <c>Conv1D</c>: <c>P.weight</c> stored <c>[in, out]</c> and <c>P.bias</c>. The weight is transposed once, at
    /// load, into the <c>[out, in]</c> rows the GEMM and the int8 packer read (a float bundle keeps the checkpoint's layout).
    /// </summary>
    public static Named LoadConv1D(WeightLoader weights, int inFeatures, int outFeatures)
    {
        ReadOnlyMemory<float> b = weights.Vector("bias", outFeatures);
        if (Packed(weights, inFeatures, outFeatures) is { } packed)
        {
            return new(weights.Prefix, new Linear(ReadOnlyMemory<float>.Empty, b, inFeatures, outFeatures, packed));
        }

        ReadOnlySpan<float> stored = weights.Matrix("weight", inFeatures, outFeatures).Span;
        var transposed = new float[(long)inFeatures * outFeatures];
        for (int i = 0; i < inFeatures; i++)
        {
            ReadOnlySpan<float> row = stored.Slice(i * outFeatures, outFeatures);
            for (int o = 0; o < outFeatures; o++)
            {
                transposed[((long)o * inFeatures) + i] = row[o];
            }
        }

        return new(weights.Prefix, new Linear(transposed, b, inFeatures, outFeatures));
    }

    /// <summary>
    /// The layer with int8 weights quantised as <paramref name="plan"/> says (unchanged when it has them or the plan keeps
    /// it in float32), its float weights dropped: a decoder's int8 engine never multiplies them (a transposed
    /// <c>Conv1D</c> would otherwise stay on the heap). A layer without a bias gets zeros: the int8 kernel's epilogue
    /// always adds one.
    /// </summary>
    public static Named WithInt8Weights(Named layer, Int8Plan plan)
    {
        Linear linear = layer.Layer;
        if (linear.Quantized is not null || plan.KeepsFloat(layer.Prefix))
        {
            return layer;
        }

        ReadOnlyMemory<float> bias = linear.Bias.IsEmpty ? new float[linear.OutFeatures] : linear.Bias;
        PackedInt8Matrix packed = PackedInt8Matrix.Quantize(linear.Weight.Span, linear.InFeatures, linear.OutFeatures, linear.InFeatures, plan.WeightLimit);
        return layer with { Layer = new Linear(ReadOnlyMemory<float>.Empty, bias, linear.InFeatures, linear.OutFeatures, packed) };
    }

    /// <summary>The size of a layer's outputs as stored: <c>P.weight</c>'s rows, or in an int8 bundle <c>P.qscale</c>'s length.</summary>
    public static string OutputTensor(ITensorSource weights, string prefix) =>
        weights.Find(prefix + ".weight") is null && weights.Find(prefix + ".qscale") is not null ? prefix + ".qscale" : prefix + ".weight";

    private static PackedInt8Matrix? Packed(WeightLoader weights, int inFeatures, int outFeatures) =>
        weights.Source is IInt8WeightSource int8 ? int8.FindInt8Linear(weights.Prefix, outFeatures, inFeatures) : null;
}
