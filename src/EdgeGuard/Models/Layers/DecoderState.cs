using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.Models.Layers;

/// <summary>
/// What one conversation with a decoder holds: the keys and values of every layer for the tokens so far (the KV cache,
/// float32) and the scratch of a forward pass over up to <see cref="ChunkRows"/> new tokens. Not thread-safe; one per session.
/// </summary>
/// <remarks>
/// The cache is token-major, <c>[tokens, kv_heads · head_size]</c> per layer, so a projection writes a new token's
/// keys straight into it and growing it is one copy. It starts small and doubles up to <see cref="ContextLength"/>, so a
/// session of a long-context model pays only for the tokens it holds; once grown, a step allocates nothing.
/// </remarks>
internal sealed class DecoderState
{
    /// <summary>Tokens a forward pass runs at once; a longer prompt runs in chunks of this many (each attending to the cache).</summary>
    public const int ChunkRows = 64;

    /// <summary>Query rows of one attention task.</summary>
    public const int AttentionBlockRows = 16;

    private const int InitialCapacity = 64;

    private readonly DecoderShape _shape;

    public DecoderState(DecoderShape shape, int contextLength, int workers, bool int8, int fusedWidth)
    {
        _shape = shape;
        ContextLength = contextLength;
        int rows = ChunkRows;
        Hidden = new float[rows * shape.Hidden];
        Normed = new float[rows * shape.Hidden];
        Query = new float[rows * shape.QueryWidth];
        Context = new float[rows * shape.QueryWidth];
        Fused = new float[rows * Math.Max(fusedWidth, 1)];
        Gate = new float[rows * shape.Intermediate];
        Up = new float[rows * shape.Intermediate];
        Logits = new float[shape.Vocabulary];
        int half = shape.HeadSize / 2;
        Cos = new float[rows * half];
        Sin = new float[rows * half];
        int widest = Math.Max(Math.Max(shape.Hidden, shape.Intermediate), shape.QueryWidth);
        Quantized = int8 ? new QuantizedRows(rows, widest) : null;
        Keys = new float[shape.Layers][];
        Values = new float[shape.Layers][];
        AttentionScratch = new float[workers][];
        Grow(Math.Min(InitialCapacity, contextLength));
    }

    /// <summary>The most tokens the session may hold.</summary>
    public int ContextLength { get; }

    /// <summary>Sees the input of every linear layer this conversation runs, or null (the usual case: then it costs one test per layer).</summary>
    public ILinearInputObserver? LinearInputObserver { get; set; }

    /// <summary>Tokens in the cache.</summary>
    public int Length { get; set; }

    /// <summary>Tokens the cache has room for now.</summary>
    public int Capacity { get; private set; }

    /// <summary>Per layer, <c>[Capacity, kv_width]</c>.</summary>
    public float[][] Keys { get; }

    /// <summary>Per layer, <c>[Capacity, kv_width]</c>.</summary>
    public float[][] Values { get; }

    /// <summary>Per worker: scores of one attention block, <c>[AttentionBlockRows, Capacity]</c>.</summary>
    public float[][] AttentionScratch { get; }

    public float[] Hidden { get; }

    public float[] Normed { get; }

    public float[] Query { get; }

    public float[] Context { get; }

    /// <summary>GPT-2's fused q/k/v projection output.</summary>
    public float[] Fused { get; }

    public float[] Gate { get; }

    public float[] Up { get; }

    /// <summary>Cosines of the rows' rotary angles, <c>[rows, head_size / 2]</c>.</summary>
    public float[] Cos { get; }

    public float[] Sin { get; }

    /// <summary>The logits of the last position run.</summary>
    public float[] Logits { get; }

    /// <summary>Activation scratch of the int8 layers (null in float32).</summary>
    public QuantizedRows? Quantized { get; }

    /// <summary>Makes room for <paramref name="tokens"/> tokens (at most <see cref="ContextLength"/>), doubling.</summary>
    public void EnsureCapacity(int tokens)
    {
        if (tokens > Capacity)
        {
            Grow((int)Math.Min(Math.Max((long)Capacity * 2, tokens), ContextLength));
        }
    }

    private void Grow(int capacity)
    {
        int width = _shape.KeyValueWidth;
        for (int layer = 0; layer < _shape.Layers; layer++)
        {
            Keys[layer] = Resize(Keys[layer], (long)capacity * width, (long)Length * width);
            Values[layer] = Resize(Values[layer], (long)capacity * width, (long)Length * width);
        }

        for (int w = 0; w < AttentionScratch.Length; w++)
        {
            AttentionScratch[w] = new float[AttentionBlockRows * capacity];
        }

        Capacity = capacity;
    }

    private static float[] Resize(float[]? old, long length, long keep)
    {
        var grown = new float[length];
        old?.AsSpan(0, (int)keep).CopyTo(grown);
        return grown;
    }
}

/// <summary>The sizes of a decoder that its state and attention depend on.</summary>
/// <param name="Vocabulary">Rows of the embedding table and of the logits.</param>
/// <param name="Hidden">Width of the hidden states.</param>
/// <param name="Intermediate">Width of the MLP.</param>
/// <param name="Layers">Decoder layers.</param>
/// <param name="Heads">Query heads.</param>
/// <param name="KeyValueHeads">Key/value heads; each serves <c>Heads / KeyValueHeads</c> query heads.</param>
/// <param name="HeadSize">Width of one head.</param>
/// <param name="MaxPositions">The longest context the model has positions for.</param>
internal readonly record struct DecoderShape(int Vocabulary, int Hidden, int Intermediate, int Layers, int Heads, int KeyValueHeads, int HeadSize, int MaxPositions)
{
    public int QueryWidth => Heads * HeadSize;

    public int KeyValueWidth => KeyValueHeads * HeadSize;
}
