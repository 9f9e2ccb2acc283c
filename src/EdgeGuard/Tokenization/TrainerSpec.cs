namespace EdgeGuard.Tokenization;

/// <summary>
/// The fields of a SentencePiece <c>TrainerSpec</c> that change encoding or decoding, with the proto2
/// defaults applied when a field is absent.
/// </summary>
/// <param name="ModelType">1 = UNIGRAM (the default), 2 = BPE, 3 = WORD, 4 = CHAR.</param>
/// <param name="ByteFallback">Unknown characters are encoded as their UTF-8 byte pieces.</param>
/// <param name="UnkId">The id the trainer assigned to the unknown piece.</param>
/// <param name="TreatWhitespaceAsSuffix">The meta space goes after words instead of before them.</param>
/// <param name="UnkSurface">What decoding prints for the unknown piece (default <c>" ⁇ "</c>).</param>
internal sealed record TrainerSpec(int ModelType, bool ByteFallback, int UnkId, bool TreatWhitespaceAsSuffix, byte[] UnkSurface)
{
    public const int UnigramModelType = 1;

    /// <summary>SentencePiece's default <c>unk_surface</c>: U+2047 between spaces.</summary>
    public static readonly byte[] DefaultUnkSurface = " \u2047 "u8.ToArray();
}
