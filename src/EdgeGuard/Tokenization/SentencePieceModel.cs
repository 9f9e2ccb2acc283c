namespace EdgeGuard.Tokenization;

/// <summary>The parts of a SentencePiece <c>ModelProto</c> this runtime uses, as read from <c>spm.model</c>.</summary>
/// <param name="Pieces">The vocabulary; a piece's index is its id.</param>
/// <param name="Trainer">The trainer options that affect encoding.</param>
/// <param name="Normalizer">The normalisation applied before encoding.</param>
/// <param name="HasDenormalizerRules">The model carries decode-time rewrite rules (<c>denormalizer_spec</c> with a charsmap).</param>
internal sealed record SentencePieceModel(
    IReadOnlyList<ModelPiece> Pieces,
    TrainerSpec Trainer,
    NormalizerSpec Normalizer,
    bool HasDenormalizerRules);
