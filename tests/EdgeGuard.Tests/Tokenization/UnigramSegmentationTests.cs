using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Tokenization;

/// <summary>
/// The Viterbi search on small hand-made vocabularies, pinning details of SentencePiece that the shared models
/// rarely exercise. Each expectation was checked against the SentencePiece library with the same model.
/// </summary>
public sealed class UnigramSegmentationTests
{
    [Fact]
    public void Encode_EqualScoringSegmentations_KeepsTheFirstFound()
    {
        // g+gg, gg+g and g+g+g all score -3: the shortest piece from the earliest start wins.
        var model = SpmModelBuilder.WithDebertaSpecials().Add("▁", -1).Add("g", -1).Add("gg", -2);
        var sut = model.ToTokenizer();

        Assert.Equal([model.IdOf("▁"), model.IdOf("g"), model.IdOf("gg")], sut.Encode("ggg"));
        Assert.Equal([model.IdOf("▁"), model.IdOf("gg"), model.IdOf("gg")], sut.Encode("gggg"));
    }

    [Fact]
    public void Encode_PathScores_AreComparedInDoubleAndStoredAsFloat()
    {
        // With float-only arithmetic the rounding would pick gg + gggg instead.
        var model = SpmModelBuilder.WithDebertaSpecials()
            .Add("▁", -4.756596565246582f).Add("g", -4.883848667144775f).Add("gg", -2.9908931255340576f)
            .Add("ggg", -5.354340553283691f).Add("gggg", -0.8339690566062927f);
        var sut = model.ToTokenizer();

        Assert.Equal([model.IdOf("▁"), model.IdOf("gggg"), model.IdOf("gg")], sut.Encode("gggggg"));
    }

    [Fact]
    public void Encode_UserDefinedPieceScore_IsLengthTimesMaxScoreMinusATenth()
    {
        // Max score is max(FLT_MIN, 0), so "ab" scores about -0.1 and loses to a + b at 0.
        var model = SpmModelBuilder.WithDebertaSpecials()
            .Add("▁", -1).Add("a", 0).Add("b", 0).Add("ab", 0, SpmModelBuilder.UserDefined);
        var sut = model.ToTokenizer();

        Assert.Equal([model.IdOf("▁"), model.IdOf("a"), model.IdOf("b")], sut.Encode("ab"));
    }

    [Fact]
    public void Encode_WithoutByteFallback_MergesARunOfUnknownCharactersIntoOneUnk()
    {
        var model = SpmModelBuilder.WithDebertaSpecials().Add("▁", -1).Add("a", -2).Add("b", -2).Add("▁a", -1.5f);
        var sut = model.ToTokenizer();

        Assert.Equal([model.IdOf("▁a"), sut.UnkId, model.IdOf("b")], sut.Encode("a中文b"));
        Assert.Equal([model.IdOf("▁a"), model.IdOf("b"), sut.UnkId], sut.Encode("ab中"));
        Assert.Equal("a ⁇ b", sut.Decode(sut.Encode("a中文b")));
        Assert.Equal(" ⁇ ", sut.Decode(sut.Encode("中文")));
    }

    [Fact]
    public void Encode_UserDefinedPiece_IsMatchedWholeAndExemptFromNormalization()
    {
        var model = SpmModelBuilder.WithDebertaSpecials(charsMap: SpmModelBuilder.NmtNfkcCharsMap())
            .Add("▁", -1).Add("x", -2).Add("ＡＢ", 0, SpmModelBuilder.UserDefined).Add("A", -1).Add("B", -1).Add("AB", -0.5f);
        var sut = model.ToTokenizer();

        Assert.Equal([model.IdOf("▁"), model.IdOf("x"), model.IdOf("ＡＢ")], sut.Encode("xＡＢ"));
        Assert.Equal([model.IdOf("▁"), model.IdOf("ＡＢ"), model.IdOf("x")], sut.Encode("ＡＢx"));
        Assert.Equal([model.IdOf("▁"), model.IdOf("x"), model.IdOf("A")], sut.Encode("xＡ"));
        Assert.Equal([model.IdOf("▁"), model.IdOf("x"), model.IdOf("AB")], sut.Encode("xAB"));
    }
}
