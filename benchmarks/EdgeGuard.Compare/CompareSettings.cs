using System.Text.Json.Serialization;

namespace EdgeGuard.Compare;

/// <summary>What a comparison run measures and how long it spends on each child.</summary>
/// <param name="Shapes">Model shapes, folders of <see cref="ModelsDirectory"/>.</param>
/// <param name="Seqs">Tokens per row.</param>
/// <param name="Batches">Rows per call.</param>
/// <param name="Threads">Inference threads.</param>
/// <param name="Engines">Engine ids (<see cref="Engine.Id"/>).</param>
/// <param name="Rounds">Children per engine and cell; engines take turns inside each round.</param>
/// <param name="Iters">Measured calls per child, at most.</param>
/// <param name="Warmup">Unmeasured calls per child, at least.</param>
/// <param name="WarmupSeconds">Unmeasured calls go on for this long (JIT tiering, caches).</param>
/// <param name="MaxSeconds">Measured calls of one child stop after this long (after at least one).</param>
/// <param name="AgreementRows">Fixed rows each engine scores per shape and sequence length, to compare verdicts.</param>
/// <param name="ModelsDirectory">Where <c>make bench-models</c> puts the models.</param>
internal sealed record CompareSettings(
    IReadOnlyList<string> Shapes,
    IReadOnlyList<int> Seqs,
    IReadOnlyList<int> Batches,
    IReadOnlyList<int> Threads,
    IReadOnlyList<string> Engines,
    int Rounds,
    int Iters,
    int Warmup,
    double WarmupSeconds,
    double MaxSeconds,
    int AgreementRows,
    string ModelsDirectory)
{
    /// <summary><c>make bench</c>: a few minutes on a small and a mid-size model.</summary>
    public static CompareSettings Quick { get; } = new(
        ["xsmall", "base"], [32, 128], [1], [1, 2], [.. Engine.All.Select(e => e.Id)],
        Rounds: 3, Iters: 200, Warmup: 3, WarmupSeconds: 0.5, MaxSeconds: 1, AgreementRows: 16, ModelsDirectory: ".bench-models");

    /// <summary><c>make bench-full</c>: the whole matrix; hours on a small machine.</summary>
    public static CompareSettings Full { get; } = new(
        ["xsmall", "small", "base", "large"], [32, 128, 256, 512], [1, 8], [1, 2], [.. Engine.All.Select(e => e.Id)],
        Rounds: 3, Iters: 500, Warmup: 3, WarmupSeconds: 2, MaxSeconds: 5, AgreementRows: 32, ModelsDirectory: ".bench-models");

    [JsonIgnore]
    public IEnumerable<Engine> EngineList => Engines.Select(Engine.ById);

    /// <summary>Every cell, shape by shape, in the order they run.</summary>
    public IEnumerable<Cell> Cells() =>
        from shape in Shapes
        from seq in Seqs
        from batch in Batches
        from threads in Threads
        select new Cell(shape, seq, batch, threads);

    /// <summary>
    /// The cell whose children also score the fixed rows of their shape and length: one per (shape, seq), since
    /// a row's score depends on neither batch-mates (rows are scored alone) nor threads.
    /// </summary>
    public bool ScoresRows(Cell cell, int round) =>
        AgreementRows > 0 && round == 0 && cell.Batch == Batches[0] && cell.Threads == Threads.Max();

    /// <summary>Path of an engine's model file for a shape.</summary>
    public string ModelPath(string shape, Engine engine) => Path.Combine(ModelsDirectory, shape, engine.ModelFile);

    public void Validate()
    {
        if (Shapes.Count == 0 || Seqs.Count == 0 || Batches.Count == 0 || Threads.Count == 0 || Engines.Count == 0)
        {
            throw new ArgumentException("--shapes, --seq, --batch, --threads and --engines each need at least one value.");
        }

        if (Seqs.Any(s => s < 2) || Batches.Any(b => b < 1) || Threads.Any(t => t < 1))
        {
            throw new ArgumentException("--seq values must be at least 2, --batch and --threads values positive.");
        }

        if (Rounds < 1 || Iters < 1 || Warmup < 0 || WarmupSeconds < 0 || MaxSeconds < 0 || AgreementRows < 0)
        {
            throw new ArgumentException("--rounds and --iters must be positive; --warmup, --warmup-seconds, --max-seconds and --agreement-rows not negative.");
        }

        foreach (string id in Engines)
        {
            _ = Engine.ById(id);
        }
    }
}
