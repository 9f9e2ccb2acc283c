using System.Numerics.Tensors;
using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Models.Layers;

/// <summary>
/// Causal multi-head attention of new tokens over a decoder's KV cache, grouped-query when there are fewer key/value
/// heads than query heads (query head <c>h</c> reads key/value head <c>h / (heads / kv_heads)</c>, Hugging Face's
/// <c>repeat_kv</c>): per head, <c>softmax(Q·Kᵀ · scale)·V</c> where the query at position <c>p</c> sees keys <c>0…p</c>.
/// </summary>
/// <remarks>
/// Deviation that changes no value: Hugging Face adds <c>finfo.min</c> to masked scores; here a row's softmax runs over
/// its visible keys and the rest get exactly 0, the same result. Tasks are (head, block of query rows), on the pool.
/// </remarks>
internal static class CausalSelfAttention
{
    /// <summary>
    /// Attends the <paramref name="rows"/> queries in <see cref="DecoderState.Query"/> (positions <paramref name="start"/> …)
    /// over the cache of <paramref name="layer"/>, which already holds their keys and values; writes <see cref="DecoderState.Context"/>.
    /// </summary>
    public static void Forward(WorkerPool pool, DecoderShape shape, DecoderState state, int layer, int rows, int start, float scale)
    {
        int blocks = (rows + DecoderState.AttentionBlockRows - 1) / DecoderState.AttentionBlockRows;
        pool.For(shape.Heads * blocks, new HeadBlockTask(shape, state, layer, rows, start, scale, blocks));
    }

    private static void AttendBlock(DecoderShape shape, DecoderState state, int layer, int head, int firstRow, int rows, int start, float scale, int worker)
    {
        int headSize = shape.HeadSize;
        int queryWidth = shape.QueryWidth;
        int kvHead = head / (shape.Heads / shape.KeyValueHeads);
        int keys = start + firstRow + rows; // the last row's keys; earlier rows see a prefix
        ReadOnlySpan<float> query = state.Query.AsSpan((firstRow * queryWidth) + (head * headSize));
        (ReadOnlyMemory<float> keyCache, ReadOnlyMemory<float> valueCache) = state.HeadCache(layer, kvHead, keys, state.KeyValueScratch[worker], out int stride);
        ReadOnlySpan<float> key = keyCache.Span, value = valueCache.Span;
        Span<float> scores = state.AttentionScratch[worker].AsSpan(0, rows * keys);

        // scores[i, j] = Qᵢ·Kⱼ, then × scale and softmax over the keys row i sees
        Gemm.MultiplyTransposed(query, queryWidth, key, stride, default, scores, keys, rows, keys, headSize);
        for (int i = 0; i < rows; i++)
        {
            int visible = start + firstRow + i + 1;
            Span<float> row = scores.Slice(i * keys, keys);
            TensorPrimitives.Multiply(row[..visible], scale, row[..visible]);
            Softmax.MaskedRow(row, visible);
        }

        Gemm.Multiply(scores, keys, value, stride, state.Context.AsSpan((firstRow * queryWidth) + (head * headSize)), queryWidth, rows, headSize, keys);
    }

    private readonly struct HeadBlockTask(DecoderShape shape, DecoderState state, int layer, int rows, int start, float scale, int blocks) : IParallelBody
    {
        public void Invoke(int index, int workerIndex)
        {
            int head = index / blocks;
            int firstRow = (index % blocks) * DecoderState.AttentionBlockRows;
            int count = Math.Min(DecoderState.AttentionBlockRows, rows - firstRow);
            AttendBlock(shape, state, layer, head, firstRow, count, start, scale, workerIndex);
        }
    }
}
