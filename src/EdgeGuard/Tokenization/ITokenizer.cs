namespace EdgeGuard.Tokenization;

/// <summary>
/// What a <see cref="Guard"/> needs from a tokenizer: text to ids without special tokens, and the ids of the two
/// special tokens it frames segments with (<c>[CLS] prompt [SEP] response [SEP]</c>). Implementations are immutable
/// and safe to use from many threads.
/// </summary>
/// <remarks>
/// Text that spells a special token must encode as ordinary text: special ids only ever come from the structure the
/// guard adds, so input can never forge a segment boundary (docs/decisions/0003-special-token-text.md).
/// </remarks>
public interface ITokenizer
{
    /// <summary>Number of ids the tokenizer can produce, special tokens included; every id is below it.</summary>
    int VocabularySize { get; }

    /// <summary>Id of the token that starts every model input.</summary>
    int ClsId { get; }

    /// <summary>Id of the token that ends each segment.</summary>
    int SepId { get; }

    /// <summary>The ids of <paramref name="text"/>, without special tokens.</summary>
    int[] Encode(string text);

    /// <summary>Appends the ids of <paramref name="text"/> (no special tokens) to <paramref name="ids"/>.</summary>
    void Encode(ReadOnlySpan<char> text, List<int> ids);
}
