using System.Diagnostics;

namespace EdgeGuard.Tokenization;

/// <summary>
/// SentencePiece's <c>Normalizer</c> on UTF-8 bytes: at each position the longest user-defined piece is kept
/// as it is, else the longest charsmap rule is applied, else one character passes through (a malformed byte
/// becomes U+FFFD); then leading, trailing and repeated spaces are dropped, one meta space is prepended and
/// spaces become U+2581. The whitespace steps look at the <em>normalised</em> text, so a tab or an
/// ideographic space that the charsmap turns into " " is collapsed like a space.
/// </summary>
internal sealed class SentencePieceNormalizer
{
    private readonly PrecompiledCharsMap? _charsMap;
    private readonly PieceTrie? _userDefinedPieces;
    private readonly bool _addDummyPrefix;
    private readonly bool _removeExtraWhitespaces;
    private readonly bool _escapeWhitespaces;

    /// <param name="spec">The model's normaliser options and rule.</param>
    /// <param name="userDefinedPieces">User-defined pieces, which are exempt from normalisation; null if none.</param>
    public SentencePieceNormalizer(NormalizerSpec spec, PieceTrie? userDefinedPieces)
    {
        _charsMap = spec.PrecompiledCharsMap.Length > 0 ? PrecompiledCharsMap.Parse(spec.PrecompiledCharsMap) : null;
        _userDefinedPieces = userDefinedPieces;
        _addDummyPrefix = spec.AddDummyPrefix;
        _removeExtraWhitespaces = spec.RemoveExtraWhitespaces;
        _escapeWhitespaces = spec.EscapeWhitespaces;
    }

    /// <summary>Appends the normalised form of <paramref name="input"/> to <paramref name="output"/>.</summary>
    public void Normalize(ReadOnlySpan<byte> input, ref PooledBuffer<byte> output)
    {
        var noAlignment = default(PooledBuffer<int>);
        NormalizeCore(input, ref output, ref noAlignment, trackAlignment: false);
    }

    /// <summary>
    /// Writes the normalised form of <paramref name="input"/> to the empty <paramref name="output"/> and, as SentencePiece's
    /// <c>norm_to_orig</c>, for each output byte the input offset it came from, plus one entry for the end: a piece spanning
    /// output bytes [b, e) came from input bytes [normToOrig[b], normToOrig[e]).
    /// </summary>
    public void Normalize(ReadOnlySpan<byte> input, ref PooledBuffer<byte> output, ref PooledBuffer<int> normToOrig)
    {
        Debug.Assert(output.Count == 0 && normToOrig.Count == 0, "alignment is kept for a whole output only");
        NormalizeCore(input, ref output, ref normToOrig, trackAlignment: true);
    }

    private void NormalizeCore(ReadOnlySpan<byte> input, ref PooledBuffer<byte> output, ref PooledBuffer<int> normToOrig, bool trackAlignment)
    {
        int consumed = 0;
        if (_removeExtraWhitespaces)
        {
            while (!input.IsEmpty)
            {
                var head = NormalizePrefix(input, out int length);
                if (!head.SequenceEqual(" "u8))
                {
                    break;
                }

                input = input[length..];
                consumed += length;
            }
        }

        if (input.IsEmpty)
        {
            if (trackAlignment)
            {
                normToOrig.Add(consumed);
            }

            return;
        }

        int start = output.Count;
        if (_addDummyPrefix)
        {
            AppendSpace(ref output, ref normToOrig, trackAlignment, consumed);
        }

        bool isPrevSpace = _removeExtraWhitespaces;
        while (!input.IsEmpty)
        {
            var piece = NormalizePrefix(input, out int length);
            if (isPrevSpace)
            {
                int spaces = 0;
                while (spaces < piece.Length && piece[spaces] == (byte)' ')
                {
                    spaces++;
                }

                piece = piece[spaces..];
            }

            if (!piece.IsEmpty)
            {
                foreach (byte b in piece)
                {
                    if (b == (byte)' ')
                    {
                        AppendSpace(ref output, ref normToOrig, trackAlignment, consumed);
                    }
                    else
                    {
                        output.Add(b);
                        if (trackAlignment)
                        {
                            normToOrig.Add(consumed);
                        }
                    }
                }

                isPrevSpace = piece[^1] == (byte)' ';
            }

            input = input[length..];
            consumed += length;
            if (!_removeExtraWhitespaces)
            {
                isPrevSpace = false;
            }
        }

        if (_removeExtraWhitespaces)
        {
            // This also trims a literal U+2581 that ended the input, as SentencePiece does.
            ReadOnlySpan<byte> space = _escapeWhitespaces ? SentencePieceUtf8.MetaSpace : " "u8;
            while (output.Count - start >= space.Length && output.Span.EndsWith(space))
            {
                output.Shrink(space.Length);
                if (trackAlignment)
                {
                    // The text ends where the trimmed space began.
                    consumed = normToOrig.Span[output.Count];
                    normToOrig.Shrink(space.Length);
                }
            }
        }

        if (trackAlignment)
        {
            normToOrig.Add(consumed);
        }
    }

    private void AppendSpace(ref PooledBuffer<byte> output, ref PooledBuffer<int> normToOrig, bool trackAlignment, int consumed)
    {
        ReadOnlySpan<byte> space = _escapeWhitespaces ? SentencePieceUtf8.MetaSpace : " "u8;
        output.AddRange(space);
        if (trackAlignment)
        {
            for (int i = 0; i < space.Length; i++)
            {
                normToOrig.Add(consumed);
            }
        }
    }

    /// <summary>The normalised form of the first unit of <paramref name="input"/> and how many bytes that unit spans.</summary>
    private ReadOnlySpan<byte> NormalizePrefix(ReadOnlySpan<byte> input, out int consumed)
    {
        if (_userDefinedPieces is not null)
        {
            int length = _userDefinedPieces.LongestPrefixLength(input);
            if (length > 0)
            {
                consumed = length;
                return input[..length];
            }
        }

        if (_charsMap is not null)
        {
            var replacement = _charsMap.Match(input, out consumed);
            if (consumed > 0)
            {
                return replacement;
            }
        }

        if (SentencePieceUtf8.TryDecodeChar(input, out consumed))
        {
            return input[..consumed];
        }

        consumed = 1;
        return SentencePieceUtf8.ReplacementCharacter;
    }
}
