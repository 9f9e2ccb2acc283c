using EdgeGuard.Kernels;

namespace EdgeGuard.Native;

/// <summary>
/// The firmware profile a library built by <c>make publish-lib PROFILE=…</c> records (runtime knobs
/// <c>EdgeGuard.Profile</c>, <c>EdgeGuard.Int8Kernel</c>, compiled into the library), and whether this CPU can run it.
/// </summary>
/// <remarks>
/// The CLI stops at start-up on such a CPU; a library must not end its host's process, so <c>edgeguard_open</c>
/// returns <c>EDGEGUARD_ERROR_UNSUPPORTED_CPU</c> with this message instead.
/// </remarks>
internal static class BuildProfile
{
    /// <summary>The profile's name, or null for a build that adapts to any CPU.</summary>
    public static string? Name { get; } = AppContext.GetData("EdgeGuard.Profile") as string;

    /// <summary>The int8 kernel the profile compiles in, or null.</summary>
    public static string? Int8Kernel { get; } = AppContext.GetData("EdgeGuard.Int8Kernel") as string;

    /// <summary>Why this CPU cannot run the build's profile, or null when it can (or the build has no profile).</summary>
    public static string? Problem { get; } = ProblemOf(Name, Int8Kernel);

    /// <summary>Why a CPU cannot run <paramref name="profile"/>'s kernel, or null.</summary>
    /// <param name="isSupported">Whether a kernel runs here; the CPU's answer outside tests.</param>
    internal static string? ProblemOf(string? profile, string? int8Kernel, Func<Kernels.Int8.Int8GemmVariant, bool>? isSupported = null) =>
        string.IsNullOrEmpty(profile) || string.IsNullOrEmpty(int8Kernel) ? null
        : KernelSet.ProfileProblem(profile, int8Kernel, isSupported) is { } problem ? $"this library's {problem}"
        : null;
}
