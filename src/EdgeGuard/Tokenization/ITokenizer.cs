namespace EdgeGuard.Tokenization;

/// <summary>
/// What a model needs from a tokenizer: text to ids without special tokens (with the UTF-16 range of each token when
/// asked), ids back to text, and the <see cref="PairTemplate"/> that frames one or two segments with the model's
/// special tokens. Implementations are immutable and safe to use from many threads.
/// </summary>
/// <remarks>
/// Text that spells a special token (<c>[SEP]</c>, <c>[CLS]</c>, <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>,
/// <c>&lt;|endoftext|&gt;</c> …) must encode as ordinary text: special ids only ever come from the template, so input
/// can never forge a segment boundary (docs/decisions/0003-special-token-text.md).
/// </remarks>
public interface ITokenizer
{
    /// <summary>Number of ids the tokenizer can produce, special tokens included; every id is below it.</summary>
    int VocabularySize { get; }

    /// <summary>How one segment, or two, become a model row: the special tokens around them and their token types.</summary>
    PairTemplate Template { get; }

    /// <summary>The ids of <paramref name="text"/>, without special tokens.</summary>
    int[] Encode(string text);

    /// <summary>Appends the ids of <paramref name="text"/> (no special tokens) to <paramref name="ids"/>.</summary>
    void Encode(ReadOnlySpan<char> text, List<int> ids);

    /// <summary>
    /// Appends the ids of <paramref name="text"/> (no special tokens) to <paramref name="ids"/> and, for each, the range of
    /// <paramref name="text"/> it came from to <paramref name="offsets"/> (see <see cref="TokenOffset"/>).
    /// </summary>
    void Encode(ReadOnlySpan<char> text, List<int> ids, List<TokenOffset> offsets);

    /// <summary>The text of <paramref name="ids"/>; special tokens (the template's, padding, mask) print nothing.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, <see cref="VocabularySize"/>).</exception>
    string Decode(ReadOnlySpan<int> ids);
}
