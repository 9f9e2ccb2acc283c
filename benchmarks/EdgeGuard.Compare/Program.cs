using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeGuard.Compare;

// The side-by-side harness: EdgeGuard's engines against ONNX Runtime's, each engine in child processes of the CLI
// (`edgeguard bench --events`), so memory and start-up are the engine's own. `run` measures and writes
// <out>.json, <out>.md and <out>-*.png; `render` rewrites the markdown and charts from a JSON file.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var preset = new Option<string>("--preset") { Description = "quick (make bench) or full (make bench-full): the defaults of every other option.", DefaultValueFactory = _ => "quick" };
var shapes = new Option<string?>("--shapes") { Description = "Model shapes, comma- or space-separated (folders of --models)." };
var seqs = new Option<string?>("--seq") { Description = "Tokens per row, e.g. 32,128." };
var batches = new Option<string?>("--batch") { Description = "Rows per call, e.g. 1,8." };
var threads = new Option<string?>("--threads") { Description = "Inference threads, e.g. 1,2." };
var engines = new Option<string?>("--engines") { Description = $"Engines: {string.Join(", ", Engine.All.Select(e => e.Id))}." };
var rounds = new Option<int?>("--rounds") { Description = "Children per engine and cell; the engines take turns." };
var iters = new Option<int?>("--iters") { Description = "Measured calls per child, at most." };
var warmup = new Option<int?>("--warmup") { Description = "Unmeasured calls per child, at least." };
var warmupSeconds = new Option<double?>("--warmup-seconds") { Description = "Unmeasured calls go on this long." };
var maxSeconds = new Option<double?>("--max-seconds") { Description = "Measured calls of a child stop after this long." };
var agreementRows = new Option<int?>("--agreement-rows") { Description = "Fixed rows every engine scores per shape and length (0: none)." };
var models = new Option<string?>("--models") { Description = "Directory of the models, one folder per shape (default .bench-models)." };
var cli = new Option<string>("--cli") { Description = "The CLI the children run: EdgeGuard.Cli.dll (run with dotnet) or an executable.", DefaultValueFactory = _ => "src/EdgeGuard.Cli/bin/Release/net10.0/EdgeGuard.Cli.dll" };
var output = new Option<string>("--out", "-o") { Description = "Output path without extension: writes <out>.json, <out>.md and <out>-*.png.", Required = true };

var run = new Command("run", "Measure every engine on every cell and write the results.")
{
    preset, shapes, seqs, batches, threads, engines, rounds, iters, warmup, warmupSeconds, maxSeconds, agreementRows, models, cli, output,
};
run.SetAction(parsed => ReportingUserErrors(() =>
{
    CompareSettings defaults = parsed.GetValue(preset) switch
    {
        "quick" => CompareSettings.Quick,
        "full" => CompareSettings.Full,
        var other => throw new ArgumentException($"--preset {other}: use quick or full."),
    };
    var settings = new CompareSettings(
        List(parsed.GetValue(shapes), s => s) ?? defaults.Shapes,
        List(parsed.GetValue(seqs), Int) ?? defaults.Seqs,
        List(parsed.GetValue(batches), Int) ?? defaults.Batches,
        List(parsed.GetValue(threads), Int) ?? defaults.Threads,
        // Tables and charts list engines in one order whatever order they were named in.
        List(parsed.GetValue(engines), s => Engine.ById(s).Id)?.OrderBy(id => Engine.All.ToList().FindIndex(e => e.Id == id)).ToList() ?? defaults.Engines,
        parsed.GetValue(rounds) ?? defaults.Rounds,
        parsed.GetValue(iters) ?? defaults.Iters,
        parsed.GetValue(warmup) ?? defaults.Warmup,
        parsed.GetValue(warmupSeconds) ?? defaults.WarmupSeconds,
        parsed.GetValue(maxSeconds) ?? defaults.MaxSeconds,
        parsed.GetValue(agreementRows) ?? defaults.AgreementRows,
        parsed.GetValue(models) ?? defaults.ModelsDirectory);
    return Run(settings, parsed.GetValue(cli)!, parsed.GetValue(output)!, string.Join(' ', ["EdgeGuard.Compare", .. args.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a)]));
}));

var jsonFile = new Argument<string>("results") { Description = "A results JSON written by run." };
var render = new Command("render", "Rewrite the markdown and charts of a results JSON (nothing is measured).") { jsonFile, output };
render.SetAction(parsed => ReportingUserErrors(() =>
{
    var results = CompareResults.FromJson(File.ReadAllText(parsed.GetValue(jsonFile)!));
    Write(results, parsed.GetValue(output)!, writeJson: false);
    return 0;
}));

var root = new RootCommand("EdgeGuard vs ONNX Runtime, side by side: latency, throughput, peak memory, cold start, model size and verdict agreement.") { run, render };
return root.Parse(args).Invoke();

// Mistakes a user can make (an unknown engine, a missing file, a foreign JSON) are one line and exit code 2; anything
// else is a bug and keeps its stack trace.
static int ReportingUserErrors(Func<int> body)
{
    try
    {
        return body();
    }
    catch (Exception e) when (e is ArgumentException or IOException or JsonException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"EdgeGuard.Compare: error: {e.Message}");
        return 2;
    }
}

static int Run(CompareSettings settings, string cli, string output, string command)
{
    settings.Validate();
    if (!File.Exists(cli))
    {
        throw new ArgumentException($"{cli}: no such CLI; build it first (make build).");
    }

    var (found, missing) = CompareRunner.LocateModels(settings);
    if (missing.Count > 0)
    {
        var shapesMissing = settings.Shapes.Where(shape => missing.Any(m => m.StartsWith(Path.Combine(settings.ModelsDirectory, shape) + Path.DirectorySeparatorChar, StringComparison.Ordinal)));
        Console.Error.WriteLine($"EdgeGuard.Compare: missing model files: {string.Join(", ", missing)}");
        Console.Error.WriteLine($"Make them with: {CompareRunner.MakeModelsCommand(shapesMissing)}");
        return 2;
    }

    var launcher = new ChildLauncher(cli);
    if (settings.EngineList.Any(e => e.Backend != Engine.NativeBackend) && !launcher.BenchHelp().Contains("--backend", StringComparison.Ordinal))
    {
        Console.Error.WriteLine($"EdgeGuard.Compare: {cli} has no 'bench --backend' option, so it cannot run the ONNX Runtime engines.");
        Console.Error.WriteLine("Build a CLI with the onnx backend, or compare EdgeGuard's engines alone: --engines edgeguard-f32,edgeguard-int8");
        return 2;
    }

    DateTimeOffset started = DateTimeOffset.UtcNow;
    var loadStart = MachineProbe.LoadAverage();
    var (commit, dirty) = MachineProbe.GitState();
    var machine = MachineProbe.Describe();
    CompareResults Results(IReadOnlyList<ChildRun> runs) =>
        new(CompareResults.CurrentSchema, new RunInfo(started, DateTimeOffset.UtcNow, command, cli, machine, loadStart, MachineProbe.LoadAverage(), commit, dirty),
            settings, found, runs, ResultSummary.Compute(settings, found, runs));

    // The JSON is rewritten after every cell: an interrupted run keeps what it measured, and `render` can draw it.
    EnsureDirectory(output);
    var runs = new CompareRunner(settings, launcher, Console.Out).Run(found, soFar => File.WriteAllText(output + ".json", Results(soFar).ToJson() + "\n"));
    Write(Results(runs), output, writeJson: true);
    int failed = runs.Count(r => !r.Succeeded);
    if (failed > 0)
    {
        Console.Error.WriteLine($"EdgeGuard.Compare: {failed} of {runs.Count} children failed; see 'Failed children' in {output}.md.");
        return 1;
    }

    return 0;
}

static void EnsureDirectory(string output)
{
    string? directory = Path.GetDirectoryName(output);
    if (!string.IsNullOrEmpty(directory))
    {
        Directory.CreateDirectory(directory);
    }
}

static void Write(CompareResults results, string output, bool writeJson)
{
    EnsureDirectory(output);

    if (writeJson)
    {
        File.WriteAllText(output + ".json", results.ToJson() + "\n");
    }

    var charts = Charts.Write(results, output);
    File.WriteAllText(output + ".md", MarkdownReport.Render(results, charts));
    Console.Out.WriteLine($"wrote {(writeJson ? $"{output}.json, " : string.Empty)}{output}.md and {string.Join(", ", charts)}");
    foreach (TargetCheck t in results.Summary.Targets.Where(t => t.Ratio.HasValue))
    {
        Console.Out.WriteLine($"  {t.Measure} {t.Shape} {t.Precision}: EdgeGuard / ORT = {t.Ratio:F2}× (target ≤ {t.Limit:0.0#}×) {(t.Met == true ? "met" : "NOT met")}");
    }
}

static List<T>? List<T>(string? text, Func<string, T> parse) =>
    text is null ? null : [.. text.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse)];

static int Int(string text) =>
    int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? value : throw new ArgumentException($"'{text}' is not a whole number.");
