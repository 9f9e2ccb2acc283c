namespace EdgeGuard.Tokenization;

/// <summary>
/// How a tokenizer's model frames its input: one segment <c>a</c> becomes <c>Prefix a Suffix</c>, two segments become
/// <c>Prefix a Middle b Suffix</c>; <c>Prefix a Middle</c> has token type 0 and <c>b Suffix</c> has
/// <see cref="SecondSegmentTokenType"/>. Immutable.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>BERT, MiniLM, DeBERTa-v3 (<see cref="Bert"/>): <c>[CLS] a [SEP]</c> and <c>[CLS] a [SEP] b [SEP]</c>, token types 0 then 1
/// (DeBERTa-v3 has no token type embeddings and ignores them).</item>
/// <item>RoBERTa (<see cref="Roberta"/>): <c>&lt;s&gt; a &lt;/s&gt;</c> and <c>&lt;s&gt; a &lt;/s&gt;&lt;/s&gt; b &lt;/s&gt;</c>, all token types 0.</item>
/// <item>GPT-2 (<see cref="None"/>): no special tokens, the segments are concatenated (token types 0 then 1).</item>
/// </list>
/// </remarks>
public sealed class PairTemplate
{
    private readonly int[] _prefix;
    private readonly int[] _middle;
    private readonly int[] _suffix;

    /// <summary>A template from its three parts (copied).</summary>
    /// <param name="prefix">Ids before the first segment.</param>
    /// <param name="middle">Ids between the two segments (absent with one segment).</param>
    /// <param name="suffix">Ids after the last segment.</param>
    /// <param name="secondSegmentTokenType">Token type of the second segment and the suffix after it (0 or 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A negative id, or a token type other than 0 or 1.</exception>
    public PairTemplate(ReadOnlySpan<int> prefix, ReadOnlySpan<int> middle, ReadOnlySpan<int> suffix, int secondSegmentTokenType)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(secondSegmentTokenType);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(secondSegmentTokenType, 1);
        if (prefix.IndexOfAnyInRange(int.MinValue, -1) >= 0 || middle.IndexOfAnyInRange(int.MinValue, -1) >= 0 || suffix.IndexOfAnyInRange(int.MinValue, -1) >= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(prefix), "Special token ids must not be negative.");
        }

        _prefix = prefix.ToArray();
        _middle = middle.ToArray();
        _suffix = suffix.ToArray();
        SecondSegmentTokenType = secondSegmentTokenType;
    }

    /// <summary>Ids before the first segment (<c>[CLS]</c>, <c>&lt;s&gt;</c>).</summary>
    public ReadOnlySpan<int> Prefix => _prefix;

    /// <summary>Ids between the first and the second segment (<c>[SEP]</c>, <c>&lt;/s&gt;&lt;/s&gt;</c>).</summary>
    public ReadOnlySpan<int> Middle => _middle;

    /// <summary>Ids after the last segment (<c>[SEP]</c>, <c>&lt;/s&gt;</c>).</summary>
    public ReadOnlySpan<int> Suffix => _suffix;

    /// <summary>Token type of the second segment and the suffix after it: 1 for BERT, 0 for RoBERTa.</summary>
    public int SecondSegmentTokenType { get; }

    /// <summary>Special tokens in a one-segment row: <c>Prefix</c> + <c>Suffix</c>.</summary>
    public int SingleSpecialTokenCount => _prefix.Length + _suffix.Length;

    /// <summary>Special tokens in a two-segment row: <c>Prefix</c> + <c>Middle</c> + <c>Suffix</c>.</summary>
    public int PairSpecialTokenCount => _prefix.Length + _middle.Length + _suffix.Length;

    /// <summary><c>[CLS] a [SEP]</c> / <c>[CLS] a [SEP] b [SEP]</c>, token types 0 then 1: BERT, MiniLM, DeBERTa-v3.</summary>
    public static PairTemplate Bert(int clsId, int sepId) => new([clsId], [sepId], [sepId], 1);

    /// <summary><c>&lt;s&gt; a &lt;/s&gt;</c> / <c>&lt;s&gt; a &lt;/s&gt;&lt;/s&gt; b &lt;/s&gt;</c>, all token types 0: RoBERTa.</summary>
    public static PairTemplate Roberta(int bosId, int eosId) => new([bosId], [eosId, eosId], [eosId], 0);

    /// <summary>
    /// No special tokens: the segments are concatenated (GPT-2, whose tokenizer adds none); the second segment has token
    /// type 1, as Hugging Face marks a second sequence.
    /// </summary>
    public static PairTemplate None { get; } = new([], [], [], 1);

    /// <summary>Special tokens in a row with one segment or two.</summary>
    public int SpecialTokenCount(bool hasSecond) => hasSecond ? PairSpecialTokenCount : SingleSpecialTokenCount;

    /// <summary>Length of a row holding <paramref name="firstTokens"/> and <paramref name="secondTokens"/> text tokens.</summary>
    public int RowLength(int firstTokens, int secondTokens, bool hasSecond) =>
        checked(firstTokens + secondTokens + SpecialTokenCount(hasSecond));

    /// <summary>Whether <paramref name="id"/> is one of the template's special tokens.</summary>
    public bool Contains(int id) => _prefix.Contains(id) || _middle.Contains(id) || _suffix.Contains(id);

    /// <summary>
    /// Builds one row from segments that are already tokenized, truncated to <paramref name="maxLength"/> tokens
    /// including the special tokens.
    /// </summary>
    /// <remarks>
    /// Truncation follows Hugging Face transformers' <c>TruncationStrategy.LONGEST_FIRST</c>: one token at a time is
    /// removed from the end of the longer segment, and from the second when both are equally long. So the longer
    /// segment is first cut down to the shorter one, and any remaining excess is split with the second segment losing
    /// the odd token. (The Rust <c>tokenizers</c> fast path gives the odd token to the originally longer segment
    /// instead; the two differ by one token only when both segments are cut.)
    /// </remarks>
    /// <param name="first">The first segment's ids (the prompt), without special tokens.</param>
    /// <param name="second">The second segment's ids (the response); must be empty when <paramref name="hasSecond"/> is false.</param>
    /// <param name="hasSecond">Whether the row has a second segment (an empty one still gets its special tokens).</param>
    /// <param name="maxLength">The most tokens to return, special tokens included.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> cannot hold the special tokens.</exception>
    /// <exception cref="ArgumentException"><paramref name="second"/> is not empty but <paramref name="hasSecond"/> is false.</exception>
    public EncodedPair Build(ReadOnlySpan<int> first, ReadOnlySpan<int> second, bool hasSecond, int maxLength)
    {
        ThrowIfMaxLengthTooSmall(maxLength, hasSecond);
        if (!hasSecond && !second.IsEmpty)
        {
            throw new ArgumentException("Ids for a second segment were given but hasSecond is false.", nameof(second));
        }

        (int keptFirst, int keptSecond) = TruncateLongestFirst(first.Length, second.Length, maxLength - SpecialTokenCount(hasSecond));
        int length = RowLength(keptFirst, keptSecond, hasSecond);
        var ids = new int[length];
        var types = new int[length];
        WriteRow(first[..keptFirst], second[..keptSecond], hasSecond, ids, types);
        bool truncated = keptFirst < first.Length || keptSecond < second.Length;
        return new EncodedPair(ids, types, keptFirst, keptSecond, truncated);
    }

    /// <summary>
    /// Writes the row <c>Prefix first Suffix</c> or <c>Prefix first Middle second Suffix</c> and its token types, as
    /// given (no truncation), into the start of <paramref name="ids"/> and <paramref name="tokenTypeIds"/>.
    /// </summary>
    /// <returns>The row length, <see cref="RowLength"/>.</returns>
    /// <exception cref="ArgumentException">A destination is shorter than the row, or <paramref name="second"/> is not empty without <paramref name="hasSecond"/>.</exception>
    public int WriteRow(ReadOnlySpan<int> first, ReadOnlySpan<int> second, bool hasSecond, Span<int> ids, Span<int> tokenTypeIds)
    {
        if (!hasSecond && !second.IsEmpty)
        {
            throw new ArgumentException("Ids for a second segment were given but hasSecond is false.", nameof(second));
        }

        int length = RowLength(first.Length, second.Length, hasSecond);
        if (ids.Length < length || tokenTypeIds.Length < length)
        {
            throw new ArgumentException($"The row has {length} tokens; ids has room for {ids.Length} and tokenTypeIds for {tokenTypeIds.Length}.");
        }

        int at = Append(ids, 0, _prefix);
        at = Append(ids, at, first);
        if (hasSecond)
        {
            at = Append(ids, at, _middle);
            int secondStart = at;
            at = Append(ids, at, second);
            at = Append(ids, at, _suffix);
            tokenTypeIds[..secondStart].Clear();
            tokenTypeIds[secondStart..at].Fill(SecondSegmentTokenType);
        }
        else
        {
            at = Append(ids, at, _suffix);
            tokenTypeIds[..at].Clear();
        }

        return at;
    }

    /// <summary>How many first- and second-segment tokens longest-first truncation keeps within <paramref name="budget"/>.</summary>
    internal static (int First, int Second) TruncateLongestFirst(int first, int second, int budget)
    {
        long excess = (long)first + second - budget;
        if (excess <= 0)
        {
            return (first, second);
        }

        // Removing from the longer side until both are equal ...
        long fromLonger = Math.Min(Math.Abs((long)first - second), excess);
        long keptFirst = first > second ? first - fromLonger : first;
        long keptSecond = first > second ? second : second - fromLonger;
        excess -= fromLonger;

        // ... then alternating, second segment first, since ties are cut from it.
        keptSecond -= (excess + 1) / 2;
        keptFirst -= excess / 2;
        return ((int)keptFirst, (int)keptSecond);
    }

    private static int Append(Span<int> destination, int at, ReadOnlySpan<int> source)
    {
        source.CopyTo(destination[at..]);
        return at + source.Length;
    }

    private void ThrowIfMaxLengthTooSmall(int maxLength, bool hasSecond)
    {
        int minimum = SpecialTokenCount(hasSecond);
        if (maxLength < minimum)
        {
            throw new ArgumentOutOfRangeException(
                nameof(maxLength),
                maxLength,
                $"maxLength must be at least {minimum} to hold the special tokens of a {(hasSecond ? "two" : "one")}-segment row.");
        }
    }
}
