namespace EdgeGuard.Cli.Benchmarking;

/// <summary>
/// The token rows <c>edgeguard bench</c> feeds an engine: ordinary pieces drawn with fixed seeds, so every run and every
/// backend sees the same input. No special token appears inside a row.
/// </summary>
/// <param name="ClsId">Id of <c>[CLS]</c>, the first token of every row.</param>
/// <param name="SepId">Id of <c>[SEP]</c>, the last token of every row.</param>
/// <param name="PieceCount">Pieces of the tokenizer; rows draw ids below it.</param>
internal sealed record BenchInputs(int ClsId, int SepId, int PieceCount)
{
    // Below this id a SentencePiece model keeps its control, unknown and byte-fallback pieces.
    private const int FirstOrdinaryPiece = 260;

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
            row[0] = ClsId;
            for (int t = 1; t < seq - 1; t++)
            {
                row[t] = random.Next(FirstOrdinaryPiece, PieceCount);
            }

            row[^1] = SepId;
        }

        return ids;
    }
}
