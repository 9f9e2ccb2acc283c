namespace EdgeGuard.Generation.Logits;

/// <summary>
/// The processors one decode step runs over the logits of a model group, in this order: the combiner (offset,
/// contrast, weighted mix; none for a single model), repetition penalty, temperature, top-k, top-p, min-p, and the
/// selector (greedy, or sampling with a <see cref="SplitMix64"/> seeded from <see cref="SamplingSettings.Seed"/>).
/// </summary>
/// <remarks>
/// One chain per generation: it owns the generator's state and the scratch its filters sort in, sized once for the
/// vocabulary, so a step allocates nothing. Not thread-safe. The rows are processed in place; the primary row is the
/// caller's (a session's logits buffer) and holds the processed logits afterwards. Every step validates its input
/// before it changes anything: row lengths (a group's vocabularies must agree), finite logits, history ids in range.
/// <c>edgeguard_train.logits_processing</c> in <c>training/</c> is the Python reference of the same arithmetic.
/// </remarks>
public sealed class LogitsChain
{
    private readonly ulong[] _keys;
    private readonly double[] _weights;
    private readonly ulong[] _seen;
    private SplitMix64 _random;

    /// <summary>A chain for rows of <paramref name="vocabularySize"/> logits.</summary>
    /// <param name="combiner">Combines the group's rows into the primary row; null for a single model.</param>
    public LogitsChain(int vocabularySize, SamplingSettings settings, LogitsCombiner? combiner = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (vocabularySize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(vocabularySize), vocabularySize, "The vocabulary must hold at least one token.");
        }

        settings.Validate();
        VocabularySize = vocabularySize;
        Settings = settings;
        Combiner = combiner;
        _keys = new ulong[vocabularySize];
        _weights = new double[vocabularySize];
        _seen = new ulong[RepetitionPenalty.ScratchLength(vocabularySize)];
        _random = new SplitMix64(settings.Seed);
    }

    /// <summary>Logits per row.</summary>
    public int VocabularySize { get; }

    /// <summary>The per-token settings.</summary>
    public SamplingSettings Settings { get; }

    /// <summary>The combiner of the group's rows, or null.</summary>
    public LogitsCombiner? Combiner { get; }

    /// <summary>Rows besides the primary row that each step reads.</summary>
    public int PartnerCount => Combiner?.PartnerCount ?? 0;

    /// <summary>The generator's state: where the next draw starts.</summary>
    public ulong GeneratorState => _random.State;

    /// <summary>Runs the chain over a single model's row and selects the next token.</summary>
    /// <param name="history">The tokens so far (prompt and generated), which the repetition penalty reads.</param>
    public int Next(Span<float> primary, ReadOnlySpan<int> history) => Next(primary, [], history);

    /// <summary>Runs the whole chain and selects the next token; <paramref name="primary"/> holds the processed row afterwards.</summary>
    /// <param name="partners">The other models' rows of this step, in the combiner's order.</param>
    /// <param name="history">The tokens so far (prompt and generated), which the repetition penalty reads.</param>
    public int Next(Span<float> primary, ReadOnlySpan<ReadOnlyMemory<float>> partners, ReadOnlySpan<int> history)
    {
        Process(primary, partners, history);
        return Settings.IsGreedy
            ? TokenSelector.Greedy(primary)
            : TokenSelector.Sample(primary, _random.NextDouble(), _weights);
    }

    /// <summary>Runs every processor before the selector over the rows, leaving the result in <paramref name="primary"/>.</summary>
    public void Process(Span<float> primary, ReadOnlySpan<ReadOnlyMemory<float>> partners, ReadOnlySpan<int> history)
    {
        Validate(primary, partners, history);
        if (Combiner is not null)
        {
            Combiner.Combine(primary, partners);
            RequireNoOverflow(primary, "the combiner");
        }

        SamplingSettings s = Settings;
        if (s.RepetitionPenalty != 1f && !history.IsEmpty)
        {
            RepetitionPenalty.Apply(primary, history, s.RepetitionPenalty, _seen);
        }

        if (s.IsGreedy)
        {
            // Every filter keeps the most likely token (the lowest id of a tie), so greedy selection skips them.
            RequireNoOverflow(primary, "the repetition penalty");
            return;
        }

        if (s.Temperature != 1f)
        {
            Temperature.Apply(primary, s.Temperature);
        }

        RequireNoOverflow(primary, "the repetition penalty and temperature");
        if (s.TopK is int k)
        {
            TopK.Apply(primary, k, _keys);
        }

        if (s.TopP < 1.0)
        {
            TopP.Apply(primary, s.TopP, _keys, _weights);
        }

        if (s.MinP > 0.0)
        {
            MinP.Apply(primary, s.MinP);
        }
    }

    private void Validate(ReadOnlySpan<float> primary, ReadOnlySpan<ReadOnlyMemory<float>> partners, ReadOnlySpan<int> history)
    {
        string primaryRole = Combiner?.RoleOf(0) ?? "the model";
        if (primary.Length != VocabularySize)
        {
            throw new ArgumentException($"Model 0 ({primaryRole}) gave {primary.Length} logits but this chain was made for a vocabulary of {VocabularySize}.", nameof(primary));
        }

        if (partners.Length != PartnerCount)
        {
            throw new ArgumentException($"This chain combines {PartnerCount} partner rows with the primary row, not {partners.Length}.", nameof(partners));
        }

        RequireFinite(primary, 0, primaryRole);
        for (int i = 0; i < partners.Length; i++)
        {
            string role = Combiner!.RoleOf(i + 1);
            ModelGroupVocabulary.RequireRowLength(VocabularySize, partners[i].Length, i + 1, role, primaryRole);
            RequireFinite(partners[i].Span, i + 1, role);
        }

        for (int i = 0; i < history.Length; i++)
        {
            if ((uint)history[i] >= (uint)VocabularySize)
            {
                throw new ArgumentOutOfRangeException(nameof(history), history[i], $"Token {history[i]} at position {i} of the history lies outside the vocabulary of {VocabularySize} tokens.");
            }
        }
    }

    private static void RequireFinite(ReadOnlySpan<float> row, int modelIndex, string role)
    {
        for (int v = 0; v < row.Length; v++)
        {
            if (!float.IsFinite(row[v]))
            {
                ThrowNotFinite(row[v], v, modelIndex, role);
            }
        }
    }

    private static void RequireNoOverflow(ReadOnlySpan<float> row, string stage)
    {
        for (int v = 0; v < row.Length; v++)
        {
            float value = row[v];
            if (float.IsNaN(value) || float.IsPositiveInfinity(value))
            {
                ThrowOverflow(value, v, stage);
            }
        }
    }

    private static void ThrowNotFinite(float value, int token, int modelIndex, string role) =>
        throw new ArgumentException($"Model {modelIndex} ({role}) gave the logit {value} for token {token}: a model's logits must be finite.");

    private static void ThrowOverflow(float value, int token, string stage) =>
        throw new ArgumentException($"The logit of token {token} is {value} after {stage}: the arithmetic overflowed float32; use smaller weights, penalty or inverse temperature.");
}
