using System.Globalization;
using System.Text;

namespace EdgeGuard.Daemon.Metrics;

/// <summary>A Prometheus histogram: cumulative bucket counts, sum and count, written in the text exposition format.</summary>
internal sealed class Histogram
{
    private readonly double[] _bounds;
    private readonly long[] _counts;
    private readonly object _gate = new();
    private double _sum;
    private long _count;

    public Histogram(double[] bounds)
    {
        _bounds = bounds;
        _counts = new long[bounds.Length];
    }

    public void Observe(double value)
    {
        lock (_gate)
        {
            for (int i = 0; i < _bounds.Length; i++)
            {
                if (value <= _bounds[i])
                {
                    _counts[i]++;
                    break;
                }
            }

            _sum += value;
            _count++;
        }
    }

    /// <summary>Writes the series of one metric; <paramref name="labels"/> is empty or ends with a comma.</summary>
    public void Write(StringBuilder text, string name, string labels)
    {
        lock (_gate)
        {
            long cumulative = 0;
            for (int i = 0; i < _bounds.Length; i++)
            {
                cumulative += _counts[i];
                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels}le=\"{_bounds[i]}\"}} {cumulative}\n");
            }

            text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels}le=\"+Inf\"}} {_count}\n");
            string plain = labels.Length == 0 ? string.Empty : "{" + labels.TrimEnd(',') + "}";
            text.Append(CultureInfo.InvariantCulture, $"{name}_sum{plain} {_sum}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_count{plain} {_count}\n");
        }
    }
}
