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
}
