using System.Buffers.Binary;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tokenization;

/// <summary>
/// SentencePiece's compiled normalisation rule (<c>precompiled_charsmap</c>, e.g. <c>nmt_nfkc</c>): a
/// little-endian 32-bit size, a Darts double-array trie of that many bytes whose keys are UTF-8 source
/// sequences, then a blob of NUL-terminated UTF-8 replacements that the trie's values point into.
/// </summary>
internal sealed class PrecompiledCharsMap
{
    /// <summary>
    /// The longest replacement accepted. NFKC's longest expansion is 33 bytes (U+FDFA); the bound keeps a
    /// crafted map from turning every input character into kilobytes of output.
    /// </summary>
    public const int MaxReplacementBytes = 1024;

    private readonly DoubleArrayTrie _trie;
    private readonly byte[] _replacements;

    private PrecompiledCharsMap(DoubleArrayTrie trie, byte[] replacements)
    {
        _trie = trie;
        _replacements = replacements;
    }

    /// <exception cref="ModelFileException">The blob is too short or its trie size does not fit.</exception>
    public static PrecompiledCharsMap Parse(ReadOnlySpan<byte> blob)
    {
        if (blob.Length <= sizeof(uint))
        {
            throw new ModelFileException($"Corrupt SentencePiece model: the precompiled charsmap has only {blob.Length} bytes.");
        }

        uint trieSize = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        int available = blob.Length - sizeof(uint);
        if (trieSize > (uint)available || trieSize % sizeof(uint) != 0)
        {
            throw new ModelFileException(
                $"Corrupt SentencePiece model: the precompiled charsmap declares a {trieSize}-byte trie in {available} bytes.");
        }

        var trieBytes = blob.Slice(sizeof(uint), (int)trieSize);
        var units = new uint[trieBytes.Length / sizeof(uint)];
        for (int i = 0; i < units.Length; i++)
        {
            units[i] = BinaryPrimitives.ReadUInt32LittleEndian(trieBytes.Slice(i * sizeof(uint)));
        }

        var replacements = blob.Slice(sizeof(uint) + (int)trieSize);
        int longest = LongestRun(replacements);
        if (longest > MaxReplacementBytes)
        {
            throw new ModelFileException(
                $"Corrupt SentencePiece model: the precompiled charsmap has a {longest}-byte replacement; at most {MaxReplacementBytes} are accepted.");
        }

        return new PrecompiledCharsMap(new DoubleArrayTrie(units), replacements.ToArray());
    }

    private static int LongestRun(ReadOnlySpan<byte> replacements)
    {
        int longest = 0;
        while (!replacements.IsEmpty)
        {
            int end = replacements.IndexOf((byte)0);
            int length = end < 0 ? replacements.Length : end;
            longest = Math.Max(longest, length);
            replacements = end < 0 ? default : replacements[(end + 1)..];
        }

        return longest;
    }

    /// <summary>
    /// Finds the longest rule whose source is a prefix of <paramref name="text"/>.
    /// </summary>
    /// <param name="text">The remaining UTF-8 input.</param>
    /// <param name="matchedLength">Bytes of <paramref name="text"/> the rule consumes; 0 when no rule applies.</param>
    /// <returns>The replacement (possibly empty: the rule deletes the source).</returns>
    public ReadOnlySpan<byte> Match(ReadOnlySpan<byte> text, out int matchedLength)
    {
        matchedLength = _trie.LongestPrefixMatch(text, out int offset);
        if (matchedLength == 0)
        {
            return default;
        }

        if ((uint)offset >= (uint)_replacements.Length)
        {
            // Only a corrupt map points outside its blob; treating it as "no rule" keeps encoding total.
            matchedLength = 0;
            return default;
        }

        var replacement = _replacements.AsSpan(offset);
        int end = replacement.IndexOf((byte)0);
        return end < 0 ? replacement : replacement[..end];
    }
}
