using System.Runtime.CompilerServices;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace EdgeGuard.Daemon.Metrics;

/// <summary>
/// The daemon's counters, written as Prometheus text by <see cref="Write"/>. Hand-written rather than a metrics
/// library: a dozen series, no reflection, nothing to trim.
/// </summary>
internal sealed class DaemonMetrics
{
    /// <summary>Status recorded for a request whose client went away before the response.</summary>
    public const int ClientClosedRequest = 499;

    private static readonly double[] LatencyBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] BatchBounds = [1, 2, 4, 8, 16, 32, 64, 128];

    private readonly ConcurrentDictionary<(string Route, int Status), StrongBox<long>> _requests = new();
    private readonly ConcurrentDictionary<string, Histogram> _latency = new(StringComparer.Ordinal);
    private readonly Histogram _batchSizes = new(BatchBounds);
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly ConcurrentDictionary<(string Direction, string Outcome), StrongBox<long>> _guardRail = new();
    private readonly ConcurrentDictionary<string, StrongBox<long>> _generations = new(StringComparer.Ordinal);
    private long _generatedTokens;
    private long _activeGenerations;
    private long _inputs;
    private long _flagged;
    private long _cancelled;

    public void ObserveRequest(string route, int status, double seconds)
    {
        Interlocked.Increment(ref _requests.GetOrAdd((route, status), static _ => new StrongBox<long>()).Value);
        _latency.GetOrAdd(route, static _ => new Histogram(LatencyBounds)).Observe(seconds);
    }

    public void ObserveBatch(int inputs) => _batchSizes.Observe(inputs);

    /// <summary>Inputs whose classification was skipped or stopped because nobody waited for them any more.</summary>
    public void ObserveCancelled(int inputs) => Interlocked.Add(ref _cancelled, inputs);

    public void ObserveVerdicts(int inputs, int flagged)
    {
        Interlocked.Add(ref _inputs, inputs);
        Interlocked.Add(ref _flagged, flagged);
    }

    /// <summary>A guard-rail check around generation: <paramref name="direction"/> is input or output, the outcome passed or flagged.</summary>
    public void ObserveGuardRail(string direction, bool flagged) =>
        Interlocked.Increment(ref _guardRail.GetOrAdd((direction, flagged ? "flagged" : "passed"), static _ => new StrongBox<long>()).Value);

    /// <summary>A generation that ended, by how: stop, length, content_filter (the guard stopped it) or cancelled (the client left).</summary>
    public void ObserveGeneration(string finishReason, int tokens)
    {
        Interlocked.Increment(ref _generations.GetOrAdd(finishReason, static _ => new StrongBox<long>()).Value);
        Interlocked.Add(ref _generatedTokens, tokens);
    }

    /// <summary>Generations under way: one more now; the returned scope ends it.</summary>
    public ActiveGeneration BeginGeneration()
    {
        Interlocked.Increment(ref _activeGenerations);
        return new ActiveGeneration(this);
    }

    /// <summary>Counts one generation as under way until disposed.</summary>
    public readonly struct ActiveGeneration(DaemonMetrics metrics) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref metrics._activeGenerations);
    }

    /// <summary>The state the host and batcher own, sampled at scrape time.</summary>
    public readonly record struct Snapshot(
        int QueueDepth, bool Ready, string? ModelName, string? Precision, string? Format, string Profile, int ReloadsSucceeded, int ReloadsFailed);

    public void Write(StringBuilder text, in Snapshot state)
    {
        text.Append("# HELP edgeguard_http_requests_total HTTP requests by route and status code (499: client went away).\n");
        text.Append("# TYPE edgeguard_http_requests_total counter\n");
        foreach (var ((route, status), count) in _requests.OrderBy(r => r.Key.Route, StringComparer.Ordinal).ThenBy(r => r.Key.Status))
        {
            text.Append(CultureInfo.InvariantCulture, $"edgeguard_http_requests_total{{route=\"{Escape(route)}\",status=\"{status}\"}} {Volatile.Read(ref count.Value)}\n");
        }

        text.Append("# HELP edgeguard_http_request_duration_seconds Time from request start to response end.\n");
        text.Append("# TYPE edgeguard_http_request_duration_seconds histogram\n");
        foreach (var (route, histogram) in _latency.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            histogram.Write(text, "edgeguard_http_request_duration_seconds", $"route=\"{Escape(route)}\",");
        }

        text.Append("# HELP edgeguard_batch_size Inputs per guard batch.\n");
        text.Append("# TYPE edgeguard_batch_size histogram\n");
        _batchSizes.Write(text, "edgeguard_batch_size", string.Empty);

        text.Append("# HELP edgeguard_queue_depth Requests waiting for a batch.\n# TYPE edgeguard_queue_depth gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"edgeguard_queue_depth {state.QueueDepth}\n");
        text.Append("# HELP edgeguard_inputs_total Inputs classified.\n# TYPE edgeguard_inputs_total counter\n");
        text.Append(CultureInfo.InvariantCulture, $"edgeguard_inputs_total {Volatile.Read(ref _inputs)}\n");
        text.Append("# HELP edgeguard_flagged_total Inputs flagged unsafe.\n# TYPE edgeguard_flagged_total counter\n");
        text.Append(CultureInfo.InvariantCulture, $"edgeguard_flagged_total {Volatile.Read(ref _flagged)}\n");
        text.Append("# HELP edgeguard_cancelled_inputs_total Inputs not classified, or stopped mid-way, because every client waiting for them had left or passed its deadline.\n");
        text.Append("# TYPE edgeguard_cancelled_inputs_total counter\n");
        text.Append(CultureInfo.InvariantCulture, $"edgeguard_cancelled_inputs_total {Volatile.Read(ref _cancelled)}\n");
        text.Append("# HELP edgeguard_guard_rail_checks_total Guard-rail classifications around generation by direction (input: the prompt; output: prompt and reply) and outcome.\n");
        text.Append("# TYPE edgeguard_guard_rail_checks_total counter\n");
        foreach (var ((direction, outcome), count) in _guardRail.OrderBy(r => r.Key.Direction, StringComparer.Ordinal).ThenBy(r => r.Key.Outcome, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"edgeguard_guard_rail_checks_total{{direction=\"{direction}\",outcome=\"{outcome}\"}} {Volatile.Read(ref count.Value)}\n");
        }

        text.Append("# HELP edgeguard_generations_total Generations ended, by finish reason (cancelled: the client went away).\n");
        text.Append("# TYPE edgeguard_generations_total counter\n");
        foreach (var (reason, count) in _generations.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"edgeguard_generations_total{{finish_reason=\"{reason}\"}} {Volatile.Read(ref count.Value)}\n");
        }

        text.Append("# HELP edgeguard_generated_tokens_total Tokens generated.\n# TYPE edgeguard_generated_tokens_total counter\n");
        text.Append(CultureInfo.InvariantCulture, $"edgeguard_generated_tokens_total {Volatile.Read(ref _generatedTokens)}\n");
        text.Append("# HELP edgeguard_generations_active Generations under way.\n# TYPE edgeguard_generations_active gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"edgeguard_generations_active {Volatile.Read(ref _activeGenerations)}\n");
        text.Append("# HELP edgeguard_model_ready 1 while a model is loaded.\n# TYPE edgeguard_model_ready gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"edgeguard_model_ready {(state.Ready ? 1 : 0)}\n");
        if (state.ModelName is not null)
        {
            text.Append("# HELP edgeguard_model_info The model being served.\n# TYPE edgeguard_model_info gauge\n");
            text.Append(CultureInfo.InvariantCulture,
                $"edgeguard_model_info{{name=\"{Escape(state.ModelName)}\",precision=\"{Escape(state.Precision ?? string.Empty)}\",format=\"{Escape(state.Format ?? string.Empty)}\",profile=\"{Escape(state.Profile)}\"}} 1\n");
        }

        text.Append("# HELP edgeguard_model_reloads_total Model loads by result.\n# TYPE edgeguard_model_reloads_total counter\n");
        text.Append(CultureInfo.InvariantCulture, $"edgeguard_model_reloads_total{{result=\"success\"}} {state.ReloadsSucceeded}\n");
        text.Append(CultureInfo.InvariantCulture, $"edgeguard_model_reloads_total{{result=\"failure\"}} {state.ReloadsFailed}\n");
        text.Append("# HELP process_resident_memory_bytes Resident memory of the daemon.\n# TYPE process_resident_memory_bytes gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"process_resident_memory_bytes {Environment.WorkingSet}\n");
        text.Append("# HELP process_uptime_seconds Seconds since the daemon started.\n# TYPE process_uptime_seconds gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"process_uptime_seconds {Stopwatch.GetElapsedTime(_started).TotalSeconds:F3}\n");
    }

    private static string Escape(string value) =>
        value.Contains('\\', StringComparison.Ordinal) || value.Contains('"', StringComparison.Ordinal) || value.Contains('\n', StringComparison.Ordinal)
            ? value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)
            : value;
}
