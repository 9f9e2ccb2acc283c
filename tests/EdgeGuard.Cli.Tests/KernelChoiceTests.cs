using System.Text.Json;

namespace EdgeGuard.Cli.Tests;

/// <summary>
/// The int8 kernel a process runs can be named for measurement (<c>EDGEGUARD_INT8_KERNEL</c>) and is reported by
/// <c>bench</c>; a name this CPU cannot run is ignored and said so, never a crash or a wrong kernel.
/// </summary>
public sealed class KernelChoiceTests(CliModelFixture model) : IClassFixture<CliModelFixture>
{
    [Theory]
    [InlineData("Scalar", "int8 GEMM Scalar,")]
    [InlineData("NoSuchKernel", "asked for int8 kernel 'NoSuchKernel'")]
    public void Bench_ReportsTheKernelTheEnvironmentNamed(string requested, string expected)
    {
        CliResult result = CliProcess.Run(
            ["bench", "--model", model.BundlePath, "--seq", "16", "--iters", "2", "--warmup", "0", "--json"],
            stdin: null,
            workingDirectory: null,
            environment: new Dictionary<string, string?> { ["EDGEGUARD_INT8_KERNEL"] = requested });
        Assert.True(result.ExitCode == 0, result.Stderr);
        using JsonDocument report = JsonDocument.Parse(result.Stdout.Trim().Split('\n')[^1]);
        Assert.Contains(expected, report.RootElement.GetProperty("edgeguard_kernels").GetString());
    }
}
