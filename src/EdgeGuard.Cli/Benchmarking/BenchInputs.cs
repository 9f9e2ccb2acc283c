namespace EdgeGuard.Cli.Benchmarking;

/// <summary>
/// The token rows <c>edgeguard bench</c> feeds an engine: ordinary pieces drawn with fixed seeds, so every run and every
/// backend sees the same input. No special token appears inside a row.
/// </summary>
/// <param name="Prefix">The template's ids that start every row (<c>[CLS]</c>).</param>
/// <param name="Suffix">The template's ids that end every row (<c>[SEP]</c>).</param>
/// <param name="EndDrawnId">Rows draw ids below this one.</param>
internal sealed record BenchInputs(int[] Prefix, int[] Suffix, int EndDrawnId)
{
    /// <summary>Rows draw ids from this one up: below it DeBERTa-v3 keeps its control, unknown and byte-fallback pieces.</summary>
    public const int FirstDrawnId = 260;

    /// <summary>
    /// The inputs for a tokenizer of <paramref name="vocabularySize"/> ids whose one-segment rows are framed by
    /// <paramref name="template"/>, whatever the backend: the last id is DeBERTa-v3's appended <c>[MASK]</c>, so it is not drawn either.
    /// </summary>
    /// <exception cref="ArgumentException">The vocabulary has no ordinary ids to draw.</exception>
    public static BenchInputs ForVocabulary(EdgeGuard.Tokenization.PairTemplate template, int vocabularySize)
    {
        int end = vocabularySize - 1;
        if (end <= FirstDrawnId)
        {
            throw new ArgumentException($"the model's vocabulary has {vocabularySize} ids; bench draws its input from ids {FirstDrawnId} and up.");
        }

        return new BenchInputs(template.Prefix.ToArray(), template.Suffix.ToArray(), end);
    }

    private const int TimedSeed = 12345;
    private const int ScoredSeed = 271828;

    /// <summary><paramref name="batch"/> rows of <paramref name="seq"/> tokens, row-major: the input every timed call sees.</summary>
    public int[] TimedBatch(int batch, int seq) => Rows(new Random(TimedSeed), batch, seq);

    /// <summary>
    /// <paramref name="count"/> rows of <paramref name="seq"/> tokens, drawn apart from the timed batch: row <c>i</c> is the
    /// same whatever <paramref name="count"/> is, so runs of different sizes compare row by row.
    /// </summary>
    public int[] ScoredRows(int count, int seq) => Rows(new Random(ScoredSeed + seq), count, seq);

    private int[] Rows(Random random, int rows, int seq)
    {
        int[] ids = new int[rows * seq];
        for (int r = 0; r < rows; r++)
        {
            Span<int> row = ids.AsSpan(r * seq, seq);
            int prefix = Math.Min(Prefix.Length, seq), suffix = Math.Min(Suffix.Length, seq - prefix);
            Prefix.AsSpan(0, prefix).CopyTo(row);
            for (int t = prefix; t < seq - suffix; t++)
            {
                row[t] = random.Next(FirstDrawnId, EndDrawnId);
            }

            Suffix.AsSpan(0, suffix).CopyTo(row[(seq - suffix)..]);
        }

        return ids;
    }
}
