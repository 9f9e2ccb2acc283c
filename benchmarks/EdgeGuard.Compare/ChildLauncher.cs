using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EdgeGuard.Compare;

/// <summary>
/// Runs one <c>edgeguard bench --events</c> child and times its progress lines as they arrive: the parent, not the child,
/// owns the clock for cold start.
/// </summary>
/// <param name="cli">The CLI: an assembly (<c>.dll</c>, run with <c>dotnet</c>) or an executable, e.g. a NativeAOT build.</param>
internal sealed class ChildLauncher(string cli)
{
    public string Cli { get; } = cli;

    /// <summary>The child's command line after the program: what `edgeguard bench` is asked to do.</summary>
    public static IReadOnlyList<string> BenchArguments(Engine engine, Cell cell, string modelPath, CompareSettings settings, bool scoreRows)
    {
        var args = new List<string>
        {
            "bench", "--events",
            "--model", modelPath,
            "--seq", Invariant(cell.Seq),
            "--batch", Invariant(cell.Batch),
            "--threads", Invariant(cell.Threads),
            "--iters", Invariant(settings.Iters),
            "--warmup", Invariant(settings.Warmup),
            "--warmup-seconds", Invariant(settings.WarmupSeconds),
            "--max-seconds", Invariant(settings.MaxSeconds),
        };
        if (scoreRows)
        {
            args.AddRange(["--score-rows", Invariant(settings.AgreementRows)]);
        }

        // The native engine is the CLI's default, so the same command line works on a CLI that has no --backend yet.
        if (engine.Backend != Engine.NativeBackend)
        {
            args.AddRange(["--backend", engine.Backend]);
        }

        return args;
    }

    public ChildRun Run(Engine engine, Cell cell, string modelPath, CompareSettings settings, int round, int order, bool scoreRows)
    {
        var start = StartInfo(BenchArguments(engine, cell, modelPath, settings, scoreRows));
        var stderr = new StringBuilder();
        double? opened = null, firstVerdict = null;
        ChildOutput.Result? result = null;
        string? protocolError = null;

        using var process = new Process { StartInfo = start };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };

        long launched = Stopwatch.GetTimestamp();
        process.Start();
        process.BeginErrorReadLine();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            double at = Stopwatch.GetElapsedTime(launched).TotalMilliseconds;
            try
            {
                switch (ChildOutput.Parse(line))
                {
                    case ChildOutput.Event { Name: "opened" }:
                        opened ??= at;
                        break;
                    case ChildOutput.Event { Name: "first_verdict" }:
                        firstVerdict ??= at;
                        break;
                    case ChildOutput.Result r:
                        result = r;
                        break;
                }
            }
            catch (JsonException e)
            {
                protocolError ??= $"unreadable line from the child: {Shorten(line)} ({e.Message})";
            }
        }

        process.WaitForExit();
        double exited = Stopwatch.GetElapsedTime(launched).TotalMilliseconds;
        string? error = protocolError;
        if (process.ExitCode != 0)
        {
            string lastLine;
            lock (stderr)
            {
                lastLine = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no message";
            }

            error = $"exit code {process.ExitCode}: {lastLine}";
        }
        else if (result is null || firstVerdict is null)
        {
            error ??= "the child exited without a first_verdict line and a result";
        }

        return new ChildRun(
            cell.Shape, cell.Seq, cell.Batch, cell.Threads, engine.Id, round, order, process.ExitCode, error, opened, firstVerdict, exited,
            result?.PeakRssBytes, result?.Threshold, result?.LatenciesMs ?? [], result?.UnsafeScores ?? []);
    }

    /// <summary>The help text of <c>edgeguard bench</c>, to tell whether this CLI has a given option.</summary>
    public string BenchHelp()
    {
        var start = StartInfo(["bench", "--help"]);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {Cli}");
        string text = process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return text;
    }

    private ProcessStartInfo StartInfo(IEnumerable<string> arguments)
    {
        bool assembly = Cli.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        var start = new ProcessStartInfo(assembly ? "dotnet" : Cli)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        if (assembly)
        {
            start.ArgumentList.Add(Cli);
        }

        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        return start;
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Shorten(string line) => line.Length <= 120 ? line : line[..120] + "…";
}
