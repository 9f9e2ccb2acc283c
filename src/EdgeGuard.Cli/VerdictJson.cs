using System.Text.Json;

namespace EdgeGuard.Cli;

/// <summary>
/// The JSON shape of a verdict on the command line (one object, or one line of JSONL). Every object names the model
/// that judged (<c>model</c>, its full path), so a result can be traced to the model that produced it.
/// </summary>
internal static class VerdictJson
{
    /// <summary>The <c>model</c> field: the full path of what was opened.</summary>
    public static string ModelPath(Guard guard) => Path.GetFullPath(guard.Model.Path);

    public static void Write(Utf8JsonWriter writer, Verdict verdict, float threshold, long? line, string? rawId, string model)
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
        writer.WriteString("model", model);
        writer.WriteEndObject();
    }

    public static void WriteError(Utf8JsonWriter writer, long line, string? rawId, string error, string model)
    {
        writer.WriteStartObject();
        if (rawId is not null)
        {
            writer.WritePropertyName("id");
            writer.WriteRawValue(rawId);
        }

        writer.WriteNumber("line", line);
        writer.WriteString("error", error);
        writer.WriteString("model", model);
        writer.WriteEndObject();
    }
}
