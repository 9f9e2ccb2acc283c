using EdgeGuard.Tokenization;

namespace EdgeGuard.Generation;

/// <summary>Whether two tokenizers give every id the same meaning, as models whose logits are combined must.</summary>
internal static class TokenizerAgreement
{
    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the first difference: vocabulary size, BOS, EOS, or an id whose bytes
    /// or special status differ. Tokenizers that do not expose their tokens' bytes are compared by each id's decoded text.
    /// </summary>
    public static void Require(IGenerativeTokenizer primary, IGenerativeTokenizer other, string primaryName, string otherName)
    {
        if (ReferenceEquals(primary, other))
        {
            return;
        }

        string Differ(string what) =>
            $"Model '{otherName}' has a different tokenizer from '{primaryName}' ({what}): models whose logits are combined must share one vocabulary.";

        if (primary.VocabularySize != other.VocabularySize)
        {
            throw new ArgumentException(Differ($"{other.VocabularySize} tokens against {primary.VocabularySize}"));
        }

        if (primary.BosId != other.BosId || primary.EosId != other.EosId)
        {
            throw new ArgumentException(Differ($"BOS/EOS ids {Id(other.BosId)}/{Id(other.EosId)} against {Id(primary.BosId)}/{Id(primary.EosId)}"));
        }

        var first = new PooledBuffer<byte>(64);
        var second = new PooledBuffer<byte>(64);
        try
        {
            for (int id = 0; id < primary.VocabularySize; id++)
            {
                if (primary.IsSpecial(id) != other.IsSpecial(id) || !SameText(primary, other, id, ref first, ref second))
                {
                    throw new ArgumentException(Differ($"token {id} differs"));
                }
            }
        }
        finally
        {
            first.Dispose();
            second.Dispose();
        }
    }

    private static bool SameText(IGenerativeTokenizer a, IGenerativeTokenizer b, int id, ref PooledBuffer<byte> first, ref PooledBuffer<byte> second)
    {
        if (a is ITokenBytes aBytes && b is ITokenBytes bBytes)
        {
            first.Shrink(first.Count);
            second.Shrink(second.Count);

            // Past the start, so SentencePiece keeps a piece's leading space: "▁a" and "a" must not compare equal.
            var stateA = new TokenDecodeState { Printed = 1, PastStart = true };
            var stateB = stateA;
            aBytes.AppendBytes(id, ref stateA, ref first);
            bBytes.AppendBytes(id, ref stateB, ref second);
            return first.Span.SequenceEqual(second.Span);
        }

        ReadOnlySpan<int> one = new(in id);
        return a.Decode(one) == b.Decode(one);
    }

    private static string Id(int? id) => id?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none";
}
