using System.Diagnostics;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Models.Deberta;

namespace EdgeGuard.Benchmarks;

/// <summary>Resident memory of this process after opening a bundle and after its first verdict (128 tokens).</summary>
internal static class MemoryReport
{
    public static int Run(HarnessOptions options)
    {
        Console.WriteLine("| bundle | file MiB | RSS before open MiB | after open MiB | after first verdict MiB |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (string path in options.Positional)
        {
            using var pool = new WorkerPool();
            double before = Rss();
            using ModelBundle bundle = ModelBundle.Open(path, verifyTensorData: false);
            var classifier = DebertaClassifier.Load(DebertaConfig.Parse(bundle.ConfigJson, path), bundle, pool);
            double opened = Rss();
            int[] ids = [.. Enumerable.Range(0, 128).Select(i => i == 0 ? 1 : i == 127 ? 2 : 300 + i)];
            classifier.Forward(ids, [128], 1, 128, new float[classifier.NumLabels]);
            double first = Rss();
            Console.WriteLine($"| {Path.GetFileName(path)} ({bundle.Precision}) | {bundle.FileSize / 1048576.0:F0} | {before:F0} | {opened:F0} | {first:F0} |");
        }

        return 0;
    }

    private static double Rss()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64 / 1048576.0;
    }
}
