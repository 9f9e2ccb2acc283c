using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeGuard.Evaluation;

namespace EdgeGuard.Cli.Benchmarking;

/// <summary>The result of one <c>edgeguard bench</c> run, whichever backend computed it, and its two outputs.</summary>
/// <param name="Model">What was opened, as the user named it.</param>
/// <param name="Precision">Weight precision of the engine, e.g. <c>f32</c> or <c>int8</c>.</param>
/// <param name="Shape">Layers × hidden size, for people.</param>
/// <param name="Threads">Inference threads.</param>
/// <param name="Threshold">Decision threshold on P(unsafe).</param>
/// <param name="Plan">What was asked for.</param>
/// <param name="Measured">Timed calls.</param>
/// <param name="UnsafeScores">P(unsafe) of the fixed scored rows (empty unless asked for).</param>
/// <param name="PeakResidentBytes">High-water mark of this process's resident memory when the run ended.</param>
internal sealed record BenchReport(
    string Model, string Precision, string Shape, int Threads, float Threshold, BenchPlan Plan, BenchMeasurement Measured, float[] UnsafeScores, long PeakResidentBytes)
{
    /// <summary>
    /// The peak resident memory of this process so far, so open, warm-up, timing and scoring all count: the kernel's
    /// high-water mark <c>VmHWM</c> on Linux, the runtime's peak working set elsewhere.
    /// </summary>
    public static long CurrentPeakResidentBytes()
    {
        const string status = "/proc/self/status";
        if (File.Exists(status))
        {
            foreach (string line in File.ReadLines(status))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    // "VmHWM:    362672 kB"
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture) * 1024;
                }
            }
        }

        using var self = Process.GetCurrentProcess();
        return self.PeakWorkingSet64;
    }

    public double Percentile(double p) => LatencyStats.Percentile(Measured.LatenciesMs, p);

    public double VerdictsPerSecond => Plan.Batch * Measured.LatenciesMs.Length / Measured.MeasuredSeconds;

    /// <summary>One JSON object on one line.</summary>
    public void WriteJson(Stream output)
    {
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            writer.WriteString("model", Model);
            writer.WriteString("precision", Precision);
            writer.WriteNumber("seq", Plan.Seq);
            writer.WriteNumber("batch", Plan.Batch);
            writer.WriteNumber("threads", Threads);
            writer.WriteNumber("iters", Measured.LatenciesMs.Length);
            writer.WriteNumber("p50_ms", Percentile(50));
            writer.WriteNumber("p90_ms", Percentile(90));
            writer.WriteNumber("p99_ms", Percentile(99));
            writer.WriteNumber("verdicts_per_second", VerdictsPerSecond);
            writer.WriteNumber("peak_rss_bytes", PeakResidentBytes);
            writer.WriteNumber("threshold", Threshold);
            writer.WriteString("edgeguard_kernels", Kernels.KernelSet.Describe());
            writer.WriteStartArray("latencies_ms");
            foreach (double ms in Measured.LatenciesMs)
            {
                writer.WriteNumberValue(ms);
            }

            writer.WriteEndArray();
            writer.WriteStartArray("unsafe_scores");
            foreach (float score in UnsafeScores)
            {
                writer.WriteNumberValue(score);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        output.WriteByte((byte)'\n');
        output.Flush();
    }

    public void WriteText(TextWriter output)
    {
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{Model} ({Precision}, {Shape})  seq={Plan.Seq} batch={Plan.Batch} threads={Threads} iters={Measured.LatenciesMs.Length}"));
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"latency per call: p50={Percentile(50):F2} ms  p90={Percentile(90):F2} ms  p99={Percentile(99):F2} ms   throughput: {VerdictsPerSecond:F1} verdicts/s   peak RSS: {PeakResidentBytes / 1048576.0:F0} MiB"));
        if (UnsafeScores.Length > 0)
        {
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"scored rows: {UnsafeScores.Length}, flagged at {Threshold}: {UnsafeScores.Count(s => s >= Threshold)}, P(unsafe) {UnsafeScores.Min():F4} .. {UnsafeScores.Max():F4}"));
        }
    }

    /// <summary>A progress line for a parent process (<c>--events</c>), written and flushed at once so the parent can time it.</summary>
    public static void WriteEvent(TextWriter output, string name)
    {
        output.WriteLine($"{{\"event\":\"{name}\"}}");
        output.Flush();
    }
}
