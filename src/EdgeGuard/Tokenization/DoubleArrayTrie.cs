namespace EdgeGuard.Tokenization;

/// <summary>
/// A read-only Darts-clone double-array trie, the structure SentencePiece compiles normalisation rules into.
/// Each 32-bit unit packs a label (low byte, plus bit 31 on value units), a has-leaf flag (bit 8) and an
/// offset to the children (bits 10..31, scaled by 256 when bit 9 is set); a node's value sits in the unit
/// reached by the label 0. Lookups are bounds-checked so a corrupt array ends a match instead of faulting.
/// </summary>
internal sealed class DoubleArrayTrie
{
    private readonly uint[] _units;

    public DoubleArrayTrie(uint[] units)
    {
        _units = units;
    }

    /// <summary>
    /// The longest key that is a prefix of <paramref name="text"/> (Darts' <c>commonPrefixSearch</c>, keeping
    /// the last and therefore longest result).
    /// </summary>
    /// <returns>The length of the match in bytes, 0 when no key is a prefix.</returns>
    public int LongestPrefixMatch(ReadOnlySpan<byte> text, out int value)
    {
        value = 0;
        uint[] units = _units;
        if (units.Length == 0)
        {
            return 0;
        }

        int longest = 0;
        uint nodePos = Offset(units[0]);
        for (int i = 0; i < text.Length; i++)
        {
            byte label = text[i];
            nodePos ^= label;
            if (nodePos >= (uint)units.Length)
            {
                break;
            }

            uint unit = units[nodePos];
            if (Label(unit) != label)
            {
                break;
            }

            nodePos ^= Offset(unit);
            if (HasLeaf(unit))
            {
                if (nodePos >= (uint)units.Length)
                {
                    break;
                }

                longest = i + 1;
                value = (int)(units[nodePos] & 0x7FFF_FFFFu);
            }
        }

        return longest;
    }

    private static bool HasLeaf(uint unit) => ((unit >> 8) & 1) == 1;

    private static uint Label(uint unit) => unit & (0x8000_0000u | 0xFFu);

    private static uint Offset(uint unit) => (unit >> 10) << (int)((unit & (1u << 9)) >> 6);
}
