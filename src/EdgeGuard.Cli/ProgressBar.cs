using System.Diagnostics;

namespace EdgeGuard.Cli;

/// <summary>A one-line progress bar on stderr, drawn only when stderr is a terminal so logs and pipes stay clean.</summary>
internal sealed class ProgressBar : IDisposable
{
    private readonly string _label;
    private readonly long _total;
    private readonly bool _enabled = !Console.IsErrorRedirected;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDrawMs = -1000;

    /// <param name="total">Expected number of steps, or 0 when unknown.</param>
    public ProgressBar(string label, long total)
    {
        _label = label;
        _total = total;
    }

    public void Report(long done)
    {
        if (!_enabled)
        {
            return;
        }

        long now = _clock.ElapsedMilliseconds;
        if (now - _lastDrawMs < 100 && done != _total)
        {
            return;
        }

        _lastDrawMs = now;
        double rate = done / Math.Max(_clock.Elapsed.TotalSeconds, 1e-9);
        string line;
        if (_total > 0)
        {
            const int width = 30;
            int filled = (int)Math.Min(width, done * width / _total);
            double eta = rate > 0 ? (_total - done) / rate : 0;
            line = $"\r{_label} [{new string('#', filled)}{new string('.', width - filled)}] {done}/{_total} {100.0 * done / _total,5:F1}% {rate,7:F1}/s ETA {TimeSpan.FromSeconds(Math.Round(eta)):g}";
        }
        else
        {
            line = $"\r{_label} {done} {rate,7:F1}/s";
        }

        Console.Error.Write(line);
    }

    public void Dispose()
    {
        if (_enabled)
        {
            Console.Error.WriteLine();
        }
    }
}
