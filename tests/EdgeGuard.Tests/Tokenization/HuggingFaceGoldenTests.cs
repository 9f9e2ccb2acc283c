using System.Collections.Concurrent;
using System.Text.Json;
using EdgeGuard.Testing;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Tokenization;

/// <summary>
/// WordPiece and byte-level BPE against the goldens of tests/data/tokenizers/ (transformers.js, with Hugging Face's Rust
/// tokenizers as second opinion and offset source; see generate-goldens.mjs there), each tokenizer loaded every way it can be.
/// </summary>
public sealed class HuggingFaceGoldenTests
{
    private static readonly ConcurrentDictionary<string, ITokenizer> Loaded = new();
    private static readonly ConcurrentDictionary<string, HfGolden> Goldens = new();
    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Tokenizer directory and how it is loaded.</summary>
    public static TheoryData<string, string> Tokenizers() => new()
    {
        { "bert-uncased-minilm", "directory" },
        { "bert-uncased-minilm", "memory" },
        { "bert-cased-small", "directory" },
        { "bert-cased-small", "tokenizer.json" },
        { "bert-cased-small", "memory" },
        { "bpe-roberta-small", "files" },
        { "bpe-roberta-small", "tokenizer.json" },
        { "bpe-roberta-small", "memory" },
        { "gpt2", "files" },
        { "gpt2", "memory" },
    };

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void Encode_EveryCase_EqualsTheGoldenIds(string name, string loader)
    {
        var sut = Load(name, loader);
        foreach (var c in Golden(name).Cases)
        {
            Assert.True(c.Ids.SequenceEqual(sut.Encode(c.Text)), $"{name} {c.Name}: expected [{string.Join(", ", c.Ids)}], got [{string.Join(", ", sut.Encode(c.Text))}]");
        }
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void EncodeWithOffsets_EveryCase_EqualsTheGoldenIdsAndRanges(string name, string loader)
    {
        var sut = Load(name, loader);
        foreach (var c in Golden(name).Cases)
        {
            var ids = new List<int>();
            var offsets = new List<TokenOffset>();
            sut.Encode(c.Text, ids, offsets);
            Assert.Equal(c.Ids, ids);
            var expected = c.Offsets.Select(o => new TokenOffset(o[0], o[1] - o[0]));
            Assert.True(expected.SequenceEqual(offsets), $"{name} {c.Name}: offsets [{string.Join(", ", offsets)}]");
        }
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void Decode_EveryCase_EqualsTheGoldenText(string name, string loader)
    {
        var sut = Load(name, loader);
        foreach (var c in Golden(name).Cases)
        {
            Assert.True(c.Decoded == sut.Decode(c.Ids.ToArray()), $"{name} {c.Name}: decoded '{sut.Decode(c.Ids.ToArray())}'");
        }
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void EncodePair_SingleSegment_EqualsTheGoldenRowAndTokenTypes(string name, string loader)
    {
        var sut = Load(name, loader);
        foreach (var c in Golden(name).Cases)
        {
            var row = sut.EncodePair(c.Text, null, 100_000);
            Assert.Equal(c.SingleIds, row.Ids);
            Assert.Equal(c.SingleTokenTypeIds, row.TokenTypeIds);
        }
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void EncodePair_TwoSegments_EqualsTheGoldenRowAndTokenTypes(string name, string loader)
    {
        var sut = Load(name, loader);
        foreach (var p in Golden(name).Pairs)
        {
            Assert.Equal(p.IdsA, sut.Encode(p.TextA));
            Assert.Equal(p.IdsB, sut.Encode(p.TextB));
            var row = sut.EncodePair(p.TextA, p.TextB, 100_000);
            Assert.Equal(p.PairIds, row.Ids);
            Assert.Equal(p.PairTokenTypeIds, row.TokenTypeIds);
        }
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void Template_EqualsTheGoldenTemplate(string name, string loader)
    {
        var expected = Golden(name).Tokenizer.Template;
        var template = Load(name, loader).Template;
        Assert.Equal(expected.Prefix, template.Prefix.ToArray());
        Assert.Equal(expected.Middle, template.Middle.ToArray());
        Assert.Equal(expected.Suffix, template.Suffix.ToArray());
        Assert.Equal(expected.SecondSegmentTokenType, template.SecondSegmentTokenType);
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void Encode_TextSpellingSpecialTokens_GivesNoSpecialId(string name, string loader)
    {
        var sut = Load(name, loader);
        int[] specialIds = [.. Golden(name).Tokenizer.SpecialIds.Values];
        foreach (string spelling in new[] { "[SEP]", "[CLS]", "[PAD]", "[UNK]", "[MASK]", "<s>", "</s>", "<pad>", "<unk>", "<mask>", "<|endoftext|>" })
        {
            foreach (string text in new[] { spelling, $"a {spelling} b", $"x{spelling}{spelling}y" })
            {
                int[] ids = sut.Encode(text);
                // [UNK] may stand for a character the vocabulary lacks, never for the spelling: that is text WordPiece can spell.
                Assert.DoesNotContain(ids, specialIds.Contains);
                var pair = sut.EncodePair(text, text, 512);
                Assert.Equal(2 * ids.Length + sut.Template.PairSpecialTokenCount, pair.Ids.Length);
            }
        }
    }

    [Fact]
    public void WordPiece_CrLfVocabularyLines_ReadAsTheirTokens()
    {
        string path = Path.Combine(Path.GetTempPath(), $"edgeguard-vocab-{Guid.NewGuid():N}.txt");
        try
        {
            File.WriteAllText(path, "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nhello\r\n##s\r\n");
            var sut = WordPieceTokenizer.FromFiles(path);
            Assert.Equal([5, 6], sut.Encode("Hellos"));
            Assert.Equal(7, sut.VocabularySize);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void WordPiece_VocabularyWithoutSpecialToken_IsAModelFileError()
    {
        var e = Assert.Throws<EdgeGuard.ModelFiles.ModelFileException>(() => WordPieceTokenizer.Create(["[PAD]", "[UNK]", "[CLS]", "[MASK]", "a"]));
        Assert.Contains("[SEP]", e.Message);
    }

    [Fact]
    public void ByteLevelBpe_MergeSpellingASpecialToken_IsRefused()
    {
        var bpe = (ByteLevelBpeTokenizer)Load("bpe-roberta-small", "files");
        List<string> tokens = [.. bpe.Tokens, "<s", "<s>"];
        List<(string, string)> merges = [.. bpe.Merges, ("<", "s"), ("<s", ">")];
        var specials = new Dictionary<string, int> { ["<s>"] = tokens.Count - 1 };
        var e = Assert.Throws<EdgeGuard.ModelFiles.ModelFileException>(() => ByteLevelBpeTokenizer.Create(tokens, merges, new ByteLevelBpeSettings { SpecialTokens = specials }));
        Assert.Contains("<s>", e.Message);
    }

    [Fact]
    public void ByteLevelBpe_AddPrefixSpace_EncodesTheFirstWordLikeTheOthers()
    {
        var gpt2 = (ByteLevelBpeTokenizer)Load("gpt2", "files");
        var prefixed = ByteLevelBpeTokenizer.Create(gpt2.Tokens, gpt2.Merges, gpt2.Settings with { AddPrefixSpace = true });
        Assert.Equal(gpt2.Encode(" Hello world"), prefixed.Encode("Hello world"));
        Assert.Equal(gpt2.Encode(" Hello"), prefixed.Encode(" Hello"));
        var ids = new List<int>();
        var offsets = new List<TokenOffset>();
        prefixed.Encode("Hello world", ids, offsets);
        Assert.Equal([new TokenOffset(0, 5), new TokenOffset(5, 6)], offsets);
    }

    [Fact]
    public void ByteLevelBpe_LongRunOfOneLetter_RoundTrips()
    {
        // One pre-token of 200,000 letters: merging it is linear-time work here (a quadratic merge loop would keep this
        // test running for minutes, which the suite's time budget shows; speed itself is a benchmark's business).
        var gpt2 = Load("gpt2", "files");
        int[] ids = gpt2.Encode(new string('a', 200_000));
        Assert.NotEmpty(ids);
        Assert.Equal(new string('a', 200_000), gpt2.Decode(ids));
    }

    [Theory]
    [InlineData("bert-uncased-minilm", "directory")]
    [InlineData("bpe-roberta-small", "files")]
    [InlineData("gpt2", "files")]
    public void Encode_IntoAList_AllocatesNothingButTheOutput(string name, string loader)
    {
        var sut = Load(name, loader);
        string text = string.Join(' ', Golden(name).Cases.Select(c => c.Text).Take(30));
        var ids = new List<int>(100_000);
        sut.Encode(text, ids);
        ids.Clear();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            ids.Clear();
            sut.Encode(text, ids);
        }

        long perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / 10;
        Assert.True(perCall == 0, $"{name}: {perCall} bytes allocated per Encode call");
    }

    private static ITokenizer Load(string name, string loader) =>
        Loaded.GetOrAdd($"{name}/{loader}", _ =>
        {
            string directory = Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", name);
            bool wordPiece = name.StartsWith("bert", StringComparison.Ordinal);
            return (wordPiece, loader) switch
            {
                (true, "directory") => WordPieceTokenizer.FromDirectory(directory),
                (true, "tokenizer.json") => WordPieceTokenizer.FromTokenizerJson(Path.Combine(directory, "tokenizer.json")),
                (true, "memory") => FromMemory(WordPieceTokenizer.FromDirectory(directory)),
                (false, "files") => ByteLevelBpeTokenizer.FromFiles(Path.Combine(directory, "vocab.json"), Path.Combine(directory, "merges.txt")),
                (false, "tokenizer.json") => ByteLevelBpeTokenizer.FromTokenizerJson(Path.Combine(directory, "tokenizer.json")),
                (false, "memory") => FromMemory((ByteLevelBpeTokenizer)Load(name, "files")),
                _ => throw new ArgumentException($"no loader {loader} for {name}"),
            };
        });

    // What a bundle would hold: the token list and settings, nothing read from the files again.
    private static WordPieceTokenizer FromMemory(WordPieceTokenizer files) => WordPieceTokenizer.Create([.. files.Tokens], files.Settings);

    private static ByteLevelBpeTokenizer FromMemory(ByteLevelBpeTokenizer files) => ByteLevelBpeTokenizer.Create([.. files.Tokens], [.. files.Merges], files.Settings);

    private static HfGolden Golden(string name) =>
        Goldens.GetOrAdd(name, n =>
        {
            using var stream = File.OpenRead(Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", n, "tokenization.json"));
            return JsonSerializer.Deserialize<HfGolden>(stream, JsonOptions) ?? throw new InvalidDataException($"{n}/tokenization.json is empty.");
        });
}

internal sealed record HfGolden(HfGoldenTokenizer Tokenizer, HfGoldenCase[] Cases, HfGoldenPair[] Pairs);

internal sealed record HfGoldenTokenizer(string Kind, Dictionary<string, int> SpecialIds, HfGoldenTemplate Template);

internal sealed record HfGoldenTemplate(int[] Prefix, int[] Middle, int[] Suffix, int SecondSegmentTokenType);

internal sealed record HfGoldenCase(string Name, string Text, int[] Ids, string[] Pieces, string Decoded, int[][] Offsets, int[] SingleIds, int[] SingleTokenTypeIds);

internal sealed record HfGoldenPair(string TextA, string TextB, int[] IdsA, int[] IdsB, int[] PairIds, int[] PairTokenTypeIds);
