using System.Reflection;
using System.Runtime.CompilerServices;
using EdgeGuard.Kernels;

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

        return KernelSet.ProfileProblem(profile, kernel) is { } problem ? $"this binary's {problem}" : null;
    }

    private static string? Metadata(Assembly assembly, string key) =>
        assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value;
}
