using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace EdgeGuard.Compare;

/// <summary>Reads what the machine is and how busy it is, from <c>/proc</c> where there is one.</summary>
internal static class MachineProbe
{
    // The instruction-set extensions the int8 and float32 kernels choose between (x86-64 flags, arm64 features).
    private static readonly string[] KernelFeatures = ["avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "asimd", "asimddp"];

    public static MachineInfo Describe()
    {
        string cpu = RuntimeInformation.ProcessArchitecture.ToString();
        var features = new List<string>();
        if (File.Exists("/proc/cpuinfo"))
        {
            var lines = File.ReadLines("/proc/cpuinfo").ToList();
            cpu = Field(lines, "model name") ?? Field(lines, "Model") ?? cpu;
            var flags = (Field(lines, "flags") ?? Field(lines, "Features") ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            features.AddRange(KernelFeatures.Where(flags.Contains));
        }

        long memory = 0;
        if (File.Exists("/proc/meminfo") && Field([.. File.ReadLines("/proc/meminfo")], "MemTotal") is { } total)
        {
            memory = long.Parse(total.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture) * 1024;
        }

        return new MachineInfo(cpu, Environment.ProcessorCount, memory, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription, features);
    }

    /// <summary>1, 5 and 15-minute load averages; empty where the system does not say.</summary>
    public static IReadOnlyList<double> LoadAverage()
    {
        if (!File.Exists("/proc/loadavg"))
        {
            return [];
        }

        return [.. File.ReadAllText("/proc/loadavg").Split(' ').Take(3).Select(v => double.Parse(v, CultureInfo.InvariantCulture))];
    }

    /// <summary>The commit checked out in the current directory and whether the tree has changes; nulls outside git.</summary>
    public static (string? Commit, bool? Dirty) GitState()
    {
        string? commit = Git("rev-parse", "--short=12", "HEAD")?.Trim();
        if (string.IsNullOrEmpty(commit))
        {
            return (null, null);
        }

        string? status = Git("status", "--porcelain", "--untracked-files=no");
        return (commit, status is null ? null : status.Trim().Length > 0);
    }

    private static string? Field(List<string> lines, string name)
    {
        foreach (string line in lines)
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].Trim() == name)
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return null;
    }

    private static string? Git(params string[] args)
    {
        var start = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        try
        {
            using var process = Process.Start(start);
            if (process is null)
            {
                return null;
            }

            string output = process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // git is not installed: the run is still valid, it just cannot name its commit.
            return null;
        }
    }
}
