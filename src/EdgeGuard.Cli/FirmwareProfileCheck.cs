using System.Reflection;
using System.Runtime.CompilerServices;
using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.Cli;

/// <summary>
/// A binary built by <c>make publish PROFILE=…</c> records its firmware profile and the int8 kernel that profile
/// compiles in (assembly metadata <c>EdgeGuard.Profile</c>, <c>EdgeGuard.Int8Kernel</c>). Before anything else runs,
/// this checks that the CPU can run that kernel and stops with a message naming the profile and the fix otherwise.
/// </summary>
/// <remarks>
/// Under NativeAOT the instruction sets in <c>IlcInstructionSet</c> are assumed present, and the runtime's own start-up
/// check refuses a CPU without them before managed code runs; this check covers what that one does not: a build whose
/// instruction sets do not enable the profile's kernel, and the same binary run under the JIT.
/// </remarks>
internal static class FirmwareProfileCheck
{
    [ModuleInitializer]
    internal static void Run()
    {
        string? problem = Problem(typeof(FirmwareProfileCheck).Assembly);
        if (problem is not null)
        {
            Console.Error.WriteLine($"edgeguard: error: {problem}");
            Environment.Exit(ExitCodes.Error);
        }
    }

    /// <summary>Why this CPU cannot run the build's profile, or null when it can (or the build has no profile).</summary>
    internal static string? Problem(Assembly assembly)
    {
        string? profile = Metadata(assembly, "EdgeGuard.Profile");
        string? kernel = Metadata(assembly, "EdgeGuard.Int8Kernel");
        if (string.IsNullOrEmpty(profile) || string.IsNullOrEmpty(kernel))
        {
            return null;
        }

        return Problem(profile, kernel, Int8Gemm.IsSupported);
    }

    /// <summary>A CPU with more than the profile needs (a Pi 5 running the Pi 4 build) is fine; one with less is not.</summary>
    internal static string? Problem(string profile, string kernel, Func<Int8GemmVariant, bool> isSupported)
    {
        if (!Enum.TryParse(kernel, out Int8GemmVariant expected))
        {
            return $"this binary was built for firmware profile '{profile}' with an unknown int8 kernel '{kernel}'; rebuild it with make publish PROFILE={profile}.";
        }

        if (!isSupported(expected))
        {
            return $"this binary was built for firmware profile '{profile}', whose int8 kernel {expected} needs instructions this CPU lacks (it would run {Int8Gemm.Selected}). "
                + "Use the build for this board's profile (firmware-profiles/*.json), or a plain `dotnet` build, which adapts to any CPU.";
        }

        return null;
    }

    private static string? Metadata(Assembly assembly, string key) =>
        assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value;
}
