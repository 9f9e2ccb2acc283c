using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>
/// Checks and normalises the <c>config.json</c> text a bundle carries. JSON is parsed with
/// <see cref="JsonDocument"/> only (no reflection), so this stays trim- and AOT-safe.
/// </summary>
internal static class ConfigJsonText
{
    /// <summary>Why <paramref name="text"/> is not a usable config, or null when it is a JSON object.</summary>
    public static string? Problem(string text)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? null
                : $"config JSON is a {document.RootElement.ValueKind}, not an object";
        }
        catch (JsonException e)
        {
            return $"config JSON is not valid JSON ({e.Message})";
        }
    }

    /// <summary>
    /// The compact form of a valid config: whitespace removed, members in their original order, numbers exactly as
    /// written, strings re-escaped minimally. The same config always yields the same bytes, however it was formatted.
    /// </summary>
    public static string Canonicalize(string text)
    {
        using JsonDocument document = JsonDocument.Parse(text);
        var buffer = new ArrayBufferWriter<byte>(text.Length);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            document.RootElement.WriteTo(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
