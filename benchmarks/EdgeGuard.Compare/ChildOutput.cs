using System.Text.Json;

namespace EdgeGuard.Compare;

/// <summary>The lines <c>edgeguard bench --events</c> writes: progress events, then one result object.</summary>
internal static class ChildOutput
{
    public abstract record Line;

    /// <summary><c>{"event": "opened"}</c> or <c>{"event": "first_verdict"}</c>.</summary>
    public sealed record Event(string Name) : Line;

    /// <summary>The fields of the result object the harness uses; the child's own percentiles are recomputed from the latencies.</summary>
    public sealed record Result(double[] LatenciesMs, float[] UnsafeScores, long PeakRssBytes, float Threshold) : Line;

    /// <exception cref="JsonException">The line is not one of the two kinds.</exception>
    public static Line Parse(string line)
    {
        using var doc = JsonDocument.Parse(line);
        JsonElement root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("expected a JSON object");
        }

        if (root.TryGetProperty("event", out JsonElement name))
        {
            return new Event(name.GetString() ?? throw new JsonException("event without a name"));
        }

        return new Result(
            [.. Required(root, "latencies_ms").EnumerateArray().Select(e => e.GetDouble())],
            root.TryGetProperty("unsafe_scores", out JsonElement scores) ? [.. scores.EnumerateArray().Select(e => e.GetSingle())] : [],
            Required(root, "peak_rss_bytes").GetInt64(),
            Required(root, "threshold").GetSingle());
    }

    private static JsonElement Required(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement value) ? value : throw new JsonException($"the result has no '{name}'");
}
