using System.Collections.Concurrent;
using System.Text.Json;
using EdgeGuard.Testing;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Tokenization;

/// <summary>The shared SentencePiece test tokenizers and their reference encodings, loaded once per name.</summary>
internal static class TokenizerFixtures
{
    public static readonly string[] Names = ["spm-unigram-2k", "spm-unigram-8k"];

    private static readonly ConcurrentDictionary<string, DebertaTokenizer> Tokenizers = new();
    private static readonly ConcurrentDictionary<string, GoldenFile> Goldens = new();

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public static string ModelPath(string name) => Path.Combine(RepoPaths.Tokenizer(name), "spm.model");

    public static DebertaTokenizer Tokenizer(string name) =>
        Tokenizers.GetOrAdd(name, n => DebertaTokenizer.FromFile(ModelPath(n)));

    public static GoldenFile Golden(string name) =>
        Goldens.GetOrAdd(name, n =>
        {
            using var stream = File.OpenRead(Path.Combine(RepoPaths.Tokenizer(n), "tokenization.json"));
            return JsonSerializer.Deserialize<GoldenFile>(stream, JsonOptions)
                ?? throw new InvalidDataException($"{n}/tokenization.json is empty.");
        });

    public static GoldenCase Case(string tokenizer, string caseName) =>
        Golden(tokenizer).Cases.Single(c => c.Name == caseName);
}

internal sealed record GoldenFile(GoldenModel Model, GoldenCase[] Cases, GoldenPair[] Pairs);

internal sealed record GoldenModel(int PieceCount, string ModelType, string NormalizationRuleName, Dictionary<string, int> SpecialIds);

internal sealed record GoldenCase(string Name, string Text, int[] Ids, string[] Pieces, string Decoded, int[] DebertaSingleIds);

internal sealed record GoldenPair(string TextA, string TextB, int[] IdsA, int[] IdsB, int[] DebertaPairIds);
