using System.Collections.Concurrent;

namespace EdgeGuard.Native;

/// <summary>
/// The <c>edgeguard_guard*</c> handles: numbers looked up in a table, never addresses. A closed, forged or twice-closed
/// handle is simply not found (<c>EDGEGUARD_ERROR_CLOSED</c>), where a pointer to a freed object would crash, and a
/// number is never reused, so a stale handle cannot reach a guard opened later.
/// </summary>
internal static class GuardHandles
{
    // Handles step by 16 from a start that looks like no small integer or common pointer, so a zeroed or
    // uninitialised variable is not mistaken for a guard by chance.
    private const long Step = 16;
    private static long s_last = 0x6564_6700;
    private static readonly ConcurrentDictionary<nint, OpenGuard> Open = new();

    /// <summary>Registers <paramref name="guard"/> and returns its new handle.</summary>
    public static nint Add(OpenGuard guard)
    {
        nint handle = (nint)Interlocked.Add(ref s_last, Step);
        Open[handle] = guard;
        return handle;
    }

    /// <summary>The guard behind <paramref name="handle"/>.</summary>
    /// <exception cref="AbiException">NULL, closed or unknown.</exception>
    public static OpenGuard Get(nint handle) =>
        Open.TryGetValue(Checked(handle), out var guard) ? guard : throw Closed(handle);

    /// <summary>Removes <paramref name="handle"/>; the caller disposes what it returns.</summary>
    /// <exception cref="AbiException">Closed or unknown.</exception>
    public static OpenGuard Remove(nint handle) =>
        Open.TryRemove(Checked(handle), out var guard) ? guard : throw Closed(handle);

    /// <summary>Handles currently open, for tests.</summary>
    internal static int Count => Open.Count;

    private static nint Checked(nint handle) =>
        handle != 0 ? handle : throw new AbiException(Status.InvalidArgument, "guard is NULL.");

    private static AbiException Closed(nint handle) =>
        new(Status.Closed, $"guard 0x{handle:x} is closed, or was never returned by edgeguard_open.");
}
