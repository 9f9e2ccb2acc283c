using System.Diagnostics;
using System.Reflection;

namespace EdgeGuard.Cli.Tests;

/// <summary>The result of one <c>edgeguard</c> run.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr);

/// <summary>Runs the built <c>edgeguard</c> command as a separate process, as users run it.</summary>
internal static class CliProcess
{
    private static readonly string CliDll = typeof(CliProcess).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "EdgeGuardCli").Value!;

    /// <summary>Full path of the built <c>edgeguard</c> assembly, for a test that starts the process itself.</summary>
    public static string CliDllPath => Path.GetFullPath(CliDll);

    public static CliResult Run(params string[] args) => Run(args, stdin: null, workingDirectory: null, environment: null);

    public static CliResult Run(string[] args, byte[]? stdin, string? workingDirectory, IReadOnlyDictionary<string, string?>? environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        start.ArgumentList.Add(Path.GetFullPath(CliDll));
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment.Remove("EDGEGUARD_MODEL");
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            process.StandardInput.BaseStream.Write(stdin);
        }

        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("edgeguard " + string.Join(' ', args) + " did not finish in 3 minutes.");
        }

        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }
}
