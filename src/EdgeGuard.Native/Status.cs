namespace EdgeGuard.Native;

/// <summary>The <c>edgeguard_status</c> codes of <c>include/edgeguard.h</c>; values are ABI and never change.</summary>
internal enum Status
{
    Ok = 0,
    InvalidArgument = 1,
    InvalidUtf8 = 2,
    Model = 3,
    Closed = 4,
    InputTooLong = 5,
    UnsupportedCpu = 6,
    UnsupportedOption = 7,
    OutOfMemory = 8,
    Internal = 9,
}

/// <summary>An error the boundary code detects in the caller's arguments, with the status it returns.</summary>
internal sealed class AbiException(Status status, string message) : Exception(message)
{
    public Status Status { get; } = status;
}
