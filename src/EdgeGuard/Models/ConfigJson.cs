using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Models;

/// <summary>Reads a <c>config.json</c> text into an architecture's config type, with the loader's one-line errors.</summary>
internal static class ConfigJson
{
    /// <exception cref="ModelFileException">Not JSON, a field of the wrong type, or JSON null; the message names <paramref name="origin"/>.</exception>
    public static T Deserialize<T>(string json, string origin, JsonTypeInfo<T> type)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(json);
        T? config;
        try
        {
            config = JsonSerializer.Deserialize(json, type);
        }
        catch (JsonException e)
        {
            string where = e.Path is null ? string.Empty : $" at {e.Path}";
            throw new ModelFileException($"{origin}: not a valid config{where} ({ErrorText.Quote(e.Message)}).", e);
        }

        return config ?? throw new ModelFileException($"{origin}: the config is JSON null, not an object.");
    }
}
