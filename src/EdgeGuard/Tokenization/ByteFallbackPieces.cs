namespace EdgeGuard.Tokenization;

/// <summary>
/// The text of byte-fallback pieces, <c>&lt;0x00&gt;</c> .. <c>&lt;0xFF&gt;</c>: two upper-case hex digits,
/// exactly as SentencePiece writes and recognises them.
/// </summary>
internal static class ByteFallbackPieces
{
    public static bool TryParse(ReadOnlySpan<byte> piece, out byte value)
    {
        value = 0;
        if (piece.Length != 6 || !piece.StartsWith("<0x"u8) || piece[5] != (byte)'>')
        {
            return false;
        }

        int high = HexDigit(piece[3]);
        int low = HexDigit(piece[4]);
        if (high < 0 || low < 0)
        {
            return false;
        }

        value = (byte)((high << 4) | low);
        return true;
    }

    private static int HexDigit(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };
}
