using EdgeGuard.Models.Layers;

namespace EdgeGuard.Models.Deberta;

/// <summary>
/// The encoder workspace plus what disentangled attention needs: the relative-position index table of the batch's
/// longest row and, per worker, scores, c2p and p2c products, Kᵀ and the bands of rel_embeddings rows each row reads.
/// </summary>
internal sealed class DebertaWorkspace(int hidden, int intermediate, int headSize, int workers, bool quantized, RelativePositionBuckets buckets)
    : EncoderWorkspace(hidden, intermediate, headSize, workers, quantized)
{
    private int _bucketTableLength = -1;

    /// <summary>Per pool worker: the first and last rel_embeddings row each c2p row and each p2c row reads [4, L].</summary>
    public int[][] Bands { get; } = [.. Enumerable.Range(0, workers).Select(_ => Array.Empty<int>())];

    /// <summary>rel_embeddings row of every distance: <c>BucketIndex[d + MaxLength - 1]</c>.</summary>
    public int[] BucketIndex { get; private set; } = [];

    /// <summary>Scratch a row of <paramref name="length"/> tokens needs per worker, to refuse impossible lengths up front.</summary>
    public static long ScratchFor(int length, int positionBuckets, int headSize) =>
        ((long)length * length) + (2L * length * Math.Min((2L * length) - 1, 2L * positionBuckets)) + ((long)headSize * length);

    protected override long PrepareAttention(int maxLength)
    {
        if (_bucketTableLength != maxLength)
        {
            BucketIndex = Grow(BucketIndex, (2 * maxLength) - 1);
            buckets.FillIndexTable(BucketIndex, maxLength);
            _bucketTableLength = maxLength;
        }

        for (int w = 0; w < Bands.Length; w++)
        {
            Bands[w] = Grow(Bands[w], 4L * maxLength);
        }

        // R: rel_embeddings rows the longest row touches (at most 2·position_buckets).
        int center = maxLength - 1;
        long relRows = BucketIndex[2 * center] - BucketIndex[0] + 1;
        return ((long)maxLength * maxLength) + (2L * maxLength * relRows) + ((long)HeadSize * maxLength);
    }
}
