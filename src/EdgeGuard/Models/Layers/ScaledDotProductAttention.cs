using System.Numerics.Tensors;
using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Models.Layers;

/// <summary>
/// Bidirectional multi-head self-attention as BERT and RoBERTa compute it (<c>BertSelfAttention</c> with absolute
/// positions): per head, <c>softmax(Q·Kᵀ / √head_size)·V</c> over the row's keys.
/// </summary>
/// <remarks>
/// Deviations from the Hugging Face code that change no valid position's value: each row attends over its valid keys
/// only (rows are packed without padding) instead of adding a large negative mask to padded keys; padding queries,
/// whose values Hugging Face leaves undefined, are not computed. K is transposed per (row, head) so both products run
/// as broadcast-FMA kernels.
/// </remarks>
internal sealed class ScaledDotProductAttention : IEncoderAttention
{
    private readonly QueryKeyValue _projections;
    private readonly int _hidden;
    private readonly int _heads;
    private readonly int _headSize;
    private readonly float _inverseScale;

    public ScaledDotProductAttention(QueryKeyValue projections, int heads)
    {
        _projections = projections;
        _hidden = projections.Query.OutFeatures;
        _heads = heads;
        _headSize = _hidden / heads;
        _inverseScale = 1f / MathF.Sqrt(_headSize);
    }

    /// <param name="weights">Names under <c>attention.self</c>.</param>
    public static ScaledDotProductAttention Load(WeightLoader weights, int hidden, int heads) => new(QueryKeyValue.Load(weights, hidden), heads);

    public IEnumerable<Linear> Linears => _projections.Linears;

    public IEncoderAttention WithInt8Weights(Int8Plan plan) => new ScaledDotProductAttention(_projections.WithInt8Weights(plan), _heads);

    public void Forward(WorkerPool pool, EncoderWorkspace workspace, bool classTokensOnly = false)
    {
        _projections.Project(pool, workspace, classTokensOnly);
        pool.For(workspace.Batch * _heads, new HeadTask(this, workspace, classTokensOnly));
    }

    /// <summary>Scratch per worker for a row of <paramref name="length"/> tokens: scores [L, L] and Kᵀ [head_size, L].</summary>
    public static long ScratchFor(int length, int headSize) => EncoderWorkspace.ScratchFor(length, headSize);

    /// <summary>One head of one row, for all its queries or (<paramref name="classTokenOnly"/>) for query 0 alone.</summary>
    private void AttendHead(EncoderWorkspace workspace, int row, int head, bool classTokenOnly, float[] scratch)
    {
        int length = workspace.Lengths[row];
        int queries = classTokenOnly ? 1 : length;
        int first = (workspace.Offsets[row] * _hidden) + (head * _headSize);
        int queryFirst = classTokenOnly ? (row * _hidden) + (head * _headSize) : first;

        Span<float> scores = scratch.AsSpan(0, queries * length);
        Span<float> keyT = scratch.AsSpan(length * length, _headSize * length);
        ReadOnlySpan<float> key = workspace.Key.AsSpan(first);
        for (int j = 0; j < length; j++)
        {
            ReadOnlySpan<float> keyRow = key.Slice(j * _hidden, _headSize);
            for (int k = 0; k < _headSize; k++)
            {
                keyT[(k * length) + j] = keyRow[k];
            }
        }

        // scores[i, j] = Qᵢ·Kⱼ / √head_size, then softmax over the row's keys
        Gemm.Multiply(workspace.Query.AsSpan(queryFirst), _hidden, keyT, length, scores, length, queries, length, _headSize);
        TensorPrimitives.Multiply(scores, _inverseScale, scores);
        for (int i = 0; i < queries; i++)
        {
            Softmax.MaskedRow(scores.Slice(i * length, length), length);
        }

        Gemm.Multiply(scores, length, workspace.Value.AsSpan(first), _hidden, workspace.Context.AsSpan(queryFirst), _hidden, queries, _headSize, length);
    }

    private readonly struct HeadTask(ScaledDotProductAttention attention, EncoderWorkspace workspace, bool classTokensOnly) : IParallelBody
    {
        public void Invoke(int index, int workerIndex) =>
            attention.AttendHead(workspace, index / attention._heads, index % attention._heads, classTokensOnly, workspace.Scratch[workerIndex]);
    }
}
