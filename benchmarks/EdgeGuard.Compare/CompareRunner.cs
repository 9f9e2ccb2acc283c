using System.Globalization;

namespace EdgeGuard.Compare;

/// <summary>
/// Runs the matrix: per cell, <see cref="CompareSettings.Rounds"/> rounds in which every engine runs one child, the
/// order rotating from round to round so drift of the machine (heat, other load) falls on all engines alike.
/// </summary>
internal sealed class CompareRunner(CompareSettings settings, ChildLauncher launcher, TextWriter log)
{
    /// <summary>The model files of the run, or the files that are missing and the make command that builds them.</summary>
    public static (List<ModelFile> Found, List<string> Missing) LocateModels(CompareSettings settings)
    {
        var found = new List<ModelFile>();
        var missing = new List<string>();
        foreach (string shape in settings.Shapes)
        {
            foreach (Engine engine in settings.EngineList)
            {
                string path = settings.ModelPath(shape, engine);
                if (File.Exists(path))
                {
                    found.Add(new ModelFile(shape, engine.Id, path, new FileInfo(path).Length));
                }
                else
                {
                    missing.Add(path);
                }
            }
        }

        return (found, missing);
    }

    /// <summary>The command that makes the models of <paramref name="shapes"/>.</summary>
    public static string MakeModelsCommand(IEnumerable<string> shapes) => $"make bench-models SHAPES=\"{string.Join(' ', shapes)}\"";

    /// <summary>Runs every cell; <paramref name="cellDone"/> sees the runs so far after each cell, so a long run can be saved as it goes.</summary>
    public List<ChildRun> Run(IReadOnlyList<ModelFile> models, Action<IReadOnlyList<ChildRun>> cellDone)
    {
        var engines = settings.EngineList.ToList();
        var cells = settings.Cells().ToList();
        int total = cells.Count * settings.Rounds * engines.Count, done = 0;
        var runs = new List<ChildRun>(total);
        string? warmedShape = null;
        foreach (Cell cell in cells)
        {
            if (cell.Shape != warmedShape)
            {
                // Every cold start is then measured with the file in the page cache: start-up and open, not disk speed.
                foreach (ModelFile model in models.Where(m => m.Shape == cell.Shape))
                {
                    ReadThrough(model.Path);
                }

                warmedShape = cell.Shape;
            }

            for (int round = 0; round < settings.Rounds; round++)
            {
                for (int order = 0; order < engines.Count; order++)
                {
                    Engine engine = engines[(order + round) % engines.Count];
                    var run = launcher.Run(engine, cell, settings.ModelPath(cell.Shape, engine), settings, round, order, settings.ScoresRows(cell, round));
                    runs.Add(run);
                    log.WriteLine(Progress(++done, total, cell, round, engine, run));
                }
            }

            cellDone(runs);
        }

        return runs;
    }

    private static string Progress(int done, int total, Cell cell, int round, Engine engine, ChildRun run)
    {
        string head = string.Create(CultureInfo.InvariantCulture, $"[{done}/{total}] {cell} round {round + 1} {engine.Name,-17}");
        if (!run.Succeeded)
        {
            return $"{head} FAILED: {run.Error}";
        }

        double p50 = Evaluation.LatencyStats.Percentile(run.LatenciesMs, 50);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{head} p50 {p50,9:F2} ms ({run.LatenciesMs.Length} calls)  first verdict {run.FirstVerdictMs,8:F0} ms  peak RSS {run.PeakRssBytes / 1048576.0,6:F0} MiB{(run.UnsafeScores.Length > 0 ? $"  scored {run.UnsafeScores.Length} rows" : string.Empty)}");
    }

    private static void ReadThrough(string path)
    {
        byte[] buffer = new byte[1 << 20];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        while (stream.Read(buffer) > 0)
        {
        }
    }
}
