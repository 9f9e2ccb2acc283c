using System.Diagnostics;

namespace EdgeGuard.Generation.Logits;

/// <summary>
/// The order in which filters rank tokens: logit descending, lower token id first among equal logits (−0 and +0 are
/// equal). Each token is packed into one 64-bit key whose ascending order is that order, so ranking is a sort or a
/// selection of plain integers: no comparer, no allocation, and a result that does not depend on the sort's stability.
/// </summary>
internal static class TokenOrder
{
    /// <summary>
    /// Writes the keys of the tokens whose logit is not −∞ to the front of <paramref name="keys"/> and returns their
    /// number. The row must be free of NaN.
    /// </summary>
    public static int CollectCandidates(ReadOnlySpan<float> logits, Span<ulong> keys)
    {
        Debug.Assert(keys.Length >= logits.Length);
        int count = 0;
        for (int v = 0; v < logits.Length; v++)
        {
            float value = logits[v];
            if (!float.IsNegativeInfinity(value))
            {
                keys[count++] = Key(value, v);
            }
        }

        return count;
    }

    /// <summary>The token id a key stands for.</summary>
    public static int TokenOf(ulong key) => (int)(uint)key;

    /// <summary>
    /// Leaves the key of rank <paramref name="rank"/> (0 = best) at that index of <paramref name="keys"/> and returns
    /// it: quickselect with a median-of-three pivot, falling back to a sort of the remaining range when the
    /// partitions keep coming out lopsided, so the worst case stays O(n log n).
    /// </summary>
    public static ulong SelectRank(Span<ulong> keys, int rank) =>
        SelectRank(keys, rank, partitionBudget: 2 * (64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)keys.Length)));

    /// <summary><see cref="SelectRank(Span{ulong}, int)"/> with the number of partitions allowed before the sort.</summary>
    internal static ulong SelectRank(Span<ulong> keys, int rank, int partitionBudget)
    {
        Debug.Assert(rank >= 0 && rank < keys.Length);
        int lo = 0;
        int hi = keys.Length - 1;
        int budget = partitionBudget;
        while (hi > lo)
        {
            if (budget-- == 0)
            {
                keys[lo..(hi + 1)].Sort();
                return keys[rank];
            }

            int mid = lo + ((hi - lo) >> 1);
            SortPair(keys, lo, mid);
            SortPair(keys, lo, hi);
            SortPair(keys, mid, hi);
            ulong pivot = keys[mid];
            int i = lo;
            int j = hi;
            while (i <= j)
            {
                while (keys[i] < pivot)
                {
                    i++;
                }

                while (keys[j] > pivot)
                {
                    j--;
                }

                if (i <= j)
                {
                    (keys[i], keys[j]) = (keys[j], keys[i]);
                    i++;
                    j--;
                }
            }

            if (rank <= j)
            {
                hi = j;
            }
            else if (rank >= i)
            {
                lo = i;
            }
            else
            {
                return keys[rank];
            }
        }

        return keys[rank];
    }

    private static ulong Key(float value, int token)
    {
        // + 0f turns −0 into +0, so the two zeros rank by token id like any other tie.
        uint bits = (uint)BitConverter.SingleToInt32Bits(value + 0f);
        uint ascending = (bits & 0x8000_0000u) == 0 ? bits | 0x8000_0000u : ~bits;
        return ((ulong)~ascending << 32) | (uint)token;
    }

    private static void SortPair(Span<ulong> keys, int a, int b)
    {
        if (keys[b] < keys[a])
        {
            (keys[a], keys[b]) = (keys[b], keys[a]);
        }
    }
}
