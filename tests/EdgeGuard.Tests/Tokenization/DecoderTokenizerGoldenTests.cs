using System.Collections.Concurrent;
using System.Text.Json;
using EdgeGuard.Testing;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Tokenization;

/// <summary>
/// The byte-level BPE tokenizers of decoder models (<c>hf-tokenizer-json</c>) against the goldens of tests/data/tokenizers/
/// (transformers.js with Hugging Face's Rust tokenizers as second opinion; see generate-decoder-goldens.mjs): the small
/// derived Llama 3, Qwen2 and SmolLM tokenizers committed there, and the full Llama 3 and Qwen3 ones when
/// <c>make decoder-tokenizer-data</c> has fetched them (skipped otherwise); and a tokenizer the training pipeline's
/// <c>train-bpe</c> wrote, with goldens from the pipeline's own byte-level BPE (<c>edgeguard_train.decoder_tokenizer_golden</c>).
/// </summary>
public sealed class DecoderTokenizerGoldenTests
{
    private static readonly ConcurrentDictionary<string, IGenerativeTokenizer> Loaded = new();
    private static readonly ConcurrentDictionary<string, DecoderGolden> Goldens = new();
    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Tokenizer directory and how it is loaded.</summary>
    public static TheoryData<string, string> Tokenizers() => new()
    {
        { "llama3-small", "directory" },
        { "llama3-small", "tokenizer.json" },
        { "qwen2-small", "directory" },
        { "qwen2-small", "tokenizer.json" },
        { "smollm-small", "directory" },
        { "edgeguard-bpe-small", "directory" },
        { "edgeguard-bpe-small", "tokenizer.json" },
        { "llama3", "directory" },
        { "qwen3", "directory" },
    };

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void Encode_EveryCase_EqualsTheGoldenIds(string name, string loader)
    {
        var sut = Load(name, loader);
        foreach (var c in Golden(name).Cases)
        {
            int[] ids = sut.Encode(c.Text);
            Assert.True(c.Ids.SequenceEqual(ids), $"{name} {c.Name}: expected [{string.Join(", ", c.Ids)}], got [{string.Join(", ", ids)}]");
        }
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void EncodeWithOffsets_EveryCaseInNfc_EqualsTheGoldenRanges(string name, string loader)
    {
        var sut = Load(name, loader);
        foreach (var c in Golden(name).Cases.Where(c => !c.NfcChanged))
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
            Assert.True(c.Decoded == sut.Decode(c.Ids), $"{name} {c.Name}: decoded '{sut.Decode(c.Ids)}'");
        }
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void EncodeWithSpecialTokens_EveryCase_ReadsTokenTextsAsTheGoldenIds(string name, string loader)
    {
        var sut = Load(name, loader);
        foreach (var c in Golden(name).Cases)
        {
            var ids = new List<int>();
            sut.EncodeWithSpecialTokens(c.Text, ids);
            Assert.True(c.IdsWithSpecial.SequenceEqual(ids), $"{name} {c.Name}: got [{string.Join(", ", ids)}]");
        }
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void Decode_IdsWithSpecialTokens_SkipsSpecialAndPrintsAddedTokensAsTheGolden(string name, string loader)
    {
        var sut = Load(name, loader);
        foreach (var c in Golden(name).Cases)
        {
            Assert.True(c.DecodedWithSpecial == sut.Decode(c.IdsWithSpecial), $"{name} {c.Name}: decoded '{sut.Decode(c.IdsWithSpecial)}'");
        }
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void Encode_TextSpellingSpecialTokens_GivesNoSpecialOrAddedId(string name, string loader)
    {
        var sut = Load(name, loader);
        var golden = Golden(name).Tokenizer;
        int[] reserved = [.. golden.SpecialIds.Values, .. golden.AddedIds.Values];
        foreach (var c in Golden(name).Cases)
        {
            Assert.DoesNotContain(sut.Encode(c.Text), reserved.Contains);
        }

        foreach (string token in golden.SpecialIds.Keys.Concat(golden.AddedIds.Keys))
        {
            Assert.DoesNotContain(sut.Encode($"a{token}b {token}"), reserved.Contains);
            Assert.Contains(golden.SpecialIds.TryGetValue(token, out int id) ? id : golden.AddedIds[token], EncodeSpecial(sut, token));
        }
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void EncodePair_OneSegment_AddsTheTemplatesBosAsTheGolden(string name, string loader)
    {
        var sut = Load(name, loader);
        foreach (var c in Golden(name).Cases)
        {
            Assert.Equal(c.SingleIds, sut.EncodePair(c.Text, null, 1_000_000).Ids);
        }
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void BosAndEos_AreTheConfiguredTokens(string name, string loader)
    {
        var sut = Load(name, loader);
        Assert.Equal(Golden(name).Tokenizer.BosId, sut.BosId);
        Assert.Equal(Golden(name).Tokenizer.EosId, sut.EosId);
        Assert.True(sut.EosId is null || sut.IsSpecial(sut.EosId.Value));
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void StreamingDecoder_OneIdAtATime_GivesTheDecodedTextInCompletePieces(string name, string loader)
    {
        var sut = Load(name, loader);
        foreach (var c in Golden(name).Cases)
        {
            using var stream = sut.CreateStreamingDecoder();
            var text = new System.Text.StringBuilder();
            foreach (int id in c.IdsWithSpecial)
            {
                string piece = stream.Push(id);
                Assert.True(!piece.Contains('\uFFFD') || c.Decoded.Contains('\uFFFD'), $"{name} {c.Name}: a piece holds U+FFFD: '{piece}'");
                Assert.False(piece.Length > 0 && char.IsHighSurrogate(piece[^1]), $"{name} {c.Name}: a piece ends inside a surrogate pair");
                text.Append(piece);
            }

            text.Append(stream.Flush());
            Assert.Equal(sut.Decode(c.IdsWithSpecial), text.ToString());
            Assert.Equal(0, stream.PendingByteCount);
        }
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void ChatTemplate_EveryGoldenConversation_RendersAndEncodesAsTheReference(string name, string loader)
    {
        var sut = Load(name, loader);
        foreach (var c in Golden(name).Chat)
        {
            var own = sut.GetChatTemplate();
            var template = c.Template == OwnTemplateText(name) ? own : ChatTemplate.Recognize(c.Template, name, "<|begin_of_text|>", "<|eot_id|>");
            var messages = c.Messages.Select(m => new ChatMessage(m.Role, m.Content)).ToList();
            Assert.Equal(c.Text, template.Render(messages, c.AddGenerationPrompt));
            int[] ids = template.Encode(sut, messages, c.AddGenerationPrompt);
            int[] expected = c.Ids ?? throw new InvalidDataException($"{name} {c.Name}: the golden has no ids.");
            Assert.True(expected.SequenceEqual(ids), $"{name} {c.Name}: expected [{string.Join(", ", expected)}], got [{string.Join(", ", ids)}]");
        }
    }

    [Theory]
    [InlineData("llama3-small")]
    [InlineData("qwen2-small")]
    [InlineData("smollm-small")]
    public void Encode_IntoAList_AllocatesNothingButTheOutput(string name)
    {
        var sut = Load(name, "directory");
        string text = string.Join(' ', Golden(name).Cases.Where(c => !c.NfcChanged).Select(c => c.Text).Take(40));
        var ids = new List<int>(100_000);
        sut.Encode(text, ids);

        // The fewest bytes of three tries: the scratch arrays come from ArrayPool.Shared, which a gen-2 collection caused by
        // tests running beside this one may trim, so one try can pay a refill; an allocation of Encode's own shows in all.
        long Allocated(Action run)
        {
            long fewest = long.MaxValue;
            for (int attempt = 0; attempt < 3 && fewest > 0; attempt++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                run();
                fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
            }

            return fewest;
        }

        long perCall = Allocated(() =>
        {
            for (int i = 0; i < 10; i++)
            {
                ids.Clear();
                sut.Encode(text, ids);
            }
        }) / 10;
        foreach (var c in Golden(name).Cases.Where(c => !c.NfcChanged))
        {
            ids.Clear();
            sut.Encode(c.Text, ids);
            long bytes = Allocated(() =>
            {
                ids.Clear();
                sut.Encode(c.Text, ids);
            });
            Assert.True(bytes == 0, $"{name} {c.Name}: {bytes} bytes");
        }

        Assert.True(perCall == 0, $"{name}: {perCall} bytes allocated per Encode call");
    }

    internal static IGenerativeTokenizer Load(string name, string loader)
    {
        string directory = Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", name);
        Assert.SkipUnless(File.Exists(Path.Combine(directory, "tokenizer.json")), $"{name}/tokenizer.json is fetched by `make decoder-tokenizer-data`.");
        return Loaded.GetOrAdd($"{name}/{loader}", _ => loader switch
        {
            "directory" => EdgeGuard.Tokenization.Tokenizers.LoadGenerative(TokenizerFiles.FromDirectory(directory, TokenizerFiles.HuggingFaceTokenizerJson)),
            "tokenizer.json" => ByteLevelBpeTokenizer.FromTokenizerJson(Path.Combine(directory, "tokenizer.json"), Path.Combine(directory, "tokenizer_config.json")),
            _ => throw new ArgumentException($"no loader {loader} for {name}"),
        });
    }

    internal static DecoderGolden Golden(string name) =>
        Goldens.GetOrAdd(name, n =>
        {
            using var stream = File.OpenRead(Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", n, "tokenization.json"));
            return JsonSerializer.Deserialize<DecoderGolden>(stream, JsonOptions) ?? throw new InvalidDataException($"{n}/tokenization.json is empty.");
        });

    private static List<int> EncodeSpecial(IGenerativeTokenizer tokenizer, string text)
    {
        var ids = new List<int>();
        tokenizer.EncodeWithSpecialTokens(text, ids);
        return ids;
    }

    private static string? OwnTemplateText(string name)
    {
        using var config = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", name, "tokenizer_config.json")));
        return config.RootElement.TryGetProperty("chat_template", out var template) ? template.GetString() : null;
    }
}

internal sealed record DecoderGolden(DecoderGoldenTokenizer Tokenizer, DecoderGoldenCase[] Cases, DecoderGoldenChat[] Chat);

internal sealed record DecoderGoldenTokenizer(string Kind, int? BosId, int? EosId, Dictionary<string, int> SpecialIds, Dictionary<string, int> AddedIds);

internal sealed record DecoderGoldenCase(string Name, string Text, int[] Ids, string Decoded, int[][] Offsets, bool NfcChanged, int[] IdsWithSpecial, string DecodedWithSpecial, int[] SingleIds);

internal sealed record DecoderGoldenChat(string Name, string Template, DecoderGoldenMessage[] Messages, bool AddGenerationPrompt, string Text, int[]? Ids);

internal sealed record DecoderGoldenMessage(string Role, string Content);
