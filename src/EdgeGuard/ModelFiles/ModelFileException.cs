namespace EdgeGuard.ModelFiles;

/// <summary>
/// A model file or directory is missing, corrupt, truncated, inconsistent or of an unsupported variant.
/// The message names the file and the problem in one line of at most <see cref="MaxMessageLength"/> characters,
/// whatever the file holds: a message that quotes the file is cut, never as long as the file.
/// </summary>
public sealed class ModelFileException : Exception
{
    /// <summary>Longest message, in characters.</summary>
    public const int MaxMessageLength = ErrorText.MaxMessageLength;

    public ModelFileException(string message)
        : base(ErrorText.OneBoundedLine(message))
    {
    }

    public ModelFileException(string message, Exception inner)
        : base(ErrorText.OneBoundedLine(message), inner)
    {
    }
}
