namespace EdgeGuard.Tokenization;

/// <summary>One vocabulary entry of a SentencePiece model: its UTF-8 text, log-probability score and type.</summary>
internal sealed record ModelPiece(byte[] Utf8, float Score, SentencePieceType Type);
