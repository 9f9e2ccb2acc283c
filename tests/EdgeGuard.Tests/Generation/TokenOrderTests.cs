using EdgeGuard.Generation.Logits;

namespace EdgeGuard.Tests.Generation;

public sealed class TokenOrderTests
{
    [Fact]
    public void CollectCandidates_RanksByLogitThenLowestId_ZerosEqual()
    {
        float[] logits = [0f, -0f, 3f, float.NegativeInfinity, -1e-45f, 3f, float.MaxValue, -float.MaxValue];
        var keys = new ulong[logits.Length];
        int count = TokenOrder.CollectCandidates(logits, keys);
        Span<ulong> ranked = keys.AsSpan(0, count);
        ranked.Sort();
        int[] order = new int[count];
        for (int i = 0; i < count; i++)
        {
            order[i] = TokenOrder.TokenOf(ranked[i]);
        }

        Assert.Equal([6, 2, 5, 0, 1, 4, 7], order);
    }

    [Theory]
    [InlineData("random")]
    [InlineData("ascending")]
    [InlineData("descending")]
    [InlineData("equal")]
    [InlineData("organ-pipe")]
    public void SelectRank_AnyInputOrder_EqualsTheFullSort(string pattern)
    {
        var random = new Random(21);
        foreach (int size in new[] { 1, 2, 3, 7, 100, 1001 })
        {
            float[] logits = Enumerable.Range(0, size).Select(i => pattern switch
            {
                "random" => (float)random.NextDouble(),
                "ascending" => i,
                "descending" => -i,
                "equal" => 1f,
                _ => Math.Min(i, size - i),
            }).ToArray();
            var keys = new ulong[size];
            TokenOrder.CollectCandidates(logits, keys);
            ulong[] sorted = keys.Order().ToArray();
            foreach (int rank in new[] { 0, size / 3, size / 2, size - 1 })
            {
                // Budgets 0 and 1 take the sort fallback at once or after one partition; the default rarely does.
                foreach (int? budget in new int?[] { null, 0, 1 })
                {
                    // Keys come in token order, so each pattern reaches the selection as it is; "random" also shuffles.
                    ulong[] work = (ulong[])keys.Clone();
                    if (pattern == "random")
                    {
                        random.Shuffle(work);
                    }

                    ulong selected = budget is int b ? TokenOrder.SelectRank(work, rank, b) : TokenOrder.SelectRank(work, rank);
                    Assert.Equal(sorted[rank], selected);
                    Assert.Equal(sorted[rank], work[rank]);
                }
            }
        }
    }
}
