using EdgeGuard.ModelFiles;

namespace EdgeGuard.Native;

/// <summary>
/// Where every entry point ends: an exception becomes a status code and the thread's last-error message. Nothing
/// crosses into C, where an exception would terminate the host process.
/// </summary>
internal static class Boundary
{
    /// <summary>Records <paramref name="error"/> for <c>edgeguard_last_error</c> and returns its status.</summary>
    public static int Fail(Exception error)
    {
        (Status status, string message) = Classify(error);
        try
        {
            LastError.Set(message);
        }
        catch (OutOfMemoryException)
        {
            LastError.SetOutOfMemory();
            return (int)Status.OutOfMemory;
        }

        return (int)status;
    }

    internal static (Status Status, string Message) Classify(Exception error) => error switch
    {
        AbiException abi => (abi.Status, abi.Message),
        ObjectDisposedException => (Status.Closed, "the guard was closed while this call waited to start."),
        ModelFileException or IOException or UnauthorizedAccessException => (Status.Model, error.Message),
        OutOfMemoryException => (Status.OutOfMemory, $"out of memory: {error.Message}"),
        ArgumentException => (Status.InvalidArgument, error.Message),
        _ => (Status.Internal, $"internal error ({error.GetType().FullName}): {error.Message} Please report it."),
    };
}
