using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Tokenization;

/// <summary>Every reference case of the shared test tokenizers, produced by the SentencePiece library.</summary>
public sealed class GoldenTokenizationTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string tokenizer in TokenizerFixtures.Names)
        {
            foreach (var golden in TokenizerFixtures.Golden(tokenizer).Cases)
            {
                data.Add(tokenizer, golden.Name);
            }
        }

        return data;
    }

    public static TheoryData<string, int> Pairs()
    {
        var data = new TheoryData<string, int>();
        foreach (string tokenizer in TokenizerFixtures.Names)
        {
            for (int i = 0; i < TokenizerFixtures.Golden(tokenizer).Pairs.Length; i++)
            {
                data.Add(tokenizer, i);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Encode_MatchesSentencePiece(string tokenizer, string caseName)
    {
        var golden = TokenizerFixtures.Case(tokenizer, caseName);
        var sut = TokenizerFixtures.Tokenizer(tokenizer);

        int[] ids = sut.Encode(golden.Text);

        Assert.Equal(golden.Ids, ids);
        Assert.Equal(golden.Pieces, ids.Select(sut.GetPiece));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncodeIntoList_AppendsTheSameIds(string tokenizer, string caseName)
    {
        var golden = TokenizerFixtures.Case(tokenizer, caseName);
        var ids = new List<int> { -7 };

        TokenizerFixtures.Tokenizer(tokenizer).Encode(golden.Text.AsSpan(), ids);

        Assert.Equal([-7, .. golden.Ids], ids);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncodePair_WithoutResponse_IsClsIdsSep(string tokenizer, string caseName)
    {
        var golden = TokenizerFixtures.Case(tokenizer, caseName);

        var pair = TokenizerFixtures.Tokenizer(tokenizer).EncodePair(golden.Text, null, 100_000);

        Assert.Equal(golden.DebertaSingleIds, pair.Ids);
        Assert.Equal(golden.Ids.Length, pair.PromptTokens);
        Assert.Equal(0, pair.ResponseTokens);
        Assert.False(pair.Truncated);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decode_MatchesSentencePiece(string tokenizer, string caseName)
    {
        var golden = TokenizerFixtures.Case(tokenizer, caseName);

        string decoded = TokenizerFixtures.Tokenizer(tokenizer).Decode(golden.Ids);

        Assert.Equal(golden.Decoded, decoded);
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void EncodePair_MatchesDebertaPairLayout(string tokenizer, int pairIndex)
    {
        var golden = TokenizerFixtures.Golden(tokenizer).Pairs[pairIndex];
        var sut = TokenizerFixtures.Tokenizer(tokenizer);

        var pair = sut.EncodePair(golden.TextA, golden.TextB, 100_000);

        Assert.Equal(golden.IdsA, sut.Encode(golden.TextA));
        Assert.Equal(golden.IdsB, sut.Encode(golden.TextB));
        Assert.Equal(golden.DebertaPairIds, pair.Ids);
        Assert.Equal(golden.IdsA.Length, pair.PromptTokens);
        Assert.Equal(golden.IdsB.Length, pair.ResponseTokens);
        Assert.False(pair.Truncated);
    }

    [Theory]
    [MemberData(nameof(TokenizerNames))]
    public void Model_MatchesReferenceLayout(string tokenizer)
    {
        var golden = TokenizerFixtures.Golden(tokenizer).Model;
        var sut = TokenizerFixtures.Tokenizer(tokenizer);

        Assert.Equal(golden.PieceCount, sut.PieceCount);
        Assert.Equal(golden.PieceCount + 1, sut.VocabularySize);
        Assert.Equal(golden.NormalizationRuleName, sut.NormalizerName);
        Assert.Equal(golden.SpecialIds["[PAD]"], sut.PadId);
        Assert.Equal(golden.SpecialIds["[CLS]"], sut.ClsId);
        Assert.Equal(golden.SpecialIds["[SEP]"], sut.SepId);
        Assert.Equal(golden.SpecialIds["[UNK]"], sut.UnkId);
        Assert.Equal(golden.SpecialIds["[MASK]"], sut.MaskId);
        Assert.Equal("[MASK]", sut.GetPiece(sut.MaskId));
        Assert.Equal("<0x41>", sut.GetPiece(4 + 0x41));
    }

    public static TheoryData<string> TokenizerNames() => new(TokenizerFixtures.Names);
}
