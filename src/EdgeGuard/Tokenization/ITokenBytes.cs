namespace EdgeGuard.Tokenization;

/// <summary>The bytes each token prints, for <see cref="StreamingDecoder"/> and the tokenizers' own Decode.</summary>
internal interface ITokenBytes
{
    /// <summary>Every id is below it.</summary>
    int VocabularySize { get; }

    /// <summary>
    /// Invalid UTF-8 prints one U+FFFD per byte that does not start a valid character (SentencePiece's rule) rather than one
    /// per maximal invalid subsequence (the Unicode practice that .NET and Rust's <c>from_utf8_lossy</c> follow).
    /// </summary>
    bool ReplacesEachInvalidByte { get; }

    /// <summary>Appends what <paramref name="id"/> prints, as raw bytes (possibly part of a character), given what came before.</summary>
    void AppendBytes(int id, ref TokenDecodeState state, ref PooledBuffer<byte> bytes);
}

/// <summary>What decoding has seen so far, for tokenizers whose output depends on it (SentencePiece drops the dummy-prefix space).</summary>
internal struct TokenDecodeState
{
    /// <summary>Bytes printed so far (held back or not).</summary>
    public long Printed;

    /// <summary>The previous piece lost its leading meta space to the dummy prefix.</summary>
    public bool StrippedDummyPrefix;

    /// <summary>Whether the next piece still counts as the start of the text.</summary>
    public bool PastStart;
}
