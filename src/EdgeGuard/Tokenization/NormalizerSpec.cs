namespace EdgeGuard.Tokenization;

/// <summary>
/// A SentencePiece <c>NormalizerSpec</c> with the proto2 defaults applied when a field is absent
/// (the three flags default to true).
/// </summary>
/// <param name="Name">The rule name, e.g. <c>nmt_nfkc</c>; informational, the charsmap is what is applied.</param>
/// <param name="PrecompiledCharsMap">The compiled rule: a Darts double-array trie and its replacement strings; empty for identity.</param>
/// <param name="AddDummyPrefix">Prepend one meta space so the first word looks like every other word.</param>
/// <param name="RemoveExtraWhitespaces">Drop leading and trailing spaces and collapse runs of spaces.</param>
/// <param name="EscapeWhitespaces">Write spaces as U+2581 (▁).</param>
internal sealed record NormalizerSpec(
    string Name,
    byte[] PrecompiledCharsMap,
    bool AddDummyPrefix,
    bool RemoveExtraWhitespaces,
    bool EscapeWhitespaces);
