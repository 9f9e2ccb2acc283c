using EdgeGuard.Generation;
using EdgeGuard.Generation.Logits;

namespace EdgeGuard.Tests.Generation;

/// <summary><see cref="Generator"/> and <see cref="ModelGroup"/>: groups, limits, prompts, streaming, cancellation, concurrency.</summary>
public sealed class GeneratorTests
{
    private const string Base = "decoders/llama-gqa-tied";
    private static readonly int[] Prompt = [10, 20, 30, 40];
    private static readonly SamplingSettings Sampled = new() { Temperature = 0.9f, TopK = 40, Seed = 1234 };

    private static GenerativeModel B => GenerationFixtures.TokenModel(Base);

    private static GenerativeModel SPrime => GenerationFixtures.TokenModel("generation/offset-unlearned");

    private static GenerativeModel S0 => GenerationFixtures.TokenModel("generation/offset-original");

    private static GenerationResult Run(ModelGroup group, int maxNewTokens = 24, SamplingSettings? settings = null, int[]? prompt = null) =>
        new Generator(group, new GenerationOptions { Sampling = settings ?? Sampled, MaxNewTokens = maxNewTokens }).Generate(prompt ?? Prompt);

    [Fact]
    public void Offset_AlphaZeroOrEqualPartners_GivesTheBaseTokensExactly()
    {
        GenerationResult alone = Run(ModelGroup.Single(B));
        Assert.Equal(alone.TokenIds, Run(ModelGroup.Offset(B, SPrime, S0, alpha: 0f)).TokenIds);
        Assert.Equal(alone.TokenIds, Run(ModelGroup.Offset(B, S0, S0, alpha: 1f)).TokenIds);
        Assert.NotEqual(alone.TokenIds, Run(ModelGroup.Offset(B, SPrime, S0, alpha: 1f)).TokenIds);
    }

    [Fact]
    public void Contrastive_AmateurEqualToExpert_SamplesUniformlyFromThePlausibleSet()
    {
        // The expert's plausible set after the prompt, computed from its own logits.
        var session = B.Model.CreateSession();
        float[] logits = session.Prefill(Prompt).ToArray();
        float max = logits.Max();
        int[] plausible = [.. Enumerable.Range(0, logits.Length).Where(v => logits[v] >= Math.Log(0.1) + max)];
        Assert.InRange(plausible.Length, 2, 40);

        var group = ModelGroup.Contrastive(B, B, plausibility: 0.1);
        var counts = new Dictionary<int, int>();
        const int Draws = 600;
        for (ulong seed = 0; seed < Draws; seed++)
        {
            var options = new GenerationOptions { Sampling = new SamplingSettings { Seed = seed }, MaxNewTokens = 1 };
            int token = new Generator(group, options).Generate(Prompt).TokenIds[0];
            Assert.Contains(token, plausible);
            counts[token] = counts.GetValueOrDefault(token) + 1;
        }

        // Uniform: every plausible token drawn, none far from Draws / |plausible| (loose bounds, fixed seeds).
        double expected = (double)Draws / plausible.Length;
        foreach (int token in plausible)
        {
            Assert.InRange(counts.GetValueOrDefault(token), 0.5 * expected, 1.6 * expected);
        }
    }

    [Fact]
    public void Group_DifferentVocabularies_IsRefusedNamingTheModel()
    {
        var qwen = GenerationFixtures.TokenModel("decoders/qwen2-tied-one-kv-head");
        var error = Assert.Throws<ArgumentException>(() => ModelGroup.Contrastive(B, qwen));
        Assert.StartsWith("Model 'decoders/qwen2-tied-one-kv-head' has a vocabulary of 136 tokens but 'decoders/llama-gqa-tied' has 160", error.Message);
        Assert.Contains("share one vocabulary", error.Message);
    }

    [Fact]
    public void Group_DifferentTokenizers_IsRefused()
    {
        var llama3 = GenerationFixtures.ChatModel("llama3-small");
        var qwen = GenerationFixtures.ChatModel("qwen2-small");
        var error = Assert.Throws<ArgumentException>(() => ModelGroup.Contrastive(llama3, qwen));
        Assert.Contains("different tokenizer", error.Message);
        Assert.NotNull(ModelGroup.Contrastive(llama3, GenerationFixtures.ChatModel("llama3-small")));
    }

    [Fact]
    public void Generate_MaxNewTokens_GivesThatManyAndFinishesWithLength()
    {
        GenerationResult result = Run(ModelGroup.Single(B), maxNewTokens: 7);
        Assert.Equal(7, result.TokenIds.Count);
        Assert.Equal(FinishReason.Length, result.FinishReason);
        Assert.Equal("length", result.FinishReasonName);
        Assert.Equal(Prompt.Length, result.PromptTokenCount);
    }

    [Fact]
    public void Generate_StopToken_EndsWithStopAndKeepsTheToken()
    {
        GenerationResult free = Run(ModelGroup.Single(B), maxNewTokens: 12);
        int stop = free.TokenIds[3];
        int first = free.TokenIds.ToList().IndexOf(stop);
        var options = new GenerationOptions { Sampling = Sampled, MaxNewTokens = 12, StopTokenIds = [stop] };
        GenerationResult stopped = new Generator(ModelGroup.Single(B), options).Generate(Prompt);
        Assert.Equal(free.TokenIds.Take(first + 1), stopped.TokenIds);
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
    }

    [Fact]
    public void Generate_PromptLongerThanTheContext_IsRefusedOrKeepsItsEnd()
    {
        int[] longPrompt = [.. Enumerable.Range(0, 80).Select(i => 3 + (i * 7 % 150))];
        var refuse = new Generator(ModelGroup.Single(B), new GenerationOptions { MaxNewTokens = 10 });
        var error = Assert.Throws<ArgumentException>(() => refuse.Generate(longPrompt));
        Assert.Contains("80 tokens, more than the context of 64", error.Message);

        var keepEnd = new GenerationOptions { Sampling = Sampled, MaxNewTokens = 10, PromptOverflow = PromptOverflow.KeepEnd };
        GenerationResult kept = new Generator(ModelGroup.Single(B), keepEnd).Generate(longPrompt);
        Assert.True(kept.PromptTruncated);
        Assert.Equal(64 - 9, kept.PromptTokenCount);
        Assert.Equal(10, kept.TokenIds.Count);
        GenerationResult end = new Generator(ModelGroup.Single(B), keepEnd).Generate(longPrompt.AsSpan(80 - 55));
        Assert.Equal(end.TokenIds, kept.TokenIds);
        Assert.False(end.PromptTruncated);

        // With more new tokens than half the context, the prompt keeps half of it.
        var many = keepEnd with { MaxNewTokens = 100 };
        Assert.Equal(32, new Generator(ModelGroup.Single(B), many).Generate(longPrompt).PromptTokenCount);
    }

    [Fact]
    public void Generate_UntilTheContextIsFull_FinishesWithLength()
    {
        int[] prompt = [.. Enumerable.Range(3, 60)];
        GenerationResult result = new Generator(ModelGroup.Single(B), new GenerationOptions { Sampling = Sampled, MaxNewTokens = 50 }).Generate(prompt);
        Assert.Equal(5, result.TokenIds.Count);
        Assert.Equal(FinishReason.Length, result.FinishReason);
    }

    [Fact]
    public void Generate_EmptyPrompt_StartsFromBosOrIsAClearError()
    {
        var chat = GenerationFixtures.ChatModel();
        var options = new GenerationOptions { Sampling = Sampled, MaxNewTokens = 5 };
        GenerationResult fromEmpty = new Generator(ModelGroup.Single(chat), options).Generate(string.Empty);
        GenerationResult fromBos = new Generator(ModelGroup.Single(chat), options).Generate([chat.Tokenizer!.BosId!.Value]);
        Assert.Equal(fromBos.TokenIds, fromEmpty.TokenIds);
        Assert.Equal(1, fromEmpty.PromptTokenCount);

        var noBos = new Generator(ModelGroup.Single(GenerationFixtures.ChatModel("qwen2-small")), options);
        var error = Assert.Throws<ArgumentException>(() => noBos.Generate(string.Empty));
        Assert.Contains("prompt is empty", error.Message);
        Assert.Contains("no beginning-of-sequence token", error.Message);
        Assert.Throws<ArgumentException>(() => new Generator(ModelGroup.Single(B), options).Generate(ReadOnlySpan<int>.Empty));
    }

    [Fact]
    public void Generate_BadPromptId_IsRefusedAndTheGeneratorStaysUsable()
    {
        var generator = new Generator(ModelGroup.Single(B), new GenerationOptions { Sampling = Sampled, MaxNewTokens = 6 });
        GenerationResult before = generator.Generate(Prompt);
        var error = Assert.Throws<ArgumentException>(() => generator.Generate([5, 160]));
        Assert.Contains("id 160, outside the vocabulary of 160", error.Message);
        Assert.Equal(before.TokenIds, generator.Generate(Prompt).TokenIds);
    }

    [Fact]
    public void Generate_PromptContinuingWhatTheSessionsHold_GivesTheSameTokensAsAFreshGenerator()
    {
        var options = new GenerationOptions { Sampling = SamplingSettings.Greedy, MaxNewTokens = 8 };
        var generator = new Generator(ModelGroup.Single(B), options);
        GenerationResult first = generator.Generate(Prompt);
        int[] next = [.. Prompt, .. first.TokenIds, 77, 78];
        Assert.Equal(new Generator(ModelGroup.Single(B), options).Generate(next).TokenIds, generator.Generate(next).TokenIds);

        // The sessions held the prompt and every generated token but the last, which was never run.
        Assert.Equal(3, generator.PromptTokensRun);

        // A prompt that only shares their start runs from where it departs; its last token always runs, for its logits.
        Assert.Equal(first.TokenIds, generator.Generate(Prompt).TokenIds);
        Assert.Equal(1, generator.PromptTokensRun);
        int[] departing = [.. Prompt[..2], 99, .. Prompt[3..]];
        Assert.Equal(new Generator(ModelGroup.Single(B), options).Generate(departing).TokenIds, generator.Generate(departing).TokenIds);
        Assert.Equal(2, generator.PromptTokensRun);
    }

    [Fact]
    public void Generate_Cancelled_FinishesWithCancelledAndTheGeneratorStaysUsable()
    {
        var generator = new Generator(ModelGroup.Single(B), new GenerationOptions { Sampling = Sampled, MaxNewTokens = 12 });
        GenerationResult cancelled = generator.Generate(Prompt, new CancellationToken(canceled: true));
        Assert.Equal(FinishReason.Cancelled, cancelled.FinishReason);
        Assert.Empty(cancelled.TokenIds);
        Assert.Equal(Run(ModelGroup.Single(B), 12).TokenIds, generator.Generate(Prompt).TokenIds);
    }

    [Fact]
    public async Task Streaming_CancelledAfterTheFirstPiece_StopsAtOnceAndTheGeneratorStaysUsable()
    {
        var chat = GenerationFixtures.ChatModel();
        var options = new GenerationOptions { Sampling = Sampled, MaxNewTokens = 200 };
        var generator = new Generator(ModelGroup.Single(chat), options);
        using var cancellation = new CancellationTokenSource();
        var pieces = new List<string>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (string piece in generator.GenerateStreamingAsync("Hello there", cancellation.Token))
            {
                pieces.Add(piece);
                cancellation.Cancel();
            }
        });

        Assert.Single(pieces);
        GenerationResult stopped = generator.LastResult!;
        Assert.Equal(FinishReason.Cancelled, stopped.FinishReason);
        Assert.InRange(stopped.TokenIds.Count, 1, 8);
        Assert.Equal(pieces[0], stopped.Text);

        GenerationResult fresh = new Generator(ModelGroup.Single(chat), options).Generate("Hello there");
        Assert.Equal(fresh.TokenIds, generator.Generate("Hello there").TokenIds);
    }

    [Fact]
    public async Task Streaming_Pieces_AreTheGeneratedTextAndLastResultHoldsIt()
    {
        var chat = GenerationFixtures.ChatModel();
        var options = new GenerationOptions { Sampling = Sampled, MaxNewTokens = 40 };
        GenerationResult whole = new Generator(ModelGroup.Single(chat), options).Generate("Once upon a time");
        Assert.Equal(chat.Tokenizer!.Decode([.. whole.TokenIds]), whole.Text);

        var generator = new Generator(ModelGroup.Single(chat), options);
        var text = new System.Text.StringBuilder();
        await foreach (string piece in generator.GenerateStreamingAsync("Once upon a time"))
        {
            Assert.NotEmpty(piece);
            Assert.False(char.IsHighSurrogate(piece[^1]), "a piece ends inside a character");
            text.Append(piece);
        }

        Assert.Equal(whole.Text, text.ToString());
        Assert.Equal(whole, generator.LastResult! with { TokenIds = whole.TokenIds });
        Assert.Equal(whole.TokenIds, generator.LastResult!.TokenIds);
    }

    [Fact]
    public async Task Streaming_DisposedEarly_EndsAsCancelled()
    {
        var generator = new Generator(ModelGroup.Single(GenerationFixtures.ChatModel()), new GenerationOptions { Sampling = Sampled, MaxNewTokens = 50 });
        await foreach (string piece in generator.GenerateStreamingAsync("Hi"))
        {
            break;
        }

        Assert.Equal(FinishReason.Cancelled, generator.LastResult!.FinishReason);
        Assert.Equal(50, generator.Generate("Hi").TokenIds.Count);
    }

    [Fact]
    public async Task Streaming_WhileAnotherGenerationRuns_IsRefused()
    {
        var generator = new Generator(ModelGroup.Single(GenerationFixtures.ChatModel()), new GenerationOptions { Sampling = Sampled, MaxNewTokens = 50 });
        await using var stream = generator.GenerateStreamingAsync("Hi").GetAsyncEnumerator();
        Assert.True(await stream.MoveNextAsync());
        var error = Assert.Throws<InvalidOperationException>(() => generator.Generate("Hi"));
        Assert.Contains("one generator per concurrent conversation", error.Message);
    }

    [Fact]
    public void StopSequence_CutsTheTextBeforeItAndEndsWithStop()
    {
        var chat = GenerationFixtures.ChatModel();
        var options = new GenerationOptions { Sampling = Sampled, MaxNewTokens = 60 };
        string text = new Generator(ModelGroup.Single(chat), options).Generate("The weather today").Text;
        Assert.True(text.Length > 20, text);
        string stop = text.Substring(text.Length / 2, 3);
        int at = text.IndexOf(stop, StringComparison.Ordinal);

        GenerationResult stopped = new Generator(ModelGroup.Single(chat), options with { StopSequences = ["\u0001never", stop] }).Generate("The weather today");
        Assert.Equal(text[..at], stopped.Text);
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
        Assert.StartsWith(chat.Tokenizer!.Decode([.. stopped.TokenIds.Take(stopped.TokenIds.Count - 1)]), text);
    }

    [Fact]
    public void StopSequences_WithoutATokenizer_AreRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => new Generator(ModelGroup.Single(B), new GenerationOptions { StopSequences = ["x"] }));
        Assert.Contains("no tokenizer", error.Message);
    }

    [Fact]
    public void OneModel_ServesManyGeneratorsAtOnce()
    {
        var group = ModelGroup.Offset(B, SPrime, S0, alpha: 1f);
        SamplingSettings[] settings = [.. Enumerable.Range(0, 6).Select(i => Sampled with { Seed = (ulong)i })];
        GenerationResult[] sequential = [.. settings.Select(s => Run(group, 30, s))];
        var parallel = new GenerationResult[settings.Length];
        Parallel.For(0, settings.Length, new ParallelOptions { MaxDegreeOfParallelism = 6 }, i => parallel[i] = Run(group, 30, settings[i]));
        for (int i = 0; i < settings.Length; i++)
        {
            Assert.Equal(sequential[i].TokenIds, parallel[i].TokenIds);
        }
    }

    [Fact]
    public void DecodeLoop_AllocatesNothingPerToken()
    {
        var generator = new Generator(ModelGroup.Offset(B, SPrime, S0, alpha: 1f), new GenerationOptions { Sampling = Sampled, MaxNewTokens = 50 });
        generator.Generate(Prompt);
        long Allocated(int tokens)
        {
            var options = generator.Options with { MaxNewTokens = tokens };
            var g = new Generator(generator.Group, options);
            g.Generate(Prompt);
            g.Reset();
            long before = GC.GetAllocatedBytesForCurrentThread();
            g.Generate(Prompt);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        long few = Allocated(10);
        long many = Allocated(50);

        // The result's token array grows by 4 bytes a token; nothing else may.
        Assert.InRange(many - few, 0, (40 * sizeof(int)) + 64);
    }
}
