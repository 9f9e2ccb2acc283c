using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.Models.Layers;

/// <summary>
/// Scratch memory of one encoder forward pass. Rows of a batch are packed without their padding: token t of the packed
/// layout is position <c>t - Offsets[b]</c> of row b. Buffers only grow, so once a workspace has seen the largest
/// batch a caller uses, forwards allocate nothing; an encoder keeps idle workspaces for reuse.
/// </summary>
/// <remarks>
/// An architecture whose attention needs more than the per-worker score matrix and transposed keys derives from this
/// class and sizes its own scratch in <see cref="PrepareAttention"/>.
/// </remarks>
internal class EncoderWorkspace(int hidden, int intermediate, int headSize, int workers, bool quantized)
{
    private readonly int _hidden = hidden;
    private readonly int _intermediate = intermediate;

    /// <summary>Width of one attention head.</summary>
    protected int HeadSize { get; } = headSize;

    /// <summary>Whether forwards need <see cref="QuantizedActivations"/>.</summary>
    public bool Quantized { get; } = quantized;

    public int Batch { get; private set; }

    /// <summary>Valid tokens of all rows.</summary>
    public int Tokens { get; private set; }

    /// <summary>Longest valid length in the batch.</summary>
    public int MaxLength { get; private set; }

    public int[] Offsets { get; private set; } = [];

    public int[] Lengths { get; private set; } = [];

    public int[] TokenIds { get; private set; } = [];

    /// <summary>Token type (segment) ids of the packed tokens; all 0 when the caller gave none.</summary>
    public int[] TokenTypeIds { get; private set; } = [];

    /// <summary>The layer input and, after each layer, its output: [Tokens, hidden].</summary>
    public float[] Hidden { get; private set; } = [];

    public float[] Query { get; private set; } = [];

    public float[] Key { get; private set; } = [];

    public float[] Value { get; private set; } = [];

    /// <summary>Attention context, heads side by side: [Tokens, hidden].</summary>
    public float[] Context { get; private set; } = [];

    /// <summary>Attention output after its dense layer and residual layer norm: [Tokens, hidden].</summary>
    public float[] Attended { get; private set; } = [];

    /// <summary>FFN activations: [Tokens, intermediate].</summary>
    public float[] Intermediate { get; private set; } = [];

    /// <summary>Hidden state of token 0 of each row: [Batch, hidden].</summary>
    public float[] Cls { get; private set; } = [];

    /// <summary>The pooler's output: [Batch, hidden].</summary>
    public float[] Pooled { get; private set; } = [];

    /// <summary>Per pool worker: the attention scratch of one (row, head).</summary>
    public float[][] Scratch { get; } = [.. Enumerable.Range(0, workers).Select(_ => Array.Empty<float>())];

    /// <summary>Quantised layer inputs of the int8 engine: up to [Tokens, intermediate]. Made on first use.</summary>
    public QuantizedRows QuantizedActivations { get; private set; } = new(0, 0);

    /// <summary>Packs the valid tokens (and their types, when given) of the batch and sizes every buffer for it.</summary>
    /// <param name="tokenTypeIds">Empty, or <c>batch × seqLen</c> like <paramref name="inputIds"/>.</param>
    public void Prepare(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, ReadOnlySpan<int> validLengths, int batch, int seqLen)
    {
        Batch = batch;
        Offsets = Grow(Offsets, batch);
        Lengths = Grow(Lengths, batch);
        int tokens = 0, maxLength = 0;
        for (int b = 0; b < batch; b++)
        {
            Offsets[b] = tokens;
            Lengths[b] = validLengths[b];
            tokens += validLengths[b];
            maxLength = Math.Max(maxLength, validLengths[b]);
        }

        Tokens = tokens;
        MaxLength = maxLength;
        TokenIds = Grow(TokenIds, tokens);
        TokenTypeIds = Grow(TokenTypeIds, tokens);
        for (int b = 0; b < batch; b++)
        {
            inputIds.Slice(b * seqLen, validLengths[b]).CopyTo(TokenIds.AsSpan(Offsets[b]));
            if (tokenTypeIds.IsEmpty)
            {
                TokenTypeIds.AsSpan(Offsets[b], validLengths[b]).Clear();
            }
            else
            {
                tokenTypeIds.Slice(b * seqLen, validLengths[b]).CopyTo(TokenTypeIds.AsSpan(Offsets[b]));
            }
        }

        long hiddenValues = (long)tokens * _hidden;
        Hidden = Grow(Hidden, hiddenValues);
        Query = Grow(Query, hiddenValues);
        Key = Grow(Key, hiddenValues);
        Value = Grow(Value, hiddenValues);
        Context = Grow(Context, hiddenValues);
        Attended = Grow(Attended, hiddenValues);
        Intermediate = Grow(Intermediate, (long)tokens * _intermediate);
        Cls = Grow(Cls, (long)batch * _hidden);
        Pooled = Grow(Pooled, (long)batch * _hidden);
        if (Quantized && QuantizedActivations.MaxRows < tokens)
        {
            QuantizedActivations = new QuantizedRows(tokens, Math.Max(_hidden, _intermediate));
        }

        long scratch = PrepareAttention(maxLength);
        for (int w = 0; w < Scratch.Length; w++)
        {
            Scratch[w] = Grow(Scratch[w], scratch);
        }
    }

    /// <summary>
    /// Sizes what the attention needs beyond the shared buffers for rows of up to <paramref name="maxLength"/> tokens and
    /// returns the floats of scratch each worker needs: by default scores [L, L] and Kᵀ [head_size, L] of one (row, head).
    /// </summary>
    protected virtual long PrepareAttention(int maxLength) => ScratchFor(maxLength, HeadSize);

    /// <summary>Copies token 0 of each row of <see cref="Hidden"/> to <see cref="Cls"/>.</summary>
    public void GatherClassTokens()
    {
        for (int b = 0; b < Batch; b++)
        {
            Hidden.AsSpan(Offsets[b] * _hidden, _hidden).CopyTo(Cls.AsSpan(b * _hidden));
        }
    }

    /// <summary>Copies the packed final states to <c>[Batch, seqLen, hidden]</c>, padding positions as 0 (they are not computed).</summary>
    public void CopyHiddenState(int seqLen, Span<float> lastHiddenState)
    {
        for (int b = 0; b < Batch; b++)
        {
            int length = Lengths[b];
            Span<float> row = lastHiddenState.Slice(b * seqLen * _hidden, seqLen * _hidden);
            Hidden.AsSpan(Offsets[b] * _hidden, length * _hidden).CopyTo(row);
            row[(length * _hidden)..].Clear();
        }
    }

    /// <summary>Scratch the default attention needs per worker for a row of <paramref name="length"/> tokens.</summary>
    public static long ScratchFor(int length, int headSize) => ((long)length * length) + ((long)headSize * length);

    protected static T[] Grow<T>(T[] array, long length)
    {
        if (array.Length >= length)
        {
            return array;
        }

        return new T[checked((int)length)];
    }
}
