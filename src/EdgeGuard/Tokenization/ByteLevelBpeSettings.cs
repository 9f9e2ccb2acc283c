namespace EdgeGuard.Tokenization;

/// <summary>
/// How a <see cref="ByteLevelBpeTokenizer"/> encodes and frames text, besides its tokens and merges: everything a bundle
/// must store to rebuild it.
/// </summary>
public sealed record ByteLevelBpeSettings
{
    /// <summary>Prepend a space to text that does not start with one, so the first word is encoded like any other (<c>add_prefix_space</c>).</summary>
    public bool AddPrefixSpace { get; init; }

    /// <summary>
    /// The special tokens (e.g. <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>, <c>&lt;pad&gt;</c>, <c>&lt;unk&gt;</c>, <c>&lt;mask&gt;</c> or
    /// <c>&lt;|endoftext|&gt;</c>): never produced from text, skipped by Decode. Ids at or above the token list extend the vocabulary.
    /// </summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; init; } = new Dictionary<string, int>();

    /// <summary>The row layout; null picks RoBERTa's (<see cref="PairTemplate.Roberta"/>) when <c>&lt;s&gt;</c> and <c>&lt;/s&gt;</c> are special tokens, else none (<see cref="PairTemplate.None"/>, GPT-2).</summary>
    public PairTemplate? Template { get; init; }
}
