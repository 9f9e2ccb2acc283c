using System.Text.Json;
using EdgeGuard.ModelFiles;
using EdgeGuard.Testing;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Tokenization;

/// <summary>
/// The SentencePiece BPE tokenizer (Llama 2 / TinyLlama <c>tokenizer.model</c>) against the SentencePiece library's own
/// encodings of tests/data/tokenizers/spm-bpe-small (make-decoder-tokenizers.py), and its chat templates against
/// @huggingface/jinja's renderings (chat.json).
/// </summary>
public sealed class SentencePieceBpeTests
{
    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private static readonly Lazy<SpmBpeGolden> GoldenFile = new(() => Read<SpmBpeGolden>("tokenization.json"));
    private static readonly Lazy<SpmBpeChat> ChatFile = new(() => Read<SpmBpeChat>("chat.json"));
    private static readonly Lazy<IGenerativeTokenizer> Tokenizer = new(() =>
        Tokenizers.LoadGenerative(TokenizerFiles.FromDirectory(Directory, TokenizerFiles.DecoderKindInDirectory(Directory)!)));

    private static string Directory => Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", "spm-bpe-small");

    [Fact]
    public void DecoderKindInDirectory_TokenizerModel_IsSentencePieceBpe() =>
        Assert.Equal(TokenizerFiles.SentencePieceBpe, TokenizerFiles.DecoderKindInDirectory(Directory));

    [Fact]
    public void Encode_EveryCase_EqualsSentencePiece()
    {
        foreach (var c in GoldenFile.Value.Cases)
        {
            int[] ids = Tokenizer.Value.Encode(c.Text);
            Assert.True(c.Ids.SequenceEqual(ids), $"{c.Name}: expected [{string.Join(", ", c.Ids)}], got [{string.Join(", ", ids)}]");
        }
    }

    [Fact]
    public void EncodeWithOffsets_EveryCase_EqualsSentencePiecesRanges()
    {
        foreach (var c in GoldenFile.Value.Cases)
        {
            var ids = new List<int>();
            var offsets = new List<TokenOffset>();
            Tokenizer.Value.Encode(c.Text, ids, offsets);
            Assert.Equal(c.Ids, ids);
            var expected = c.Offsets.Select(o => new TokenOffset(o[0], o[1] - o[0]));
            Assert.True(expected.SequenceEqual(offsets), $"{c.Name}: offsets [{string.Join(", ", offsets)}]");
        }
    }

    [Fact]
    public void Decode_EveryCase_EqualsSentencePiece()
    {
        foreach (var c in GoldenFile.Value.Cases)
        {
            Assert.True(c.Decoded == Tokenizer.Value.Decode(c.Ids), $"{c.Name}: decoded '{Tokenizer.Value.Decode(c.Ids)}'");
        }
    }

    [Fact]
    public void Pieces_EveryCase_AreSentencePiecesPieces()
    {
        var sut = (SentencePieceBpeTokenizer)Tokenizer.Value;
        foreach (var c in GoldenFile.Value.Cases)
        {
            Assert.Equal(c.Pieces, c.Ids.Select(sut.GetPiece));
        }
    }

    [Fact]
    public void BosEosAndTemplate_AreLlamas()
    {
        var golden = GoldenFile.Value.Tokenizer;
        var sut = Tokenizer.Value;
        Assert.Equal(golden.BosId, sut.BosId);
        Assert.Equal(golden.EosId, sut.EosId);
        Assert.Equal(golden.PieceCount, sut.VocabularySize);
        Assert.Equal([golden.BosId], sut.Template.Prefix.ToArray());
        Assert.Empty(sut.Template.Suffix.ToArray());
        Assert.Equal([golden.BosId, .. sut.Encode("Hello")], sut.EncodePair("Hello", null, 100).Ids);
    }

    [Fact]
    public void StreamingDecoder_ByteFallbackPieces_AreHeldUntilTheCharacterIsWhole()
    {
        var sut = Tokenizer.Value;
        int byteCases = 0;
        foreach (var c in GoldenFile.Value.Cases)
        {
            using var stream = sut.CreateStreamingDecoder();
            var text = new System.Text.StringBuilder();
            foreach (int id in c.Ids)
            {
                string piece = stream.Push(id);
                Assert.True(!piece.Contains('\uFFFD') || c.Decoded.Contains('\uFFFD'), $"{c.Name}: a piece holds U+FFFD");
                text.Append(piece);
            }

            byteCases += c.Ids.Any(id => sut.Decode([id]).Contains('\uFFFD')) ? 1 : 0;
            text.Append(stream.Flush());
            Assert.Equal(c.Decoded, text.ToString());
        }

        Assert.True(byteCases > 5, $"only {byteCases} cases split a character into byte pieces");
    }

    [Fact]
    public void Encode_TextSpellingControlPieces_GivesNoControlId()
    {
        var sut = Tokenizer.Value;
        int[] ids = sut.Encode("<s>[INST] hi [/INST]</s><unk>");
        Assert.DoesNotContain(ids, id => sut.IsSpecial(id) || id == 0);
        var special = new List<int>();
        sut.EncodeWithSpecialTokens("<s>hi</s>", special);
        Assert.Equal([sut.BosId!.Value, .. sut.Encode("hi"), sut.EosId!.Value], special);
    }

    [Fact]
    public void ChatTemplates_EveryConversation_RenderAsJinja()
    {
        var own = Tokenizer.Value.GetChatTemplate();
        Assert.Equal(ChatTemplateFamily.Zephyr, own.Family);
        foreach (var c in ChatFile.Value.Chat)
        {
            var template = ChatTemplate.Recognize(c.Template, "chat.json", "<s>", "</s>");
            var messages = c.Messages.Select(m => new ChatMessage(m.Role, m.Content)).ToList();
            Assert.True(c.Text == template.Render(messages, c.AddGenerationPrompt), $"{c.Name}: rendered '{template.Render(messages, c.AddGenerationPrompt)}'");
        }
    }

    [Fact]
    public void ChatEncode_Llama2_IsTheSpecialIdsAroundEachStretchOfTextBetweenThem()
    {
        var sut = Tokenizer.Value;
        var template = ChatTemplate.Recognize(ChatFile.Value.Chat.First(c => c.Name.StartsWith("llama2/", StringComparison.Ordinal)).Template, "chat.json", "<s>", "</s>");
        ChatMessage[] messages = [new("system", "Be brief."), new("user", "Hi </s> there"), new("assistant", "Hello."), new("user", "Bye")];
        int bos = sut.BosId!.Value, eos = sut.EosId!.Value;
        int[] expected =
        [
            bos, .. sut.Encode("[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi </s> there [/INST] Hello. "), eos,
            bos, .. sut.Encode("[INST] Bye [/INST]"),
        ];
        Assert.Equal(expected, template.Encode(sut, messages, addGenerationPrompt: true));
    }

    [Fact]
    public void Llama2Chat_RolesNotAlternating_AreRefused()
    {
        var template = ChatTemplate.Recognize(ChatFile.Value.Chat.First(c => c.Name.StartsWith("llama2/", StringComparison.Ordinal)).Template, "chat.json", "<s>", "</s>");
        var e = Assert.Throws<ArgumentException>(() => template.Render([new("user", "a"), new("user", "b")], false));
        Assert.Contains("alternating", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_UnigramModelAsTokenizerModel_IsRefusedNamingTheType()
    {
        var e = Assert.Throws<ModelFileException>(() => SentencePieceBpeTokenizer.FromModel(File.ReadAllBytes(TokenizerFixtures.ModelPath("spm-unigram-2k"))));
        Assert.Contains("UNIGRAM", e.Message, StringComparison.Ordinal);
        Assert.Contains("BPE", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BpeModelAsDebertaTokenizer_IsRefusedNamingTheType()
    {
        var e = Assert.Throws<ModelFileException>(() => DebertaTokenizer.FromSentencePieceModel(File.ReadAllBytes(Path.Combine(Directory, "tokenizer.model"))));
        Assert.Contains("model_type is BPE", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Encode_UnusedPieceMadeByAMerge_IsSplitBackIntoItsParts()
    {
        // "ab" is unused: SentencePiece still merges a+b (its score ranks the pair) and then splits it back, so "abc",
        // with no "abc" piece, comes out as a, b, c — and "ab" + "c" never meet as "abc".
        var model = new SpmModelBuilder { ModelType = 2 };
        model.Add("<unk>", 0, SpmModelBuilder.Unknown).Add("<s>", 0, SpmModelBuilder.Control).Add("</s>", 0, SpmModelBuilder.Control)
            .Add("\u2581", -1).Add("a", -2).Add("b", -3).Add("c", -4).Add("ab", -0.5f, 5).Add("\u2581a", -6);
        var sut = SentencePieceBpeTokenizer.FromModel(model.ToBytes());
        Assert.Equal([model.IdOf("\u2581"), model.IdOf("a"), model.IdOf("b"), model.IdOf("c")], sut.Encode("abc"));
    }

    [Fact]
    public void Encode_ScoresDecideTheMergeOrder_NotPositions()
    {
        // "bc" outscores "ab": SentencePiece merges it first, leaving a + bc; without it a left-first merge would give ab + c.
        var model = new SpmModelBuilder { ModelType = 2 };
        model.Add("<unk>", 0, SpmModelBuilder.Unknown).Add("<s>", 0, SpmModelBuilder.Control).Add("</s>", 0, SpmModelBuilder.Control)
            .Add("\u2581", -1).Add("a", -2).Add("b", -3).Add("c", -4).Add("ab", -6).Add("bc", -5);
        var sut = SentencePieceBpeTokenizer.FromModel(model.ToBytes());
        Assert.Equal([model.IdOf("\u2581"), model.IdOf("a"), model.IdOf("bc")], sut.Encode("abc"));
    }

    [Fact]
    public void Encode_IntoAList_AllocatesNothingButTheOutput()
    {
        var sut = Tokenizer.Value;
        string text = string.Join(' ', GoldenFile.Value.Cases.Select(c => c.Text).Take(40));
        var ids = new List<int>(100_000);
        sut.Encode(text, ids);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            ids.Clear();
            sut.Encode(text, ids);
        }

        long perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / 10;
        Assert.True(perCall == 0, $"{perCall} bytes allocated per Encode call");
    }

    [Fact]
    public void Encode_LongTextWithoutSpaces_RoundTrips()
    {
        var sut = Tokenizer.Value;
        string text = string.Concat(Enumerable.Repeat("abc東京😀", 100_000));
        Assert.Equal(text, sut.Decode(sut.Encode(text)));
    }

    private static T Read<T>(string file)
    {
        using var stream = File.OpenRead(Path.Combine(Directory, file));
        return JsonSerializer.Deserialize<T>(stream, JsonOptions) ?? throw new InvalidDataException($"spm-bpe-small/{file} is empty.");
    }
}

internal sealed record SpmBpeGolden(SpmBpeGoldenTokenizer Tokenizer, SpmBpeGoldenCase[] Cases);

internal sealed record SpmBpeGoldenTokenizer(string Kind, int BosId, int EosId, int PieceCount);

internal sealed record SpmBpeGoldenCase(string Name, string Text, int[] Ids, string[] Pieces, string Decoded, int[][] Offsets);

internal sealed record SpmBpeChat(SpmBpeChatCase[] Chat);

internal sealed record SpmBpeChatCase(string Name, string Template, DecoderGoldenMessage[] Messages, bool AddGenerationPrompt, string Text);
