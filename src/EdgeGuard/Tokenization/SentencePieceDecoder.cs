using System.Text;

namespace EdgeGuard.Tokenization;

/// <summary>
/// SentencePiece's <c>Decode</c>: control pieces print nothing, the unknown piece prints the model's
/// <c>unk_surface</c>, runs of byte pieces are reassembled into UTF-8 (each byte that does not complete a
/// well-formed character prints U+FFFD), U+2581 prints a space, and the meta space that normalisation put
/// in front of the text is dropped: while nothing has been printed yet, each piece loses one leading ▁
/// (only the first such piece when the model keeps extra whitespace).
/// </summary>
internal sealed class SentencePieceDecoder
{
    private readonly byte[][] _pieces;
    private readonly SentencePieceType[] _types;
    private readonly byte[] _unknownSurface;
    private readonly bool _stripLeadingMetaSpace;
    private readonly bool _stripEveryLeadingMetaSpace;

    public SentencePieceDecoder(SentencePieceModel model)
    {
        _pieces = new byte[model.Pieces.Count][];
        _types = new SentencePieceType[model.Pieces.Count];
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            _pieces[id] = model.Pieces[id].Utf8;
            _types[id] = model.Pieces[id].Type;
        }

        _unknownSurface = model.Trainer.UnkSurface;
        _stripLeadingMetaSpace = model.Normalizer.AddDummyPrefix || model.Normalizer.RemoveExtraWhitespaces;
        _stripEveryLeadingMetaSpace = model.Normalizer.RemoveExtraWhitespaces;
    }

    /// <summary>Decodes <paramref name="ids"/>; ids at or past the piece count print nothing (they are added specials).</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new PooledBuffer<byte>(ids.Length * 4);
        var pendingBytes = new PooledBuffer<byte>(16);
        try
        {
            bool atStart = true;
            bool strippedDummyPrefix = false;
            foreach (int id in ids)
            {
                SentencePieceType type = id < _types.Length ? _types[id] : SentencePieceType.Control;
                if (type == SentencePieceType.Byte)
                {
                    ByteFallbackPieces.TryParse(_pieces[id], out byte value);
                    pendingBytes.Add(value);
                    continue;
                }

                FlushBytes(ref pendingBytes, ref text);
                atStart &= !strippedDummyPrefix && text.Count == 0;
                strippedDummyPrefix = false;
                switch (type)
                {
                    case SentencePieceType.Control:
                        break;
                    case SentencePieceType.Unknown:
                        text.AddRange(_unknownSurface);
                        break;
                    default:
                        ReadOnlySpan<byte> piece = _pieces[id];
                        if (atStart && _stripLeadingMetaSpace && piece.StartsWith(SentencePieceUtf8.MetaSpace))
                        {
                            piece = piece[SentencePieceUtf8.MetaSpace.Length..];

                            // Without whitespace removal only the one dummy prefix is stripped.
                            strippedDummyPrefix = !_stripEveryLeadingMetaSpace;
                        }

                        AppendWithSpaces(piece, ref text);
                        break;
                }
            }

            FlushBytes(ref pendingBytes, ref text);
            return Encoding.UTF8.GetString(text.Span);
        }
        finally
        {
            pendingBytes.Dispose();
            text.Dispose();
        }
    }

    private static void AppendWithSpaces(ReadOnlySpan<byte> piece, ref PooledBuffer<byte> text)
    {
        ReadOnlySpan<byte> meta = SentencePieceUtf8.MetaSpace;
        while (true)
        {
            int at = piece.IndexOf(meta);
            if (at < 0)
            {
                text.AddRange(piece);
                return;
            }

            text.AddRange(piece[..at]);
            text.Add((byte)' ');
            piece = piece[(at + meta.Length)..];
        }
    }

    private static void FlushBytes(ref PooledBuffer<byte> pending, ref PooledBuffer<byte> text)
    {
        ReadOnlySpan<byte> bytes = pending.Span;
        while (!bytes.IsEmpty)
        {
            if (SentencePieceUtf8.TryDecodeChar(bytes, out int length))
            {
                text.AddRange(bytes[..length]);
            }
            else
            {
                text.AddRange(SentencePieceUtf8.ReplacementCharacter);
            }

            bytes = bytes[length..];
        }

        pending.Shrink(pending.Count);
    }
}
