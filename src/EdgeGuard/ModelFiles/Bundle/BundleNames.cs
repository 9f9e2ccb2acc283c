namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>Rules for names a bundle stores beside tensor names.</summary>
internal static class BundleNames
{
    /// <summary>A tokenizer file name: a plain file name (no directory, no control characters) of at most <see cref="BundleFormat.MaxNameLength"/> characters.</summary>
    public static bool IsTokenizerFileName(string? name) =>
        !string.IsNullOrEmpty(name)
        && name.Length <= BundleFormat.MaxNameLength
        && name is not "." and not ".."
        && !name.Any(c => c is '/' or '\\' || char.IsControl(c));
}
