namespace EdgeGuard.ModelFiles.Gguf;

/// <summary>One metadata key-value pair as read from a file.</summary>
/// <param name="Key">The key, e.g. <c>general.architecture</c>.</param>
/// <param name="Value">The typed value.</param>
/// <param name="ValueOffset">
/// File offset of the value's first byte (after the key and the type tag). Integrity checks use it to
/// find a fixed-size value they must exclude from a hash or patch in place.
/// </param>
public sealed record GgufMetadataEntry(string Key, GgufValue Value, long ValueOffset);
