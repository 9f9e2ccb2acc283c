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
        var bytes = new PooledBuffer<byte>(ids.Length * 4);
        try
        {
            var state = default(TokenDecodeState);
            foreach (int id in ids)
            {
                AppendBytes(id, ref state, ref bytes);
            }

            // Normal pieces are whole characters, so replacing per byte over everything is what SentencePiece does per run of byte pieces.
            return StreamingDecoder.ToText(bytes.Span, replaceEachInvalidByte: true);
        }
        finally
        {
            bytes.Dispose();
        }
    }

    /// <summary>Appends what piece <paramref name="id"/> prints after the pieces <paramref name="state"/> has seen: raw bytes for a byte piece.</summary>
    public void AppendBytes(int id, ref TokenDecodeState state, ref PooledBuffer<byte> bytes)
    {
        SentencePieceType type = id < _types.Length ? _types[id] : SentencePieceType.Control;
        if (type == SentencePieceType.Byte)
        {
            ByteFallbackPieces.TryParse(_pieces[id], out byte value);
            bytes.Add(value);
            state.Printed++;
            return;
        }

        // The start lasts while nothing has been printed and, without whitespace removal, until the one dummy prefix is gone.
        state.PastStart |= state.StrippedDummyPrefix || state.Printed > 0;
        state.StrippedDummyPrefix = false;
        int before = bytes.Count;
        switch (type)
        {
            case SentencePieceType.Control:
                break;
            case SentencePieceType.Unknown:
                bytes.AddRange(_unknownSurface);
                break;
            default:
                ReadOnlySpan<byte> piece = _pieces[id];
                if (!state.PastStart && _stripLeadingMetaSpace && piece.StartsWith(SentencePieceUtf8.MetaSpace))
                {
                    piece = piece[SentencePieceUtf8.MetaSpace.Length..];

                    // Without whitespace removal only the one dummy prefix is stripped.
                    state.StrippedDummyPrefix = !_stripEveryLeadingMetaSpace;
                }

                AppendWithSpaces(piece, ref bytes);
                break;
        }

        state.Printed += bytes.Count - before;
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
}
