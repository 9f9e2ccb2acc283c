using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Models.Deberta;

/// <summary>
/// <c>DisentangledSelfAttention</c> of DeBERTa-v3 with shared keys (share_att_key) and pos_att_type c2p + p2c:
/// <code>
/// score[i, j] = ( Qᵢ·Kⱼ + Qᵢ·posK[idx(i - j)] + Kⱼ·posQ[idx(i - j)] ) / √(3·head_size)
/// posK = key_proj(LN(rel_embeddings)),  posQ = query_proj(LN(rel_embeddings))
/// </code>
/// softmax over the row's keys, times V, per head.
/// </summary>
/// <remarks>
/// Deviations from the Hugging Face code, none of which changes a valid position's value:
/// posK and posQ do not depend on the input, so they are computed once at load instead of every call.
/// posK and posQ are kept transposed per head ([head][head_size][rel row]) and K is transposed per (row, head),
/// so the three products with k = head_size run as broadcast-FMA kernels without horizontal sums.
/// c2p and p2c are computed only for the rel_embeddings rows the row's length reaches, and both are gathered
/// with one index table (see <see cref="RelativePositionBuckets"/>). Each row attends over its valid keys only
/// (rows are packed without padding) instead of a masked softmax over the padded length; padding queries,
/// whose values Hugging Face leaves undefined, are not computed. 1/scale multiplies the summed score once
/// instead of each term.
/// </remarks>
internal sealed class DisentangledAttention : IEncoderAttention
{
    private readonly QueryKeyValue _projections;
    private readonly float[] _positionKeyT;
    private readonly float[] _positionQueryT;
    private readonly int _relRows;
    private readonly int _hidden;
    private readonly int _heads;
    private readonly int _headSize;
    private readonly float _inverseScale;
    private readonly DebertaConfig _config;

    private DisentangledAttention(QueryKeyValue projections, float[] positionKeyT, float[] positionQueryT, int relRows, DebertaConfig config)
    {
        _projections = projections;
        _positionKeyT = positionKeyT;
        _positionQueryT = positionQueryT;
        _relRows = relRows;
        _hidden = config.HiddenSize;
        _heads = config.NumAttentionHeads;
        _headSize = config.HeadSize;

        // scale_factor = 1 + |{c2p, p2c}| = 3
        _inverseScale = 1f / MathF.Sqrt(_headSize * 3f);
        _config = config;
    }

    /// <param name="weights">Names under <c>attention.self</c>.</param>
    /// <param name="config">The model config.</param>
    /// <param name="relativeEmbeddings">LayerNorm(rel_embeddings), [2·position_buckets, hidden].</param>
    /// <param name="pool">Runs the load-time projections.</param>
    /// <param name="layer">The layer's index, to find its precomputed projections in a version-2 bundle.</param>
    public static DisentangledAttention Load(WeightLoader weights, DebertaConfig config, ReadOnlySpan<float> relativeEmbeddings, WorkerPool pool, int layer)
    {
        int hidden = config.HiddenSize;
        var projections = QueryKeyValue.Load(weights, hidden, "query_proj", "key_proj", "value_proj");
        int rows = relativeEmbeddings.Length / hidden;
        float[] positionKey = new float[rows * hidden];
        float[] positionQuery = new float[rows * hidden];
        if (weights.Source is IInt8WeightSource stored
            && FindPrecomputed(stored, layer, "key", rows, hidden) is { } storedKey
            && FindPrecomputed(stored, layer, "query", rows, hidden) is { } storedQuery)
        {
            // computed at convert time from the float32 weights the file no longer holds
            storedKey.Span.CopyTo(positionKey);
            storedQuery.Span.CopyTo(positionQuery);
        }
        else
        {
            projections.Key.Forward(pool, relativeEmbeddings, rows, positionKey);
            projections.Query.Forward(pool, relativeEmbeddings, rows, positionQuery);
        }

        return new DisentangledAttention(
            projections, TransposePerHead(positionKey, rows, config), TransposePerHead(positionQuery, rows, config), rows, config);
    }

    private static ReadOnlyMemory<float>? FindPrecomputed(IInt8WeightSource stored, int layer, string kind, int rows, int hidden) =>
        stored.FindPrecomputed(DebertaClassifier.PositionProjectionName(layer, kind), rows, hidden)
            ?? stored.FindPrecomputed(DebertaClassifier.LegacyPositionProjectionName(layer, kind), rows, hidden);

    /// <summary>The linear layers, for export.</summary>
    public IEnumerable<Linear> Linears => _projections.Linears;

    /// <summary>The position projections as <c>[rows, hidden]</c> (undoing the per-head transpose), for export.</summary>
    public (float[] Key, float[] Query) PositionProjections() => (UntransposePerHead(_positionKeyT), UntransposePerHead(_positionQueryT));

    private float[] UntransposePerHead(float[] transposed)
    {
        float[] projected = new float[transposed.Length];
        for (int h = 0; h < _heads; h++)
        {
            for (int k = 0; k < _headSize; k++)
            {
                int source = ((h * _headSize) + k) * _relRows;
                for (int r = 0; r < _relRows; r++)
                {
                    projected[(r * _hidden) + (h * _headSize) + k] = transposed[source + r];
                }
            }
        }

        return projected;
    }

    /// <summary>This attention with int8 Q/K/V projections (the position projections stay the float32 ones computed at load).</summary>
    public IEncoderAttention WithInt8Weights(Int8Plan plan) =>
        new DisentangledAttention(_projections.WithInt8Weights(plan), _positionKeyT, _positionQueryT, _relRows, _config);

    /// <summary>[rows, hidden] → [head][head_size][rows].</summary>
    private static float[] TransposePerHead(float[] projected, int rows, DebertaConfig config)
    {
        int hidden = config.HiddenSize, headSize = config.HeadSize;
        float[] transposed = new float[projected.Length];
        for (int h = 0; h < config.NumAttentionHeads; h++)
        {
            for (int k = 0; k < headSize; k++)
            {
                int target = ((h * headSize) + k) * rows;
                for (int r = 0; r < rows; r++)
                {
                    transposed[target + r] = projected[(r * hidden) + (h * headSize) + k];
                }
            }
        }

        return transposed;
    }

    /// <inheritdoc />
    /// <remarks>The workspace is the model's <see cref="DebertaWorkspace"/>, which holds the relative-position tables.</remarks>
    public void Forward(WorkerPool pool, EncoderWorkspace workspace, bool classTokensOnly = false)
    {
        _projections.Project(pool, workspace, classTokensOnly);
        pool.For(workspace.Batch * _heads, new HeadTask(this, (DebertaWorkspace)workspace, classTokensOnly));
    }

    /// <summary>
    /// Attention of one head of one row, on one worker's scratch: for all the row's queries (packed like the keys), or
    /// for its query 0 alone (<paramref name="classTokenOnly"/>: query and context at row <paramref name="row"/>).
    /// </summary>
    private void AttendHead(DebertaWorkspace workspace, int row, int head, bool classTokenOnly, float[] scratch, int[] bands)
    {
        int length = workspace.Lengths[row];
        int queries = classTokenOnly ? 1 : length;
        int first = (workspace.Offsets[row] * _hidden) + (head * _headSize);
        int queryFirst = classTokenOnly ? (row * _hidden) + (head * _headSize) : first;
        int[] table = workspace.BucketIndex;
        int center = workspace.MaxLength - 1;

        // rel_embeddings rows [lowest, lowest + relRows) are all this row's distances select (the table is monotone).
        int lowest = table[center - (length - 1)];
        int relRows = table[center + (length - 1)] - lowest + 1;
        int relFirst = (head * _headSize * _relRows) + lowest;

        Span<float> scores = scratch.AsSpan(0, queries * length);
        Span<float> c2p = scratch.AsSpan(length * length, queries * relRows);
        Span<float> p2c = scratch.AsSpan((length * length) + (length * relRows), length * relRows);
        Span<float> keyT = scratch.AsSpan((length * length) + (2 * length * relRows), _headSize * length);
        ReadOnlySpan<float> query = workspace.Query.AsSpan(queryFirst);
        ReadOnlySpan<float> key = workspace.Key.AsSpan(first);
        for (int j = 0; j < length; j++)
        {
            ReadOnlySpan<float> keyRow = key.Slice(j * _hidden, _headSize);
            for (int k = 0; k < _headSize; k++)
            {
                keyT[(k * length) + j] = keyRow[k];
            }
        }

        // Score (i, j) reads row r = table[center + i − j] − lowest of both: query i the distances i − j for every j,
        // key j those for every query i. The table is monotone, so each is a band; about half of R at the longest length.
        Span<int> c2pFirst = bands.AsSpan(0, queries), c2pLast = bands.AsSpan(length, queries);
        Span<int> p2cFirst = bands.AsSpan(2 * length, length), p2cLast = bands.AsSpan(3 * length, length);
        for (int i = 0; i < queries; i++)
        {
            c2pFirst[i] = table[center + i - (length - 1)] - lowest;
            c2pLast[i] = table[center + i] - lowest;
        }

        for (int j = 0; j < length; j++)
        {
            p2cFirst[j] = table[center - j] - lowest;
            p2cLast[j] = table[center + (queries - 1) - j] - lowest;
        }

        // c2p[i, r] = Qᵢ·posK[r], p2c[j, r] = Kⱼ·posQ[r], scores[i, j] = Qᵢ·Kⱼ
        Gemm.MultiplyBanded(query, _hidden, _positionKeyT.AsSpan(relFirst), _relRows, c2p, relRows, queries, relRows, _headSize, c2pFirst, c2pLast);
        Gemm.MultiplyBanded(key, _hidden, _positionQueryT.AsSpan(relFirst), _relRows, p2c, relRows, length, relRows, _headSize, p2cFirst, p2cLast);
        Gemm.Multiply(query, _hidden, keyT, length, scores, length, queries, length, _headSize);

        for (int i = 0; i < queries; i++)
        {
            Span<float> scoreRow = scores.Slice(i * length, length);
            ReadOnlySpan<float> c2pRow = c2p.Slice(i * relRows, relRows);
            ReadOnlySpan<int> indexRow = table.AsSpan(center + i - (length - 1), length);

            // indexRow[length - 1 - j] is the row of distance i - j
            for (int j = 0; j < length; j++)
            {
                int r = indexRow[length - 1 - j] - lowest;
                scoreRow[j] = (scoreRow[j] + c2pRow[r] + p2c[(j * relRows) + r]) * _inverseScale;
            }

            Softmax.MaskedRow(scoreRow, length);
        }

        Gemm.Multiply(scores, length, workspace.Value.AsSpan(first), _hidden, workspace.Context.AsSpan(queryFirst), _hidden, queries, _headSize, length);
    }

    private readonly struct HeadTask(DisentangledAttention attention, DebertaWorkspace workspace, bool classTokensOnly) : IParallelBody
    {
        public void Invoke(int index, int workerIndex) =>
            attention.AttendHead(workspace, index / attention._heads, index % attention._heads, classTokensOnly, workspace.Scratch[workerIndex], workspace.Bands[workerIndex]);
    }
}
