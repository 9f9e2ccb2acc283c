using System.Numerics.Tensors;
using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.Models.Layers;

/// <summary>
/// What one conversation with a decoder holds: the keys and values of every layer for the tokens so far (the KV cache,
/// float32 or float16) and the scratch of a forward pass over up to <see cref="ChunkRows"/> new tokens. Not thread-safe;
/// one per session.
/// </summary>
/// <remarks>
/// The cache is token-major, <c>[tokens, kv_heads · head_size]</c> per layer, so a projection writes a new token's
/// keys straight into a float32 cache (a float16 one through a staging buffer, <see cref="NewKeys"/> then
/// <see cref="StoreNew"/>) and growing it is one copy. It starts small and doubles up to <see cref="ContextLength"/>, so a
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

    private readonly float[] _newKeys = [], _newValues = [];

    public DecoderState(DecoderShape shape, int contextLength, int workers, bool int8, int fusedWidth, KeyValueCacheFormat cacheFormat = KeyValueCacheFormat.Float32)
    {
        _shape = shape;
        ContextLength = contextLength;
        CacheFormat = cacheFormat;
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
        HalfKeys = new Half[shape.Layers][];
        HalfValues = new Half[shape.Layers][];
        if (cacheFormat == KeyValueCacheFormat.Float16)
        {
            _newKeys = new float[rows * shape.KeyValueWidth];
            _newValues = new float[rows * shape.KeyValueWidth];
        }

        AttentionScratch = new float[workers][];
        KeyValueScratch = new float[workers][];
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

    /// <summary>How the cache stores keys and values.</summary>
    public KeyValueCacheFormat CacheFormat { get; }

    /// <summary>Per layer, <c>[Capacity, kv_width]</c> (float32 cache; empty otherwise).</summary>
    public float[][] Keys { get; }

    /// <summary>Per layer, <c>[Capacity, kv_width]</c> (float32 cache; empty otherwise).</summary>
    public float[][] Values { get; }

    /// <summary>Per layer, <c>[Capacity, kv_width]</c> (float16 cache; empty otherwise).</summary>
    public Half[][] HalfKeys { get; }

    /// <summary>Per layer, <c>[Capacity, kv_width]</c> (float16 cache; empty otherwise).</summary>
    public Half[][] HalfValues { get; }

    /// <summary>Per worker: scores of one attention block, <c>[AttentionBlockRows, Capacity]</c>.</summary>
    public float[][] AttentionScratch { get; }

    /// <summary>Per worker (float16 cache): one head's keys and values widened to float32, <c>2 × [Capacity, head_size]</c>.</summary>
    public float[][] KeyValueScratch { get; }

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

    /// <summary>
    /// Where the keys of <paramref name="rows"/> new tokens at positions <paramref name="start"/>… are written
    /// (<c>[rows, kv_width]</c>): the float32 cache itself, or a staging buffer that <see cref="StoreNew"/> rounds into
    /// the float16 cache.
    /// </summary>
    public Span<float> NewKeys(int layer, int start, int rows) =>
        CacheFormat == KeyValueCacheFormat.Float32
            ? Keys[layer].AsSpan(start * _shape.KeyValueWidth, rows * _shape.KeyValueWidth)
            : _newKeys.AsSpan(0, rows * _shape.KeyValueWidth);

    /// <summary>As <see cref="NewKeys"/>, for the values.</summary>
    public Span<float> NewValues(int layer, int start, int rows) =>
        CacheFormat == KeyValueCacheFormat.Float32
            ? Values[layer].AsSpan(start * _shape.KeyValueWidth, rows * _shape.KeyValueWidth)
            : _newValues.AsSpan(0, rows * _shape.KeyValueWidth);

    /// <summary>Stores the new tokens' keys and values written through <see cref="NewKeys"/> and <see cref="NewValues"/> (float16: rounds them in).</summary>
    public void StoreNew(int layer, int start, int rows)
    {
        if (CacheFormat == KeyValueCacheFormat.Float16)
        {
            int width = _shape.KeyValueWidth;
            TensorPrimitives.ConvertToHalf(_newKeys.AsSpan(0, rows * width), HalfKeys[layer].AsSpan(start * width, rows * width));
            TensorPrimitives.ConvertToHalf(_newValues.AsSpan(0, rows * width), HalfValues[layer].AsSpan(start * width, rows * width));
        }
    }

    /// <summary>
    /// The first <paramref name="count"/> cached keys and values of key/value head <paramref name="kvHead"/>, as float32
    /// rows <paramref name="stride"/> apart: views of a float32 cache, or widened into <paramref name="scratch"/> from a
    /// float16 one.
    /// </summary>
    public (ReadOnlyMemory<float> Keys, ReadOnlyMemory<float> Values) HeadCache(int layer, int kvHead, int count, float[] scratch, out int stride)
    {
        int headSize = _shape.HeadSize, width = _shape.KeyValueWidth;
        if (CacheFormat == KeyValueCacheFormat.Float32)
        {
            stride = width;
            return (Keys[layer].AsMemory(kvHead * headSize), Values[layer].AsMemory(kvHead * headSize));
        }

        stride = headSize;
        Span<float> keys = scratch.AsSpan(0, count * headSize), values = scratch.AsSpan(Capacity * headSize, count * headSize);
        ReadOnlySpan<Half> halfKeys = HalfKeys[layer], halfValues = HalfValues[layer];
        for (int j = 0; j < count; j++)
        {
            int from = (j * width) + (kvHead * headSize);
            TensorPrimitives.ConvertToSingle(halfKeys.Slice(from, headSize), keys.Slice(j * headSize, headSize));
            TensorPrimitives.ConvertToSingle(halfValues.Slice(from, headSize), values.Slice(j * headSize, headSize));
        }

        return (scratch.AsMemory(0, count * headSize), scratch.AsMemory(Capacity * headSize, count * headSize));
    }

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
        bool half = CacheFormat == KeyValueCacheFormat.Float16;
        for (int layer = 0; layer < _shape.Layers; layer++)
        {
            if (half)
            {
                HalfKeys[layer] = Resize(HalfKeys[layer], (long)capacity * width, (long)Length * width);
                HalfValues[layer] = Resize(HalfValues[layer], (long)capacity * width, (long)Length * width);
            }
            else
            {
                Keys[layer] = Resize(Keys[layer], (long)capacity * width, (long)Length * width);
                Values[layer] = Resize(Values[layer], (long)capacity * width, (long)Length * width);
            }
        }

        for (int w = 0; w < AttentionScratch.Length; w++)
        {
            AttentionScratch[w] = new float[AttentionBlockRows * capacity];
            KeyValueScratch[w] = half ? new float[2L * capacity * _shape.HeadSize] : [];
        }

        Capacity = capacity;
    }

    private static T[] Resize<T>(T[]? old, long length, long keep)
    {
        var grown = new T[length];
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
