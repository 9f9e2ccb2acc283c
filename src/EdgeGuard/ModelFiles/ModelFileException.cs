namespace EdgeGuard.ModelFiles;

/// <summary>
/// A model file or directory is missing, corrupt, truncated, inconsistent or of an unsupported variant.
/// The message names the file and the problem in one line.
/// </summary>
public sealed class ModelFileException : Exception
{
    public ModelFileException(string message)
        : base(message)
    {
    }

    public ModelFileException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>
    /// <paramref name="text"/> (a value quoted from a model file) cut to <paramref name="maxLength"/> characters with an
    /// ellipsis, so a hostile file cannot make an error message huge.
    /// </summary>
    public static string Shorten(string text, int maxLength = 80) =>
        text.Length <= maxLength ? text : string.Concat(text.AsSpan(0, maxLength), "…");
}
