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
/// <param name="BosId">The id of the beginning-of-sentence piece (default 1; -1 when the model has none).</param>
/// <param name="EosId">The id of the end-of-sentence piece (default 2; -1 when the model has none).</param>
internal sealed record TrainerSpec(int ModelType, bool ByteFallback, int UnkId, bool TreatWhitespaceAsSuffix, byte[] UnkSurface, int BosId = 1, int EosId = 2)
{
    public const int UnigramModelType = 1;

    public const int BpeModelType = 2;

    /// <summary>SentencePiece's default <c>unk_surface</c>: U+2047 between spaces.</summary>
    public static readonly byte[] DefaultUnkSurface = " \u2047 "u8.ToArray();
}
