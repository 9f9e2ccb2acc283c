namespace EdgeGuard.Tokenization;

/// <summary>
/// Where a token came from in the text it was encoded from: a range of UTF-16 code units of the input
/// (<c>text.Slice(Start, Length)</c>), not of any normalised form of it.
/// </summary>
/// <remarks>
/// A token made from part of a character (a byte piece of an emoji) covers the whole character, so neighbouring
/// tokens may share a range; a token that stands for no input character (SentencePiece's leading meta space) has
/// length 0 at the position it was inserted.
/// </remarks>
/// <param name="Start">Index of the first UTF-16 code unit.</param>
/// <param name="Length">Number of UTF-16 code units.</param>
public readonly record struct TokenOffset(int Start, int Length)
{
    /// <summary>Index just after the last UTF-16 code unit.</summary>
    public int End => Start + Length;
}
