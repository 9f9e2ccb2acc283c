namespace EdgeGuard.Models.Deberta;

/// <summary>Which relative-position bucket rule to follow for distances beyond <c>max_relative_positions</c>.</summary>
internal enum RelativePositionRule
{
    /// <summary>
    /// Hugging Face <c>make_log_bucket_position</c>: the distance is not clamped, so beyond max_relative_positions
    /// the bucket magnitude exceeds <c>position_buckets - 1</c> and the embedding-row clamp decides (far keys after
    /// the query select row 0). This is what models trained or fine-tuned with Hugging Face saw.
    /// </summary>
    HuggingFace,

    /// <summary>Microsoft DeBERTa: the distance is clamped to ±(max_relative_positions - 1) first (row 0 never used).</summary>
    Original,
}

/// <summary>
/// DeBERTa-v3's relative positions: distance <c>d = query - key</c> → bucket (exact for |d| ≤ position_buckets/2,
/// logarithmic beyond up to max_relative_positions) → row of the normalised <c>rel_embeddings</c> table,
/// <c>clamp(bucket + position_buckets, 0, 2·position_buckets - 1)</c>.
/// </summary>
/// <remarks>
/// Buckets are odd in d (<c>bucket(-d) = -bucket(d)</c>), so the p2c gather index Hugging Face builds from
/// <c>-relative_pos</c> and then transposes equals the c2p index of the same (query, key) pair; the engine uses one table for both.
/// The log is evaluated in double; for the shipped configurations every distance up to 5000 gets the same bucket
/// as Hugging Face's float32 evaluation (checked against the fixtures' rel_buckets.json).
/// </remarks>
internal sealed class RelativePositionBuckets
{
    public RelativePositionBuckets(int positionBuckets, int maxRelativePositions, RelativePositionRule rule)
    {
        if (positionBuckets < 2 || maxRelativePositions <= (positionBuckets / 2) + 1)
        {
            throw new ArgumentOutOfRangeException(nameof(positionBuckets), $"position_buckets {positionBuckets} with max_relative_positions {maxRelativePositions} has no log-bucket mapping.");
        }

        PositionBuckets = positionBuckets;
        MaxRelativePositions = maxRelativePositions;
        Rule = rule;
    }

    /// <summary>Hugging Face's <c>att_span</c>: half the number of rel_embeddings rows.</summary>
    public int PositionBuckets { get; }

    public int MaxRelativePositions { get; }

    public RelativePositionRule Rule { get; }

    /// <summary>The signed bucket of distance <paramref name="distance"/> (query position minus key position).</summary>
    public int Bucket(int distance)
    {
        if (Rule == RelativePositionRule.Original)
        {
            distance = Math.Clamp(distance, -(MaxRelativePositions - 1), MaxRelativePositions - 1);
        }

        int mid = PositionBuckets / 2;
        int magnitude = Math.Abs(distance);
        if (magnitude <= mid)
        {
            return distance;
        }

        double logPosition = Math.Ceiling(Math.Log(magnitude / (double)mid) / Math.Log((MaxRelativePositions - 1) / (double)mid) * (mid - 1)) + mid;
        return Math.Sign(distance) * (int)logPosition;
    }

    /// <summary>The rel_embeddings row distance <paramref name="distance"/> selects.</summary>
    public int Index(int distance) => Math.Clamp(Bucket(distance) + PositionBuckets, 0, (2 * PositionBuckets) - 1);

    /// <summary>
    /// Writes <see cref="Index"/> of every distance a sequence of <paramref name="maxLength"/> tokens has:
    /// <c>table[d + maxLength - 1]</c> for <c>d</c> in <c>[-(maxLength - 1), maxLength - 1]</c>. The table is nondecreasing in d.
    /// </summary>
    public void FillIndexTable(Span<int> table, int maxLength)
    {
        int center = maxLength - 1;
        for (int d = -center; d <= center; d++)
        {
            table[d + center] = Index(d);
        }
    }
}
