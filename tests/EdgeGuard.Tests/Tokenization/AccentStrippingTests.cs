using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Tokenization;

/// <summary>Accent stripping as Hugging Face's BERT tokenizer does it (NFD without nonspacing marks), without ICU.</summary>
public sealed class AccentStrippingTests
{
    [Theory]
    [InlineData("Café", "Cafe")]
    [InlineData("ÀÉÎÕÜ çñ", "AEIOU cn")]
    [InlineData("Ångström", "Angstrom")]
    [InlineData("\u212B", "A")] // ANGSTROM SIGN: a singleton decomposition to Å, then the ring goes
    [InlineData("ᾅ", "α")] // Greek with three marks
    [InlineData("\uF900", "\u8C48")] // CJK compatibility ideograph -> its unified ideograph
    [InlineData("한글", "\u1112\u1161\u11AB\u1100\u1173\u11AF")] // Hangul syllables -> conjoining jamo, as NFD gives them
    [InlineData("가", "\u1100\u1161")] // a syllable without a final consonant
    [InlineData("\U0001D15E", "\U0001D157\U0001D165")] // outside the BMP: the stem is a spacing mark (Mc) and stays
    [InlineData("e\u0301 kept", "e\u0301 kept")] // a combining mark is left for the tokenizer's normaliser to drop
    [InlineData("lone \uD800 surrogate é", "lone \uD800 surrogate e")]
    public void Apply_DecomposesWithoutNonspacingMarks(string text, string expected)
    {
        Assert.Equal(expected, AccentStripping.Apply(text));
    }

    [Theory]
    [InlineData("plain ASCII text, 123!")]
    [InlineData("中文 and 👩‍👩‍👧 and עברית")]
    public void Apply_TextWithoutDecomposableCharacters_IsUnchanged(string text)
    {
        Assert.Equal(text, AccentStripping.Apply(text));
    }
}
