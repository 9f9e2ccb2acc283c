using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.Models.Deberta;

/// <summary>
/// Scratch memory of one forward pass. Rows of a batch are packed without their padding: token t of the packed
/// layout is position <c>t - Offsets[b]</c> of row b. Buffers only grow, so once a workspace has seen the largest
/// batch a caller uses, forwards allocate nothing; <see cref="DebertaClassifier"/> keeps idle workspaces for reuse.
/// </summary>
internal sealed class DebertaWorkspace(int hidden, int intermediate, int headSize, int workers, bool quantized = false)
{
    /// <summary>Whether forwards need <see cref="QuantizedActivations"/>.</summary>
    public bool Quantized { get; } = quantized;

    private readonly int _hidden = hidden;
    private readonly int _intermediate = intermediate;

    public int Batch { get; private set; }

    /// <summary>Valid tokens of all rows.</summary>
    public int Tokens { get; private set; }

    /// <summary>Longest valid length in the batch.</summary>
    public int MaxLength { get; private set; }

    public int[] Offsets { get; private set; } = [];

    public int[] Lengths { get; private set; } = [];

    public int[] TokenIds { get; private set; } = [];

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

    public float[] Pooled { get; private set; } = [];

    /// <summary>Per pool worker: attention scores [L, L], the c2p and p2c products [L, R] and Kᵀ [head_size, L] of one (row, head).</summary>
    public float[][] Scratch { get; } = [.. Enumerable.Range(0, workers).Select(_ => Array.Empty<float>())];

    /// <summary>Per pool worker: the first and last rel_embeddings row each c2p row and each p2c row reads [4, L].</summary>
    public int[][] Bands { get; } = [.. Enumerable.Range(0, workers).Select(_ => Array.Empty<int>())];

    /// <summary>rel_embeddings row of every distance: <c>BucketIndex[d + MaxLength - 1]</c>.</summary>
    public int[] BucketIndex { get; private set; } = [];

    private int _bucketTableLength = -1;

    /// <summary>Quantised layer inputs of the int8 engine: up to [Tokens, intermediate]. Made on first use.</summary>
    public QuantizedRows QuantizedActivations { get; private set; } = new(0, 0);

    /// <summary>Packs the valid tokens of the batch and sizes every buffer for it.</summary>
    public void Prepare(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, RelativePositionBuckets buckets)
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
        for (int b = 0; b < batch; b++)
        {
            inputIds.Slice(b * seqLen, validLengths[b]).CopyTo(TokenIds.AsSpan(Offsets[b]));
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
        if (Quantized && QuantizedActivations.MaxRows < tokens)
        {
            QuantizedActivations = new QuantizedRows(tokens, Math.Max(_hidden, _intermediate));
        }

        Pooled = Grow(Pooled, (long)batch * _hidden);

        if (_bucketTableLength != maxLength)
        {
            BucketIndex = Grow(BucketIndex, (2 * maxLength) - 1);
            buckets.FillIndexTable(BucketIndex, maxLength);
            _bucketTableLength = maxLength;
        }

        // R: rel_embeddings rows the longest row touches (at most 2·position_buckets).
        int center = maxLength - 1;
        long relRows = BucketIndex[2 * center] - BucketIndex[0] + 1;
        long scratch = ((long)maxLength * maxLength) + (2L * maxLength * relRows) + ((long)headSize * maxLength);
        for (int w = 0; w < Scratch.Length; w++)
        {
            Scratch[w] = Grow(Scratch[w], scratch);
            Bands[w] = Grow(Bands[w], 4L * maxLength);
        }
    }

    /// <summary>Copies token 0 of each row of <see cref="Hidden"/> to <see cref="Cls"/>.</summary>
    public void GatherClassTokens()
    {
        for (int b = 0; b < Batch; b++)
        {
            Hidden.AsSpan(Offsets[b] * _hidden, _hidden).CopyTo(Cls.AsSpan(b * _hidden));
        }
    }

    /// <summary>Scratch a row of <paramref name="length"/> tokens needs per worker, to refuse impossible lengths up front.</summary>
    public static long ScratchFor(int length, int positionBuckets, int headSize) =>
        ((long)length * length) + (2L * length * Math.Min((2L * length) - 1, 2L * positionBuckets)) + ((long)headSize * length);

    private static T[] Grow<T>(T[] array, long length)
    {
        if (array.Length >= length)
        {
            return array;
        }

        return new T[checked((int)length)];
    }
}
