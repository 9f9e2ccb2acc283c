using System.Text.Json;
using EdgeGuard.Testing;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Tokenization;

/// <summary>DebertaTokenizer's offsets against the SentencePiece library's (tests/data/tokenizers/spm-offsets/).</summary>
public sealed class SentencePieceOffsetTests
{
    public static TheoryData<string> Names() => [.. TokenizerFixtures.Names];

    [Theory]
    [MemberData(nameof(Names))]
    public void EncodeWithOffsets_EveryCase_EqualsSentencePiecesOffsets(string name)
    {
        var sut = TokenizerFixtures.Tokenizer(name);
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", "spm-offsets", name + ".json")));
        foreach (var c in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            var golden = TokenizerFixtures.Case(name, c.GetProperty("name").GetString()!);
            var ids = new List<int>();
            var offsets = new List<TokenOffset>();
            sut.Encode(golden.Text, ids, offsets);
            Assert.Equal(golden.Ids, ids);
            var expected = c.GetProperty("offsets").EnumerateArray().Select(o => new TokenOffset(o[0].GetInt32(), o[1].GetInt32() - o[0].GetInt32()));
            Assert.True(expected.SequenceEqual(offsets), $"{name} {golden.Name}: [{string.Join(", ", offsets)}]");
        }
    }

    [Fact]
    public void EncodeWithOffsets_LoneSurrogate_CoversItsOneUnit()
    {
        var sut = TokenizerFixtures.Tokenizer("spm-unigram-2k");
        var ids = new List<int>();
        var offsets = new List<TokenOffset>();
        var replacedIds = new List<int>();
        var replacedOffsets = new List<TokenOffset>();
        sut.Encode("a\uD800b", ids, offsets);
        sut.Encode("a\uFFFDb", replacedIds, replacedOffsets);

        // SentencePiece gives "a\uFFFDb" [▁a 0..1, ▁b 1..3]: nmt_nfkc reads U+FFFD as a space.
        Assert.Equal(replacedIds, ids);
        Assert.Equal([new TokenOffset(0, 1), new TokenOffset(1, 2)], offsets);
        Assert.Equal(replacedOffsets, offsets);
    }
}
