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

    /// <summary>
    /// Added tokens that are not special (Qwen's <c>&lt;think&gt;</c>, <c>&lt;tool_call&gt;</c> …): text spelling them is
    /// encoded as text too, Decode prints them. Ids at or above the token list extend the vocabulary.
    /// </summary>
    public IReadOnlyDictionary<string, int> AddedTokens { get; init; } = new Dictionary<string, int>();

    /// <summary>The row layout; null picks RoBERTa's (<see cref="PairTemplate.Roberta"/>) when <c>&lt;s&gt;</c> and <c>&lt;/s&gt;</c> are special tokens, else none (<see cref="PairTemplate.None"/>, GPT-2).</summary>
    public PairTemplate? Template { get; init; }

    /// <summary>The pre-tokenisation pattern (default GPT-2's).</summary>
    public ByteLevelPattern Pattern { get; init; } = ByteLevelPattern.Gpt2;

    /// <summary>A <c>Digits</c> step before the pattern (SmolLM splits every digit off).</summary>
    public DigitSplitting Digits { get; init; }

    /// <summary>A pre-token that is a token of the vocabulary as a whole is that token, merges or not (<c>ignore_merges</c>, Llama 3).</summary>
    public bool IgnoreMerges { get; init; }

    /// <summary>Text is put in Unicode normalisation form C before pre-tokenisation (the <c>NFC</c> normalizer, Qwen2).</summary>
    public bool NormalizeNfc { get; init; }

    /// <summary>The text of the beginning-of-sequence token (<c>bos_token</c>), or null when the model has none.</summary>
    public string? BosToken { get; init; }

    /// <summary>The text of the end-of-sequence token (<c>eos_token</c>), or null when the model names none.</summary>
    public string? EosToken { get; init; }

    /// <summary>The Jinja chat template of <c>tokenizer_config.json</c>, or null; see <see cref="ChatTemplate.Recognize"/>.</summary>
    public string? ChatTemplate { get; init; }
}
