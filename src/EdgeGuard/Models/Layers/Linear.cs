using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Models.Layers;

/// <summary>
/// <c>torch.nn.Linear</c>: <c>y = x·Wᵀ + b</c> with W stored <c>[out, in]</c>. float32 weights are used as stored
/// (no repacking); an int8 layer also carries <see cref="Quantized"/>, the per-channel int8 weights its kernels read.
/// </summary>
internal sealed class Linear(ReadOnlyMemory<float> weight, ReadOnlyMemory<float> bias, int inFeatures, int outFeatures, PackedInt8Matrix? quantized = null)
{
    public int InFeatures { get; } = inFeatures;

    public int OutFeatures { get; } = outFeatures;

    public ReadOnlyMemory<float> Weight { get; } = weight;

    public ReadOnlyMemory<float> Bias { get; } = bias;

    /// <summary>The int8 weights, when this layer runs in int8.</summary>
    public PackedInt8Matrix? Quantized { get; } = quantized;

    /// <summary>The Hugging Face name prefix of the layer (<c>P</c> of <c>P.weight</c>), for export.</summary>
    public string Name { get; private init; } = string.Empty;

    /// <summary>
    /// Loads <c>P.weight</c> and <c>P.bias</c>; from a version-2 bundle that stores the layer as int8, the packed
    /// <c>P.qweight</c>/<c>.qscale</c>/<c>.qsum</c> instead (no float weights then).
    /// </summary>
    public static Linear Load(WeightLoader weights, int inFeatures, int outFeatures)
    {
        ReadOnlyMemory<float> bias = weights.Vector("bias", outFeatures);
        if (weights.Source is IInt8WeightSource int8 && int8.FindInt8Linear(weights.Prefix, outFeatures, inFeatures) is { } packed)
        {
            return new(ReadOnlyMemory<float>.Empty, bias, inFeatures, outFeatures, packed) { Name = weights.Prefix };
        }

        return new(weights.Matrix("weight", outFeatures, inFeatures), bias, inFeatures, outFeatures) { Name = weights.Prefix };
    }

    /// <summary>
    /// This layer with int8 weights quantised by <paramref name="plan"/> from its float32 ones (kept for load-time float
    /// products), or as it is when it has them already or the plan keeps it in float32.
    /// </summary>
    public Linear WithInt8Weights(Int8Plan plan) =>
        Quantized is not null || plan.KeepsFloat(Name)
            ? this
            : new(Weight, Bias, InFeatures, OutFeatures, PackedInt8Matrix.Quantize(Weight.Span, InFeatures, OutFeatures, InFeatures, plan.WeightLimit)) { Name = Name };

    /// <summary><paramref name="rows"/> rows of <see cref="InFeatures"/> in, as many rows of <see cref="OutFeatures"/> out, in float32.</summary>
    public void Forward(WorkerPool pool, ReadOnlySpan<float> x, int rows, Span<float> y) =>
        Gemm.MultiplyTransposed(pool, x, InFeatures, Weight.Span, InFeatures, Bias.Span, y, OutFeatures, rows, OutFeatures, InFeatures);

    /// <summary>
    /// The int8 product of already quantised rows (<see cref="QuantizedRows.Rows"/> of them) with the fused
    /// <paramref name="epilogue"/>; <paramref name="residual"/> as <see cref="Int8Gemm.Multiply(WorkerPool, QuantizedRows, PackedInt8Matrix, ReadOnlySpan{float}, Int8Epilogue, ReadOnlySpan{float}, Span{float})"/> takes it.
    /// </summary>
    public void Forward(WorkerPool pool, QuantizedRows x, Span<float> y, Int8Epilogue epilogue = Int8Epilogue.Bias, ReadOnlySpan<float> residual = default)
    {
        PackedInt8Matrix weights = Quantized ?? throw new InvalidOperationException("This layer has no int8 weights.");
        Int8Gemm.Multiply(pool, x, weights, Bias.Span, epilogue, residual, y);
    }

    /// <summary>
    /// <paramref name="rows"/> float rows through the layer and <paramref name="epilogue"/>: in int8 (quantising
    /// <paramref name="x"/> into <paramref name="scratch"/>) when the layer is int8, in float32 otherwise, the epilogue
    /// the same either way — so a model whose layers mix the two precisions runs each layer as it is stored.
    /// </summary>
    public void Forward(WorkerPool pool, ReadOnlySpan<float> x, int rows, Span<float> y, QuantizedRows scratch, Int8Epilogue epilogue, ReadOnlySpan<float> residual = default)
    {
        if (Quantized is not null)
        {
            scratch.Quantize(pool, x, InFeatures, rows, InFeatures);
            Forward(pool, scratch, y, epilogue, residual);
            return;
        }

        Span<float> output = y[..(rows * OutFeatures)];
        Forward(pool, x, rows, output);
        if (epilogue == Int8Epilogue.BiasGelu)
        {
            Gelu.Apply(pool, output);
        }
        else if (epilogue == Int8Epilogue.BiasResidual)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(output, residual[..output.Length], output);
        }
    }

    /// <summary>Quantises <paramref name="x"/> into <paramref name="scratch"/> when the layer is int8, then runs it; float32 otherwise.</summary>
    public void Forward(WorkerPool pool, ReadOnlySpan<float> x, int rows, Span<float> y, QuantizedRows? scratch)
    {
        if (Quantized is null || scratch is null)
        {
            Forward(pool, x, rows, y);
            return;
        }

        scratch.Quantize(pool, x, InFeatures, rows, InFeatures);
        Forward(pool, scratch, y);
    }
}
