using System.Numerics.Tensors;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Models;

/// <summary>
/// A decoder language model's graph as every supported family shares it: token (and position) embeddings, N decoder
/// layers that append each new token's keys and values to a per-conversation cache, a final norm and the LM head.
/// Each architecture supplies its embeddings, layers and norm; <c>Generation.Decoding.DecoderModel</c> is the public face.
/// </summary>
/// <remarks>
/// Loaded weights are read-only and shared: any number of conversations (<see cref="DecoderState"/>) may run at once.
/// Weights are used where the <see cref="ModelFiles.ITensorSource"/> holds them, so it must stay open.
/// </remarks>
public abstract class DecoderGraph
{
    private readonly DecoderLinears.Named _head;

    private protected DecoderGraph(IModelConfig config, WorkerPool pool, DecoderShape shape, DecoderLinears.Named head, ModelPrecision precision)
    {
        Config = config;
        Pool = pool;
        Shape = shape;
        _head = head;
        Precision = precision;
    }

    /// <summary>The validated config.</summary>
    public IModelConfig Config { get; }

    /// <summary>How the linear layers compute.</summary>
    public ModelPrecision Precision { get; }

    /// <summary>Tokens of the vocabulary: every id is below it, and every logits row has this many values.</summary>
    public int VocabularySize => Shape.Vocabulary;

    /// <summary>The longest context the model has positions for (<c>max_position_embeddings</c>, GPT-2's <c>n_positions</c>).</summary>
    public int MaxPositions => Shape.MaxPositions;

    /// <summary>The worker threads every forward runs on.</summary>
    public WorkerPool Pool { get; }

    internal DecoderShape Shape { get; }

    /// <summary>Width of GPT-2's fused q/k/v output, 0 where the projections are separate.</summary>
    private protected virtual int FusedWidth => 0;

    /// <summary>Every linear layer with its Hugging Face prefix, for int8 bundles.</summary>
    private protected abstract IEnumerable<DecoderLinears.Named> LayerLinears { get; }

    /// <summary>The linear layers of the blocks (not the LM head) in the order a forward pass runs them, with their Hugging Face prefixes.</summary>
    internal IReadOnlyList<DecoderLinears.Named> BlockLinears => [.. LayerLinears];

    /// <summary>The names of the linear layers int8 can quantise (every layer's and the LM head), in order.</summary>
    internal IReadOnlyList<string> LinearLayerNames => [.. LayerLinears.Append(_head).Select(l => l.Prefix)];

    /// <summary>A new, empty conversation state holding up to <paramref name="contextLength"/> tokens in a <paramref name="cacheFormat"/> cache.</summary>
    internal DecoderState CreateState(int contextLength, KeyValueCacheFormat cacheFormat = KeyValueCacheFormat.Float32) =>
        new(Shape, contextLength, Pool.DegreeOfParallelism, Precision == ModelPrecision.Int8, FusedWidth, cacheFormat);

    /// <summary>
    /// Runs <paramref name="tokens"/> after the tokens <paramref name="state"/> holds, appending them to its cache. The
    /// last position's logits land in <see cref="DecoderState.Logits"/>; with <paramref name="allLogits"/> non-empty,
    /// every position's logits go there too (<c>tokens.Length × vocabulary</c>). Ids and lengths are checked by the caller.
    /// </summary>
    internal void Forward(DecoderState state, ReadOnlySpan<int> tokens, Span<float> allLogits)
    {
        state.EnsureCapacity(state.Length + tokens.Length);
        int vocabulary = Shape.Vocabulary, hidden = Shape.Hidden;
        for (int first = 0; first < tokens.Length; first += DecoderState.ChunkRows)
        {
            int rows = Math.Min(DecoderState.ChunkRows, tokens.Length - first);
            int start = state.Length;
            Embed(state, tokens.Slice(first, rows), start);
            for (int layer = 0; layer < Shape.Layers; layer++)
            {
                RunLayer(state, layer, rows, start);
            }

            state.Length = start + rows;
            bool lastChunk = first + rows == tokens.Length;
            if (!allLogits.IsEmpty)
            {
                FinalNorm(state.Hidden, state.Normed, rows);
                Project(_head.Layer, state, state.Normed, rows, allLogits.Slice(first * vocabulary, rows * vocabulary));
                if (lastChunk)
                {
                    allLogits.Slice((first + rows - 1) * vocabulary, vocabulary).CopyTo(state.Logits);
                }
            }
            else if (lastChunk)
            {
                FinalNorm(state.Hidden.AsSpan((rows - 1) * hidden, hidden), state.Normed, 1);
                Project(_head.Layer, state, state.Normed, 1, state.Logits);
            }
        }
    }

    /// <summary>What this int8 engine prepared, for an int8 bundle: every packed linear layer, the LM head included.</summary>
    internal Int8Conversion ToInt8Conversion()
    {
        if (Precision != ModelPrecision.Int8)
        {
            throw new InvalidOperationException("Only an int8 engine has int8 weights to store; load the model with ModelPrecision.Int8.");
        }

        DecoderLinears.Named[] linears = [.. LayerLinears.Append(_head).Where(l => l.Layer.Quantized is not null)];
        return new Int8Conversion(
            [.. linears.Select(l => new Int8Conversion.PackedLinear(l.Prefix, l.Layer.Quantized!))], [], [],
            linears.Length == 0 ? Kernels.Int8.PackedInt8Matrix.FullWeightLimit : linears[0].Layer.Quantized!.WeightLimit);
    }

    /// <summary>Writes the embeddings of <paramref name="tokens"/> (positions <paramref name="start"/> …) to <see cref="DecoderState.Hidden"/>.</summary>
    private protected abstract void Embed(DecoderState state, ReadOnlySpan<int> tokens, int start);

    /// <summary>One decoder layer over the <paramref name="rows"/> rows of <see cref="DecoderState.Hidden"/>, in place.</summary>
    private protected abstract void RunLayer(DecoderState state, int layer, int rows, int start);

    /// <summary>The final norm of <paramref name="rows"/> rows of <paramref name="input"/> into <paramref name="output"/>.</summary>
    private protected abstract void FinalNorm(ReadOnlySpan<float> input, Span<float> output, int rows);

    /// <summary><paramref name="rows"/> rows through <paramref name="layer"/>, in int8 when it has int8 weights.</summary>
    private protected void Project(Linear layer, DecoderState state, ReadOnlySpan<float> input, int rows, Span<float> output)
    {
        ReadOnlySpan<float> x = input[..(rows * layer.InFeatures)];
        state.LinearInputObserver?.Observe(layer, x, rows);
        layer.Forward(Pool, x, rows, output[..(rows * layer.OutFeatures)], state.Quantized);
    }

    /// <summary><c>hidden += delta</c> over <paramref name="rows"/> rows.</summary>
    private protected void AddResidual(DecoderState state, ReadOnlySpan<float> delta, int rows)
    {
        Span<float> hidden = state.Hidden.AsSpan(0, rows * Shape.Hidden);
        TensorPrimitives.Add(hidden, delta[..hidden.Length], hidden);
    }
}
