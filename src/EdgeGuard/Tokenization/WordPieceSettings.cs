namespace EdgeGuard.Tokenization;

/// <summary>
/// How a <see cref="WordPieceTokenizer"/> splits text: Hugging Face's <c>BertNormalizer</c>, <c>BertPreTokenizer</c> and
/// <c>WordPiece</c> options, with <c>BertTokenizer</c>'s defaults (uncased). Everything a bundle must store besides the
/// token list.
/// </summary>
public sealed record WordPieceSettings
{
    /// <summary>Lower-case text before WordPiece (<c>do_lower_case</c> / <c>lowercase</c>).</summary>
    public bool LowerCase { get; init; } = true;

    /// <summary>Strip accents (canonical decomposition without nonspacing marks); null follows <see cref="LowerCase"/>, as Hugging Face does.</summary>
    public bool? StripAccents { get; init; }

    /// <summary>Put spaces around CJK ideographs so each is a word (<c>tokenize_chinese_chars</c> / <c>handle_chinese_chars</c>).</summary>
    public bool TokenizeChineseChars { get; init; } = true;

    /// <summary>Drop NUL, U+FFFD and control/format characters, turn whitespace into spaces (<c>clean_text</c>).</summary>
    public bool CleanText { get; init; } = true;

    /// <summary>Marks a piece that continues a word (<c>continuing_subword_prefix</c>).</summary>
    public string ContinuingSubwordPrefix { get; init; } = "##";

    /// <summary>A longer word (in Unicode characters) is one unknown token (<c>max_input_chars_per_word</c>).</summary>
    public int MaxInputCharsPerWord { get; init; } = 100;

    /// <summary>Decode removes the spaces Hugging Face's <c>clean_up_tokenization</c> removes (before <c>. , ! ?</c> and English contractions).</summary>
    public bool CleanUpTokenizationSpaces { get; init; } = true;

    /// <summary>The unknown token.</summary>
    public string UnknownToken { get; init; } = "[UNK]";

    /// <summary>The token that starts a row.</summary>
    public string ClassificationToken { get; init; } = "[CLS]";

    /// <summary>The token that ends each segment.</summary>
    public string SeparatorToken { get; init; } = "[SEP]";

    /// <summary>The padding token.</summary>
    public string PaddingToken { get; init; } = "[PAD]";

    /// <summary>The mask token.</summary>
    public string MaskToken { get; init; } = "[MASK]";

    /// <summary>Whether accents are stripped, <see cref="StripAccents"/> resolved.</summary>
    public bool StripsAccents => StripAccents ?? LowerCase;
}
