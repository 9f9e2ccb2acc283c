using System.Text.Json;

namespace EdgeGuard.Cli;

/// <summary>The JSON shape of a verdict on the command line (one object, or one line of JSONL).</summary>
internal static class VerdictJson
{
    public static void Write(Utf8JsonWriter writer, Verdict verdict, float threshold, int? line, string? rawId)
    {
        writer.WriteStartObject();
        if (rawId is not null)
        {
            writer.WritePropertyName("id");
            writer.WriteRawValue(rawId);
        }

        if (line is { } l)
        {
            writer.WriteNumber("line", l);
        }

        writer.WriteBoolean("flagged", verdict.Flagged);
        writer.WriteNumber("unsafe_score", verdict.UnsafeScore);
        writer.WriteString("label", verdict.Label);
        writer.WriteNumber("threshold", threshold);
        writer.WriteNumber("tokens", verdict.TokenCount);
        writer.WriteNumber("windows", verdict.Windows);
        writer.WriteBoolean("truncated", verdict.Truncated);
        writer.WriteEndObject();
    }

    public static void WriteError(Utf8JsonWriter writer, int line, string? rawId, string error)
    {
        writer.WriteStartObject();
        if (rawId is not null)
        {
            writer.WritePropertyName("id");
            writer.WriteRawValue(rawId);
        }

        writer.WriteNumber("line", line);
        writer.WriteString("error", error);
        writer.WriteEndObject();
    }
}
