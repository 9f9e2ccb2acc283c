using System.Text;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Tokenization;

public sealed class DebertaTokenizerTests
{
    private static DebertaTokenizer Small => TokenizerFixtures.Tokenizer("spm-unigram-2k");

    private static DebertaTokenizer Large => TokenizerFixtures.Tokenizer("spm-unigram-8k");

    public static TheoryData<string, string> SpecialSpellings()
    {
        var data = new TheoryData<string, string>();
        foreach (string tokenizer in TokenizerFixtures.Names)
        {
            foreach (string spelling in new[] { "[SEP]", "[CLS]", "[MASK]", "[PAD]", "[UNK]" })
            {
                data.Add(tokenizer, spelling);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SpecialSpellings))]
    public void Encode_TextSpellingSpecialToken_YieldsNoSpecialId(string tokenizer, string spelling)
    {
        var sut = TokenizerFixtures.Tokenizer(tokenizer);
        int[] specialIds = [sut.PadId, sut.ClsId, sut.SepId, sut.UnkId, sut.MaskId];

        int[] ids = sut.Encode($"a {spelling} b{spelling}{spelling}c {spelling}");

        Assert.NotEmpty(ids);
        Assert.DoesNotContain(ids, specialIds.Contains);
        Assert.Equal($"a {spelling} b{spelling}{spelling}c {spelling}", sut.Decode(ids));
    }

    [Theory]
    [MemberData(nameof(SpecialSpellings))]
    public void EncodePair_TextSpellingSpecialToken_IsNotASegmentBoundary(string tokenizer, string spelling)
    {
        var sut = TokenizerFixtures.Tokenizer(tokenizer);
        int[] specialIds = [sut.PadId, sut.ClsId, sut.SepId, sut.UnkId, sut.MaskId];

        var single = sut.EncodePair($"a {spelling} b", null, 512);
        var pair = sut.EncodePair($"a {spelling} b", $"{spelling} c {spelling}", 512);

        Assert.Equal(sut.ClsId, single.Ids[0]);
        Assert.Equal(sut.SepId, single.Ids[^1]);
        Assert.Equal(2, single.Ids.Count(specialIds.Contains));

        Assert.Equal(sut.ClsId, pair.Ids[0]);
        Assert.Equal(sut.SepId, pair.Ids[1 + pair.PromptTokens]);
        Assert.Equal(sut.SepId, pair.Ids[^1]);
        Assert.Equal(3, pair.Ids.Count(specialIds.Contains));
    }

    [Fact]
    public void Encode_EmptyString_ReturnsNoIds()
    {
        Assert.Empty(Large.Encode(string.Empty));
        var ids = new List<int>();
        Large.Encode(ReadOnlySpan<char>.Empty, ids);
        Assert.Empty(ids);
    }

    [Theory]
    [InlineData(" ")]
    [InlineData("\t\n\r ")]
    [InlineData("\u3000\u00A0")]
    [InlineData("\u0007\u001B")]
    public void Encode_TextThatNormalizesToNothing_ReturnsNoIds(string text)
    {
        Assert.Empty(Large.Encode(text));
    }

    [Fact]
    public void EncodePair_EmptyPrompt_IsClsSep()
    {
        var pair = Large.EncodePair(string.Empty, null, 512);

        Assert.Equal([Large.ClsId, Large.SepId], pair.Ids);
        Assert.Equal(0, pair.PromptTokens);
        Assert.False(pair.Truncated);
    }

    [Fact]
    public void EncodePair_EmptyPromptAndEmptyResponse_IsClsSepSep()
    {
        var pair = Large.EncodePair(string.Empty, string.Empty, 512);

        Assert.Equal([Large.ClsId, Large.SepId, Large.SepId], pair.Ids);
    }

    [Fact]
    public void Encode_OneMegabyteString_Encodes()
    {
        var random = new Random(42);
        string[] words = ["The", "quick", "brown", "fox", "中文", "😀", "naïve", "ＡＢＣ", "\t", "  ", "\n", "[SEP]", "\u0000", "https://example.com/a?b=c"];
        var text = new StringBuilder(1_000_100);
        while (text.Length < 1_000_000)
        {
            text.Append(words[random.Next(words.Length)]).Append(' ');
        }

        int[] ids = Large.Encode(text.ToString());

        Assert.InRange(ids.Length, 100_000, 1_000_000);
        Assert.All(ids, id => Assert.InRange(id, 4, Large.PieceCount - 1));
    }

    [Fact]
    public void Encode_OneMegabyteRunOfOneCharacter_Encodes()
    {
        int[] ids = Small.Encode(new string('a', 1_000_000));

        Assert.NotEmpty(ids);
        Assert.Equal(new string('a', 1_000_000), Small.Decode(ids));
    }

    [Theory]
    [InlineData(new[] { 'a', 0xD800, 'b' })]
    [InlineData(new[] { 'a', 0xDC00, 'b' })]
    [InlineData(new[] { 0xD83D })]
    [InlineData(new[] { 'x', 0xDE00, 0xD83D, 'y' })]
    [InlineData(new[] { 0xD800, 0xD800, ' ', 0xDFFF })]
    public void Encode_LoneSurrogates_AreEncodedAsReplacementCharacters(int[] codeUnits)
    {
        // Code units, not strings: a test name cannot carry a lone surrogate.
        string text = new(codeUnits.Select(c => (char)c).ToArray());
        string replaced = new(text.Select(c => char.IsSurrogate(c) ? '\uFFFD' : c).ToArray());

        Assert.Equal(Large.Encode(replaced), Large.Encode(text));
    }

    [Fact]
    public void Encode_SpanEndingInsideASurrogatePair_EncodesTheHalfAsReplacementCharacter()
    {
        var ids = new List<int>();

        Large.Encode("a😀".AsSpan(0, 2), ids);

        Assert.Equal(Large.Encode("a\uFFFD"), ids);
        Assert.NotEqual(Large.Encode("a😀"), ids);
    }

    [Fact]
    public void Encode_Nul_IsKeptAsBytePiece()
    {
        int nulByteId = Enumerable.Range(0, Large.PieceCount).Single(id => Large.GetPiece(id) == "<0x00>");

        int[] ids = Large.Encode("a\0b");

        Assert.Contains(nulByteId, ids);
        Assert.Equal("a\0b", Large.Decode(ids));
    }

    [Fact]
    public void Encode_ControlCharactersDeletedByNmtNfkc_LeaveNoTrace()
    {
        Assert.Equal(Large.Encode("bell escape delete"), Large.Encode("bell\u0007 escape\u001B delete\u007F"));
    }

    [Fact]
    public void Encode_EveryCharacterAlone_NeverProducesControlOrUnknownIds()
    {
        var text = new char[3];
        for (int c = 0; c <= 0xFFFF; c++)
        {
            text[0] = 'x';
            text[1] = (char)c;
            text[2] = 'y';
            int[] ids = Large.Encode(new string(text));
            foreach (int id in ids)
            {
                Assert.True(id >= 4 && id < Large.PieceCount, $"U+{c:X4} gave id {id}");
            }
        }
    }

    [Fact]
    public void Encode_RandomUtf16_NeverThrowsAndDecodesToText()
    {
        var random = new Random(1234);
        for (int trial = 0; trial < 2000; trial++)
        {
            var chars = new char[random.Next(0, 64)];
            for (int i = 0; i < chars.Length; i++)
            {
                chars[i] = random.Next(4) switch
                {
                    0 => (char)random.Next(0, 0x80),
                    1 => (char)random.Next(0xD800, 0xE000),
                    _ => (char)random.Next(0, 0x10000),
                };
            }

            int[] ids = Small.Encode(new string(chars));

            Assert.All(ids, id => Assert.InRange(id, 4, Small.PieceCount - 1));
            Assert.NotNull(Small.Decode(ids));
        }
    }

    [Fact]
    public void Encode_FromManyThreads_GivesTheSameIds()
    {
        var cases = TokenizerFixtures.Golden("spm-unigram-8k").Cases;

        Parallel.For(0, cases.Length * 8, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var golden = cases[i % cases.Length];
            Assert.Equal(golden.Ids, Large.Encode(golden.Text));
        });
    }

    [Fact]
    public void Decode_SpecialIds_PrintNothing()
    {
        int[] hello = Large.Encode("Hello world");

        string decoded = Large.Decode([Large.ClsId, .. hello, Large.SepId, Large.MaskId, Large.PadId]);

        Assert.Equal("Hello world", decoded);
    }

    [Fact]
    public void Decode_IncompleteUtf8BytePieces_PrintOneReplacementCharacterPerByte()
    {
        int Byte(int b) => 4 + b;

        Assert.Equal("中", Large.Decode([Byte(0xE4), Byte(0xB8), Byte(0xAD)]));
        Assert.Equal("\uFFFD\uFFFD", Large.Decode([Byte(0xE4), Byte(0xB8)]));
        Assert.Equal("\uFFFDA", Large.Decode([Byte(0xFF), Byte(0x41)]));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(8001)]
    [InlineData(int.MaxValue)]
    public void Decode_IdOutsideVocabulary_Throws(int id)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Large.Decode([5, id]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Large.GetPiece(id));
    }
}
